from typing import Any

import pytest

from likvid.rules.fees import (
    MAX_COLLECTION_FEE_ORE,
    MAX_PAYMENT_PLAN_FEE_ORE,
    MAX_REMINDER_FEE_ORE,
    collection_fee_ore,
    reminder_fee_ore,
)

REMINDER = {
    "claim_nature": "civil",
    "claim_kind": "childcare",
    "reminder_fee_agreed": True,
    "already_charged": 0,
}
COLLECTION = {"claim_nature": "civil", "case_already_charged": False, "total_capital_ore": 50000}


def test_caps() -> None:
    assert (MAX_REMINDER_FEE_ORE, MAX_COLLECTION_FEE_ORE, MAX_PAYMENT_PLAN_FEE_ORE) == (
        6000,
        18000,
        17000,
    )


@pytest.mark.parametrize(
    ("changes", "fee"),
    [
        ({}, 6000),
        ({"fee_ore": 5000}, 5000),
        ({"fee_ore": 0}, 0),
        ({"reminder_fee_agreed": False}, 0),  # 2 §: agreed when the debt arose
        ({"claim_kind": "water"}, 0),  # VA taxa is not an agreement
        ({"claim_nature": "public_law", "claim_kind": "elderly_care"}, 0),
        ({"claim_nature": "public_law", "allow_public_law": True}, 6000),
        ({"claim_kind": "water", "allow_public_law": True}, 0),
        ({"already_charged": 1}, 0),  # one per invoice
        ({"already_charged": 1, "max_per_invoice": 2}, 6000),
        ({"already_charged": 2, "max_per_invoice": 2}, 0),
        ({"max_per_invoice": 0}, 0),
        ({"claim_kind": "rent"}, 6000),
    ],
)
def test_reminder_fee(changes: dict[str, Any], fee: int) -> None:
    assert reminder_fee_ore(**{**REMINDER, **changes}) == fee


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"fee_ore": 6001}, "above the legal cap of 6000 öre"),
        ({"fee_ore": 6001, "reminder_fee_agreed": False}, "above the legal cap"),
        ({"fee_ore": -1}, "must not be negative"),
        ({"claim_nature": "private"}, "unknown claim nature"),
        ({"already_charged": -1}, "must not be negative"),
    ],
)
def test_reminder_fee_rejects(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        reminder_fee_ore(**{**REMINDER, **changes})


@pytest.mark.parametrize(
    ("changes", "fee"),
    [
        ({}, 18000),
        ({"fee_ore": 15000}, 15000),
        ({"case_already_charged": True}, 0),  # one per case (RH 2022:7)
        ({"total_capital_ore": 10000}, 0),  # not over 100 kr
        ({"total_capital_ore": 10001}, 18000),
        ({"total_capital_ore": 5000, "min_claim_ore": 0}, 18000),
        ({"total_capital_ore": 0, "min_claim_ore": 0}, 0),
        ({"claim_nature": "public_law"}, 0),  # open question 2: default off
        ({"claim_nature": "public_law", "allow_public_law": True}, 18000),
    ],
)
def test_collection_fee(changes: dict[str, Any], fee: int) -> None:
    assert collection_fee_ore(**{**COLLECTION, **changes}) == fee


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"fee_ore": 18001}, "above the legal cap of 18000 öre"),
        ({"fee_ore": 18001, "case_already_charged": True}, "above the legal cap"),
        ({"fee_ore": -1}, "must not be negative"),
        ({"claim_nature": ""}, "unknown claim nature"),
    ],
)
def test_collection_fee_rejects(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        collection_fee_ore(**{**COLLECTION, **changes})
