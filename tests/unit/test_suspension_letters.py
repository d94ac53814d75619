"""The suspension track's letters (SWEDISH-RULES.md §4): the prescribed consumer text, the
social services' message with its four prescribed fields, and no address for a protected
identity (§9). The customer letters are also covered by every-kind tests in test_render/test_pdf."""

from __future__ import annotations

import pytest

from likvid.service.pdf import render_pdf
from likvid.service.render import render_letter
from likvid.service.samples import sample_context


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("language", ["sv", "en"])
def test_social_services_message_has_the_prescribed_fields(language: str) -> None:
    context = sample_context("social_services_notice", language)
    text = flat(render_letter("social_services_notice", language, context).text)
    # (1) supplier name, postal address, phone; (2) consumer name and address; (3) amount and
    # day; (4) how to pay. Addressed to the social services.
    assert "Socialnämnden Kommunhusvägen 1 457 81 Tanumshede" in text
    assert "Tanums kommun, Samhällsbyggnadsförvaltningen, Kommunhusvägen 1, 457 81 Tanumshede" in text
    assert "0525-180 00" in text
    assert "Anna Andersson, Kvarngatan 3, 457 30 Tanumshede" in text
    assert {"sv": "1 739,81 kr", "en": "SEK 1,739.81"}[language] in text and "2026-11-29" in text
    assert "5050-1055" in text and "9000417268" in text
    assert render_pdf("social_services_notice", language, context).startswith(b"%PDF-")


def test_social_services_message_never_gives_a_protected_address() -> None:
    context = sample_context("social_services_notice", "sv")
    context["suspension"]["consumer"] = {"name": "Anna Andersson", "address_lines": [], "protected": True}
    text = flat(render_letter("social_services_notice", "sv", context).text)
    assert "Kvarngatan" not in text and "Skyddade personuppgifter" in text


def test_consumer_notice_has_the_prescribed_wording() -> None:
    text = flat(render_letter("suspension_notice", "sv", sample_context("suspension_notice", "sv")).text)
    assert ("Eftersom du inte har betalat avgiften för el i tid kan överföringen av el komma att stängas av. "
            "Enligt bestämmelser i ellagen (1997:857) kan du hindra avstängningen genom att betala skulden inom "
            "tre veckor från det att du har fått del av detta meddelande. Socialnämnden i din kommun kommer att "
            "få ett meddelande om den uteblivna betalningen.") in text


def test_water_warning_is_to_the_property_owner_and_says_how_water_is_provided() -> None:
    text = flat(render_letter("suspension_warning", "sv", sample_context("suspension_warning", "sv")).text)
    assert "Som fastighetsägare uppmanas du enligt 43 §" in text
    assert "Avgifter för avfallshantering räknas aldrig in" in text
    assert "alternativ vattenförsörjning: Tappställe för dricksvatten" in text
    assert "senast 2026-11-29" in text
