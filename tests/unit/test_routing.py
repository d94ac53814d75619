"""Routing after the collection demand, table-tested (SWEDISH-RULES.md §§3, 5; POLICY.md point 11)."""

from __future__ import annotations

from datetime import date

import pytest

from likvid.rules.routing import (
    APPLICATION_FEE_ORE,
    MAX_OWN_WORK_ORE,
    Route,
    application_costs,
    route,
)

TODAY = date(2026, 4, 1)
BASE = dict(status="open", claim_nature="civil", open_ore=100_000, collectible_ore=100_000, held=False,
            decision_final_on=None, today=TODAY, civil_target="kronofogden", min_amount_ore=0,
            small_claims="surveillance")

# (changes to BASE, expected action, expected target)
TABLE = [
    # claim nature and creditor configuration
    ({}, "handoff", "kronofogden"),
    ({"civil_target": "agency"}, "handoff", "agency"),
    ({"civil_target": "indrivning"}, "handoff", "kronofogden"),  # a civil claim is never an allmänt mål
    # public law: finality
    ({"claim_nature": "public_law"}, "wait", "indrivning"),  # final date unknown
    ({"claim_nature": "public_law", "decision_final_on": date(2026, 4, 2)}, "wait", "indrivning"),
    ({"claim_nature": "public_law", "decision_final_on": TODAY}, "wait", "indrivning"),  # final at the end of today
    ({"claim_nature": "public_law", "decision_final_on": date(2026, 3, 31)}, "handoff", "indrivning"),
    ({"claim_nature": "public_law", "decision_final_on": date(2026, 3, 31), "civil_target": "agency"}, "handoff", "indrivning"),
    # amount
    ({"open_ore": 0, "collectible_ore": 0}, "skip", None),
    ({"open_ore": 9_999, "collectible_ore": 9_999, "min_amount_ore": 10_000}, "surveillance", None),
    ({"open_ore": 9_999, "collectible_ore": 9_999, "min_amount_ore": 10_000, "small_claims": "write_off"}, "write_off", None),
    ({"open_ore": 10_000, "collectible_ore": 10_000, "min_amount_ore": 10_000}, "handoff", "kronofogden"),
    ({"claim_nature": "public_law", "open_ore": 5_000, "collectible_ore": 5_000, "min_amount_ore": 10_000}, "surveillance", None),
    # holds and objections
    ({"held": True, "collectible_ore": 0}, "skip", None),  # objection to all of it, deferral, plan
    ({"held": True, "collectible_ore": 40_000}, "skip", None),  # a partial objection: nothing is handed off
    ({"held": True}, "skip", None),  # any hold in force
    ({"held": True, "claim_nature": "public_law", "decision_final_on": date(2026, 1, 1)}, "skip", None),
    ({"held": True, "open_ore": 5_000, "collectible_ore": 0, "min_amount_ore": 10_000}, "skip", None),
    # claim status
    ({"status": "settled", "open_ore": 0, "collectible_ore": 0}, "skip", None),
    ({"status": "written_off"}, "skip", None),
    ({"status": "credited", "open_ore": 0, "collectible_ore": 0}, "skip", None),
]


@pytest.mark.parametrize(("changes", "action", "target"), TABLE)
def test_route_table(changes: dict, action: str, target: str | None) -> None:  # type: ignore[type-arg]
    result = route(**{**BASE, **changes})  # type: ignore[arg-type]
    assert isinstance(result, Route)
    assert (result.action, result.target) == (action, target), result.reason
    assert result.reason


def test_a_held_or_zero_claim_is_never_routed_to_a_receiver() -> None:
    for status in ("open", "settled"):
        for open_ore in (0, 1, 100_000):
            for collectible in {0, open_ore // 2, open_ore}:
                for held in (False, True):
                    r = route(**{**BASE, "status": status, "open_ore": open_ore, "collectible_ore": collectible,  # type: ignore[arg-type]
                                 "held": held})
                    if r.action == "handoff":
                        assert status == "open" and open_ore > 0 and collectible == open_ore and not held


def test_application_costs_only_in_a_payment_order_and_capped() -> None:
    assert application_costs("kronofogden", claim_application_fee=True, own_work_ore=38_000) == (APPLICATION_FEE_ORE, 38_000)
    assert application_costs("kronofogden", claim_application_fee=False, own_work_ore=0) == (0, 0)
    assert application_costs("agency", claim_application_fee=True, own_work_ore=38_000) == (0, 0)
    assert application_costs("indrivning", claim_application_fee=True, own_work_ore=38_000) == (0, 0)
    with pytest.raises(ValueError, match="380"):
        application_costs("kronofogden", claim_application_fee=True, own_work_ore=MAX_OWN_WORK_ORE + 1)


def test_policy_refuses_own_work_above_380_and_merges_per_creditor() -> None:
    from likvid.policy import PolicyError, default_policy_text, parse_policy

    text = default_policy_text()
    with pytest.raises(PolicyError, match=r"handoff\.own_work_compensation: must be at most 380 kr"):
        parse_policy(text.replace('own_work_compensation = "0.00"', 'own_work_compensation = "380.01"'))
    with pytest.raises(PolicyError, match=r"handoff\.small_claims"):
        parse_policy(text.replace('small_claims = "surveillance"', 'small_claims = "forget"'))
    policy = parse_policy(text + '\n[creditors.handoff]\nmin_amount = "150.00"\nsmall_claims = "write_off"\n')
    energi, kommun = policy.handoff_for("energi"), policy.handoff_for("kommun")
    assert (energi.min_amount_ore, energi.small_claims, energi.application_fee) == (15000, "write_off", True)
    assert (kommun.min_amount_ore, kommun.small_claims) == (0, "surveillance")
