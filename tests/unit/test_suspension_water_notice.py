"""Water tracks and the social services (SWEDISH-RULES.md §4.3, §4.5 [I]): the policy key, who
counts as a household, and the social_services_notice's water wording (LAV 43 §, a courtesy by
policy, not ellagen) in every language and format, with the prescribed fields kept."""

from __future__ import annotations

from typing import Any

import pytest

from likvid.policy import PolicyError, default_policy_text, parse_policy
from likvid.rules import suspension as r
from likvid.service.pdf import render_pdf
from likvid.service.render import render_letter
from likvid.service.samples import sample_context

KEY = "notify_social_services = true"


def flat(text: str) -> str:
    return " ".join(text.split())


def _water(language: str, protected: bool = False) -> dict[str, Any]:
    context = sample_context("social_services_notice", language)
    context["suspension"].update(utility="water", regime="water")
    if protected:
        context["suspension"]["consumer"] = {"name": "Anna Andersson", "address_lines": [], "protected": True}
    return context


def test_the_default_policy_notifies_and_marks_the_key_as_inference() -> None:
    text = default_policy_text()
    assert text.count(KEY) == 1
    comment = text[text.index(KEY) - 500:text.index(KEY)]  # the comment above the key
    assert "[I]" in comment and "§4.3" in comment
    assert parse_policy(text, "test").file.suspension.water.notify_social_services is True
    off = parse_policy(text.replace(KEY, "notify_social_services = false"), "test")
    assert off.file.suspension.water.notify_social_services is False


@pytest.mark.parametrize("value", ['"yes"', '"true"', "1", "0"])
def test_a_non_boolean_is_refused_naming_the_key(value: str) -> None:
    text = default_policy_text().replace(KEY, f"notify_social_services = {value}")
    with pytest.raises(PolicyError, match=r"suspension\.water\.notify_social_services: .*boolean"):
        parse_policy(text, "test")


@pytest.mark.parametrize(
    ("party", "consumer", "enabled", "notify"),
    [
        ("person", True, True, True),  # a household
        ("person", True, False, False),  # switched off
        ("person", False, True, False),  # a person who is not a consumer (enskild firma)
        ("organisation", False, True, False),  # a business
        ("organisation", True, True, False),  # never a household, whatever the flag says
        ("estate", False, True, False),
    ],
)
def test_only_a_household_gets_the_courtesy_notice(party: str, consumer: bool, enabled: bool, notify: bool) -> None:
    cfg = r.SuspensionSection(water=r.WaterSection(notify_social_services=enabled))
    assert r.water_courtesy_notice(party, consumer, cfg) is notify


def test_the_basis_names_lav_the_rules_section_and_that_it_is_no_duty() -> None:
    basis = r.BASIS["water"]["social"]
    assert "LAV (2006:412) 43 §" in basis and "SWEDISH-RULES.md §4.3 [I]" in basis
    assert "inte en rättslig plikt" in basis and "policy" in basis and len(basis) <= 300


def test_policy_show_says_whether_the_social_services_are_told() -> None:
    on = " ".join(r.describe(r.SuspensionSection()))
    off = " ".join(r.describe(r.SuspensionSection(water=r.WaterSection(notify_social_services=False))))
    assert "copied the same day to Socialnämnden as a courtesy" in on and "not told" not in on
    assert "the social services are not told" in off


@pytest.mark.parametrize(("language", "cites", "courtesy", "pay_by"), [
    ("sv", "enligt LAV 43 §", "som en upplysning enligt kommunens riktlinjer", "senast 2026-11-29"),
    ("en", "under LAV 43 §", "as a courtesy under the municipality's policy", "by 2026-11-29"),
])
def test_water_notice_cites_lav_as_a_courtesy_with_the_prescribed_fields(
        language: str, cites: str, courtesy: str, pay_by: str) -> None:
    context = _water(language)
    letter = render_letter("social_services_notice", language, context)
    for text in (flat(letter.text), flat(letter.html)):
        assert cites in text and courtesy in text
        assert "ellagen" not in text and "11 kap" not in text and "delgiv" not in text and "served" not in text
        # (1) supplier, (2) consumer name and address, (3) amount and the day, (4) how to pay.
        assert "Tanums kommun, Samhällsbyggnadsförvaltningen, Kommunhusvägen 1, 457 81 Tanumshede" in text
        assert "0525-180 00" in text and "Anna Andersson, Kvarngatan 3, 457 30 Tanumshede" in text
        assert {"sv": "1 739,81 kr", "en": "SEK 1,739.81"}[language] in text and pay_by in text
        assert "5050-1055" in text and "9000417268" in text
    assert "LAV 43 §" in letter.subject and "(LAV 43 §)" in flat(letter.text)
    assert {"sv": "kommunens riktlinjer", "en": "policy"}[language] in letter.subject
    assert render_pdf("social_services_notice", language, context).startswith(b"%PDF-")


@pytest.mark.parametrize("language", ["sv", "en"])
def test_water_notice_never_gives_a_protected_address(language: str) -> None:
    context = _water(language, protected=True)
    letter = render_letter("social_services_notice", language, context)
    for text in (flat(letter.text), flat(letter.html)):
        assert "Kvarngatan" not in text and "457 30" not in text and "Anna Andersson" in text
        assert {"sv": "Skyddade personuppgifter", "en": "Protected personal data"}[language] in text
    assert render_pdf("social_services_notice", language, context).startswith(b"%PDF-")


@pytest.mark.parametrize("language", ["sv", "en"])
def test_the_electricity_notice_is_unchanged(language: str) -> None:
    letter = render_letter("social_services_notice", language, sample_context("social_services_notice", language))
    text = flat(letter.text)
    assert {"sv": "Enligt ellagen (1997:857) meddelar vi", "en": "Under the Electricity Act"}[language] in text
    assert "LAV" not in text and "LAV" not in letter.subject
    assert {"sv": "inom tre veckor från den dag konsumenten delgavs meddelandet",
            "en": "within three weeks from the day the consumer was served the notice"}[language] in text
