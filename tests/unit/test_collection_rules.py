"""Pure decisions of the collection chain (likvid.rules.collection)."""

from __future__ import annotations

from datetime import date

import pytest

from likvid.rules.collection import (
    Balance,
    allocate,
    collectible,
    demand_due_on,
    handoff_due_on,
    reason_not_to_press,
    reminder_due_on,
    resumed_on,
)


@pytest.mark.parametrize(
    ("open_ore", "held", "expected"),
    [(10000, [], 10000), (10000, [None], 0), (10000, [3000], 7000), (10000, [3000, 8000], 0), (0, [], 0)],
)
def test_collectible_is_the_open_balance_less_holds(open_ore: int, held: list[int | None], expected: int) -> None:
    assert collectible(open_ore, held) == expected


@pytest.mark.parametrize(
    ("status", "open_ore", "coll", "reason"),
    [("open", 100, 100, None), ("settled", 0, 0, "the claim is settled"), ("open", 0, 0, "nothing is owed"),
     ("open", 100, 0, "the whole open amount is on hold"), ("credited", 100, 100, "the claim is credited")],
)
def test_reason_not_to_press(status: str, open_ore: int, coll: int, reason: str | None) -> None:
    assert reason_not_to_press(status, open_ore, coll) == reason


def test_step_dates() -> None:
    assert reminder_due_on(date(2026, 2, 2), 10) == date(2026, 2, 12)
    assert demand_due_on(date(2026, 2, 23), 3) == date(2026, 2, 26)
    assert handoff_due_on(date(2026, 3, 9), 0) == date(2026, 3, 10)  # never on the deadline itself
    assert resumed_on(date(2026, 3, 1), date(2026, 2, 1), 14) == date(2026, 3, 1)
    assert resumed_on(date(2026, 1, 1), date(2026, 2, 1), 14) == date(2026, 2, 15)


def test_allocation_pays_fees_then_interest_then_capital_then_the_next_claim() -> None:
    parts, surplus = allocate(30000, [("A", Balance(capital=20000, fee=6000, interest=1000)), ("B", Balance(capital=10000))])
    assert parts == [("A", "fee", 6000), ("A", "interest", 1000), ("A", "capital", 20000), ("B", "capital", 3000)]
    assert surplus == 0


def test_allocation_surplus_and_custom_order() -> None:
    parts, surplus = allocate(5000, [("A", Balance(capital=1000, fee=500))], order=("capital", "fee", "interest"))
    assert parts == [("A", "capital", 1000), ("A", "fee", 500)]
    assert surplus == 3500
    with pytest.raises(ValueError):
        allocate(-1, [])
