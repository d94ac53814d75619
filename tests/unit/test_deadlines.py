from datetime import date

import pytest

from likvid.rules.deadlines import check_days_to_pay, effective_due_date, payment_deadline


@pytest.mark.parametrize(
    ("due", "effective"),
    [
        (date(2026, 3, 10), date(2026, 3, 10)),
        (date(2026, 12, 26), date(2026, 12, 28)),
        (date(2026, 6, 19), date(2026, 6, 22)),
        (date(2026, 12, 31), date(2027, 1, 4)),
    ],
)
def test_effective_due_date(due: date, effective: date) -> None:
    assert effective_due_date(due) == effective


@pytest.mark.parametrize(
    ("sent_on", "days_to_pay", "kwargs", "deadline"),
    [
        # Mon 2 Mar: 8 days -> Tue 10 Mar; receipt Wed 4 Mar + 4 bank days -> Tue 10 Mar.
        (date(2026, 3, 2), 8, {}, date(2026, 3, 10)),
        (date(2026, 3, 2), 30, {}, date(2026, 4, 1)),
        # Too short a payment time is raised to the 8-day minimum.
        (date(2026, 3, 2), 5, {}, date(2026, 3, 10)),
        # Christmas: 8 days -> Tue 29 Dec, but receipt Wed 23 Dec + 4 bank days -> 4 Jan.
        (date(2026, 12, 21), 8, {}, date(2027, 1, 4)),
        # Sent Thursday: 8 days -> Fri 13 Mar; receipt Mon 9 Mar + 4 -> Fri 13 Mar.
        (date(2026, 3, 5), 8, {}, date(2026, 3, 13)),
        # Ascension Day: 8 days lands on Thu 14 May; bank-day floor gives Fri 15 May.
        (date(2026, 5, 6), 8, {}, date(2026, 5, 15)),
        # 10 days lands on Midsummer Eve: moved to Monday 22 June.
        (date(2026, 6, 9), 10, {}, date(2026, 6, 22)),
        # Reminder: no legal minimum, but the bank-day floor after receipt applies.
        (date(2026, 3, 2), 0, {"min_days": 0}, date(2026, 3, 10)),
        (date(2026, 3, 2), 14, {"min_days": 0}, date(2026, 3, 16)),
        # Everything off: just moved to a bank day.
        (
            date(2026, 3, 7),
            0,
            {"min_days": 0, "presumed_delivery_bank_days": 0, "min_bank_days_after_receipt": 0},
            date(2026, 3, 9),
        ),
        # Slower post (B-post) as a parameter.
        (date(2026, 3, 2), 8, {"presumed_delivery_bank_days": 4}, date(2026, 3, 12)),
    ],
)
def test_payment_deadline(
    sent_on: date, days_to_pay: int, kwargs: dict[str, int], deadline: date
) -> None:
    assert payment_deadline(sent_on, days_to_pay, **kwargs) == deadline


@pytest.mark.parametrize(
    "kwargs",
    [
        {"days_to_pay": -1},
        {"days_to_pay": 8, "min_days": -1},
        {"days_to_pay": 8, "presumed_delivery_bank_days": -1},
        {"days_to_pay": 8, "min_bank_days_after_receipt": -1},
    ],
)
def test_payment_deadline_rejects_negative(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        payment_deadline(date(2026, 3, 2), **kwargs)


@pytest.mark.parametrize(
    ("days_to_pay", "min_days", "reason"),
    [
        (8, 8, None),
        (30, 8, None),
        (7, 8, "must be at least 8 days (IMY guidance on inkassolagen 5 §)"),
        (0, 8, "must be at least 8 days (IMY guidance on inkassolagen 5 §)"),
        (9, 10, "must be at least 10 days (IMY guidance on inkassolagen 5 §)"),
    ],
)
def test_check_days_to_pay(days_to_pay: int, min_days: int, reason: str | None) -> None:
    assert check_days_to_pay(days_to_pay, min_days=min_days) == reason


def test_check_days_to_pay_default_minimum() -> None:
    assert check_days_to_pay(7) is not None
    assert check_days_to_pay(8) is None
