"""The policy file is validated at start-up; an error names the key and the rule it breaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from likvid.policy import PolicyError, default_policy_text, load_policy, parse_policy


def _with(old: str, new: str) -> str:
    text = default_policy_text()
    assert old in text
    return text.replace(old, new, 1)


def test_the_shipped_default_is_valid_and_resolves_every_creditor_and_kind() -> None:
    policy = load_policy(None)
    steps = policy.steps_for("kommun", "childcare")
    assert steps.demand_days_to_pay >= 8
    assert policy.steps_for("kommun", "permit_fee").handoff_target == "indrivning"
    assert policy.steps_for("energi", "water").reminder_after_days == 7  # creditor override
    assert steps.reminder_fee_ore == 6000 and steps.collection_fee_ore == 18000


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("demand_days_to_pay = 10", "demand_days_to_pay = 5", "defaults.steps.demand_days_to_pay: must be at least 8 days"),
        ('reminder_fee = "60.00"', 'reminder_fee = "75.00"', "defaults.fees.reminder_fee: must be at most 60 kr"),
        ('collection_fee = "180.00"', 'collection_fee = "200.00"', "defaults.fees.collection_fee: must be at most 180 kr"),
        ('handoff_target = "kronofogden"', 'handoff_target = "sheriff"', "defaults.steps.handoff_target"),
        ("reminder_after_days = 10", "reminder_after_days = 10\nreminder_after_dayz = 3", "reminder_after_dayz: is not a known key"),
        ('bankgiro = "5050-1055"', 'bankgiro = "5050-1056"', "creditors[0].bankgiro: is not a valid bankgiro number"),
        ('org_number = "212000-0415"', 'org_number = "212000-0416"', "creditors[0].org_number"),
        ('{ valid_from = "2023-01-01", rate = "2.50" }', '{ valid_from = "2023-01-01", rate = "two" }', "interest.reference_rates"),
    ],
)
def test_an_invalid_value_names_the_key_and_the_rule(old: str, new: str, expected: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(_with(old, new), "policy.toml")
    assert expected in str(err.value)
    assert str(err.value).startswith("policy.toml")


def test_a_file_that_is_not_toml_or_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        parse_policy("version = ", "bad.toml")
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(tmp_path / "missing.toml")
