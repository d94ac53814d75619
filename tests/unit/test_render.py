"""Letters rendered from the Jinja2 templates: every kind in both languages says why it is
sent, what happens next and how to object, with amounts correct to the öre (policy points 3
and 6, "make the policy clear"), and a collection demand meets inkassolagen 5 §. Deferrals and
payment plans (policy point 9) and review decisions (policy point 7, förvaltningslagen) say
what their point requires."""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

import jinja2
import pytest

from likvid.rules.money import format_kronor
from likvid.service.render import LETTER_KINDS, RenderedLetter, render_letter

LANGUAGES = ("sv", "en")

from likvid.service.samples import DEADLINE, NEXT_ON, SENT_ON  # noqa: E402,F401
from likvid.service.samples import sample_context as make_context  # noqa: E402


def render(kind: str, language: str, **changes: Any) -> RenderedLetter:
    context = make_context(kind, language)
    context.update(changes)
    return render_letter(kind, language, context)


def plain(html: str) -> str:
    """The visible text of an HTML letter, whitespace collapsed, entities of the fixture undone."""
    text = re.sub(r"<(style|title)>.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    text = text.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
    return " ".join(text.split())


def flat(text: str) -> str:
    return " ".join(text.split())


def outputs(letter: RenderedLetter) -> dict[str, str]:
    return {"text": flat(letter.text), "html": plain(letter.html)}


ALL = [(kind, language) for kind in LETTER_KINDS for language in LANGUAGES]

#: Phrases that say why the letter is sent, what happens next and how to object.
PHRASES = {
    "sv": {
        "why": "Varför får du det här brevet?",
        "next": "Vad händer sedan?",
        "object": "Om du inte håller med",
        "pay_by": "Betala senast",
        "words": ["Bankgiro", "OCR-nummer", "Kapitalbelopp", "Ränta", "Avgifter"],
    },
    "en": {
        "why": "Why are you receiving this letter?",
        "next": "What happens next?",
        "object": "If you disagree",
        "pay_by": "Pay by",
        "words": ["Bankgiro", "OCR reference", "Principal", "Interest", "Fees"],
    },
}

CREDITOR = "Tanums kommun, Samhällsbyggnadsförvaltningen"
INVOICES = "2026-104711, 2026-104802"
SUBJECTS = {
    ("reminder", "sv"): f"Påminnelse: fakturor {INVOICES} från {CREDITOR}",
    ("reminder", "en"): f"Reminder: invoices {INVOICES} from {CREDITOR}",
    ("collection_demand", "sv"): f"Inkassokrav: fakturor {INVOICES} från {CREDITOR}",
    ("collection_demand", "en"): f"Collection demand: invoices {INVOICES} from {CREDITOR}",
    ("handoff_notice", "sv"): f"Fakturor {INVOICES} från {CREDITOR} har lämnats över till "
    "Kronofogden",
    ("handoff_notice", "en"): f"Invoices {INVOICES} from {CREDITOR} handed over to Kronofogden",
    ("objection_acknowledgement", "sv"): "Vi har tagit emot din invändning (ärende INV-77) – "
    f"{CREDITOR}",
    ("objection_acknowledgement", "en"): "We have received your objection (case INV-77) – "
    f"{CREDITOR}",
    ("deferral_confirmation", "sv"): "Bekräftelse av anstånd till och med 2026-12-31: fakturor "
    f"{INVOICES} från {CREDITOR}",
    ("deferral_confirmation", "en"): "Confirmation of deferral until 2026-12-31: invoices "
    f"{INVOICES} from {CREDITOR}",
    ("payment_plan", "sv"): f"Amorteringsplan AP-2026-0147 att skriva under – {CREDITOR}",
    ("payment_plan", "en"): f"Payment plan AP-2026-0147 for your signature – {CREDITOR}",
    ("payment_plan_broken", "sv"): f"Amorteringsplan AP-2026-0112 gäller inte längre – {CREDITOR}",
    ("payment_plan_broken", "en"): f"Payment plan AP-2026-0112 no longer in force – {CREDITOR}",
    ("review_decision", "sv"): f"Beslut om din invändning (ärende INV-81) – {CREDITOR}",
    ("review_decision", "en"): f"Decision on your objection (case INV-81) – {CREDITOR}",
    ("suspension_warning", "sv"): f"Uppmaning att betala: fakturor {INVOICES} från {CREDITOR}, annars kan "
    "vattnet stängas av",
    ("suspension_warning", "en"): f"Request to pay: invoices {INVOICES} from {CREDITOR}, or the water supply "
    "may be cut off",
    ("suspension_notice", "sv"): f"Meddelande om avstängning av el: fakturor {INVOICES} från {CREDITOR}",
    ("suspension_notice", "en"): f"Notice of suspension of electricity: invoices {INVOICES} from {CREDITOR}",
    ("limitation_demand", "sv"): f"Krav på betalning: fakturor {INVOICES} från {CREDITOR}",
    ("limitation_demand", "en"): f"Demand for payment: invoices {INVOICES} from {CREDITOR}",
}

HEADINGS = {
    ("reminder", "sv"): "Påminnelse",
    ("reminder", "en"): "Reminder",
    ("collection_demand", "sv"): "Inkassokrav",
    ("collection_demand", "en"): "Collection demand",
    ("handoff_notice", "sv"): "har lämnats över till Kronofogden",
    ("handoff_notice", "en"): "been handed over to Kronofogden",
    ("objection_acknowledgement", "sv"): "Vi har tagit emot din invändning",
    ("objection_acknowledgement", "en"): "We have received your objection",
    ("deferral_confirmation", "sv"): "Bekräftelse av anstånd",
    ("deferral_confirmation", "en"): "Confirmation of deferral (anstånd)",
    ("payment_plan", "sv"): "Amorteringsplan att skriva under",
    ("payment_plan", "en"): "Payment plan for your signature",
    ("payment_plan_broken", "sv"): "Amorteringsplanen gäller inte längre",
    ("payment_plan_broken", "en"): "Your payment plan is no longer in force",
    ("review_decision", "sv"): "Beslut om din invändning",
    ("review_decision", "en"): "Decision on your objection",
    ("suspension_warning", "sv"): "Uppmaning att betala – annars kan vattnet stängas av",
    ("suspension_warning", "en"): "Request to pay – otherwise your water may be cut off",
    ("suspension_notice", "sv"): "Meddelande om avstängning av el",
    ("suspension_notice", "en"): "Notice of suspension of electricity",
    ("limitation_demand", "sv"): "Krav på betalning av obetald skuld",
    ("limitation_demand", "en"): "Demand for payment of an unpaid debt",
}

#: Kinds whose wording gives a date of their own instead of `letter.deadline`.
OWN_DEADLINE = {"deferral_confirmation": "deferral.until", "payment_plan": "plan.sign_by"}


# --- every kind in both languages --------------------------------------------------------


@pytest.mark.parametrize(("kind", "language"), ALL)
def test_letter_states_amounts_payment_and_creditor(kind: str, language: str) -> None:
    context = make_context(kind, language)
    letter = render_letter(kind, language, context)
    assert isinstance(letter, RenderedLetter)
    assert letter.subject == SUBJECTS[kind, language]

    kr = lambda ore: format_kronor(ore, language)  # noqa: E731
    for where, out in outputs(letter).items():
        assert context["creditor"]["name"] in out, where
        assert "212000-1322" in out, where
        assert "Kommunhusvägen 1" in out and "457 81 Tanumshede" in out, where
        assert "ekonomi@tanum.se" in out, where
        assert "Anna Andersson" in out and "Storgatan 12 B" in out, where
        assert "2026-11-15" in out, where  # sent_on
        assert HEADINGS[kind, language] in out, where
        for claim in context["claims"]:
            assert claim["invoice_number"] in out, where
            assert claim["due_date"].isoformat() in out, where
            assert claim["ocr_reference"] in out, where
            assert kr(claim["capital_ore"]) in out, where
            assert kr(claim["total_ore"]) in out, where
        totals = context["totals"]
        for key in ("capital_ore", "fee_ore", "interest_ore", "total_ore"):
            assert kr(totals[key]) in out, (where, key)
        assert kr(context["payment"]["amount_ore"]) in out, where
        assert "5050-1055" in out, where  # bankgiro
        assert context["payment"]["ocr"] in out, where  # "9000417268" but for one claim
        assert context["payment"]["deadline"].isoformat() in out, where  # DEADLINE, or its own
        phrases = PHRASES[language]
        for key in ("why", "next", "object", "pay_by"):
            assert phrases[key] in out, (where, key)
        for word in phrases["words"]:
            assert word in out, (where, word)
        # How to object: the configured text and contacts, as given.
        assert "Ring kundtjänst på 0525-180 00" in out, where
        assert "invandning@tanum.se" in out and "0525-181 00" in out, where


@pytest.mark.parametrize(("kind", "language"), ALL)
def test_html_is_a_self_contained_printable_page(kind: str, language: str) -> None:
    html = render(kind, language).html
    assert html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{language}">' in html
    assert "<style>" in html and "size: A4" in html
    assert '<meta charset="utf-8">' in html
    # No external resources.
    assert "<link" not in html and "<script" not in html and "src=" not in html
    assert "http://" not in html and "https://" not in html


@pytest.mark.parametrize(("kind", "language"), ALL)
def test_text_is_plain_and_wrapped(kind: str, language: str) -> None:
    text = render(kind, language).text
    assert "<" not in text and "&#" not in text
    assert text.endswith("\n") and "\n\n\n" not in text
    # Paragraphs are wrapped; only fixed rows (names, the configured objection text) may be long.
    assert max(len(line) for line in text.splitlines()) <= 80


# --- formatting filters -------------------------------------------------------------------


def test_amounts_dates_and_rates_are_formatted_per_language() -> None:
    sv = render("collection_demand", "sv")
    en = render("collection_demand", "en")
    assert "1 723,50 kr" in sv.text and "1 723,50 kr" in plain(sv.html)
    assert "SEK 1,723.50" in en.text and "SEK 1,723.50" in plain(en.html)
    assert "10,50 %" in sv.text and "10.50 %" in en.text
    assert "2026-11-29" in sv.text and "2026-11-29" in en.text
    # An amount is never split over two lines in the wrapped text.
    assert "1 234,50 kr" in sv.text


def test_amount_must_be_int_ore() -> None:
    context = make_context("reminder")
    context["payment"]["amount_ore"] = 1723.5
    with pytest.raises(TypeError):
        render_letter("reminder", "sv", context)


def test_datum_refuses_a_datetime() -> None:
    context = make_context("reminder")
    context["letter"]["sent_on"] = dt.datetime(2026, 11, 15, 23, 30)
    with pytest.raises(TypeError):
        render_letter("reminder", "sv", context)


# --- what each letter must say ------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_reminder_is_friendly_with_fee_basis_and_already_paid(language: str) -> None:
    letter = render("reminder", language)
    expected = {
        "sv": [
            "påminnelseavgift på 60,00 kr med stöd av lag (1981:739) om ersättning för "
            "inkassokostnader 4 §",
            "Har du redan betalat? Då kan du bortse från den här påminnelsen.",
            "skickar vi ett inkassokrav tidigast den 2026-12-07",
        ],
        "en": [
            "reminder fee of SEK 60.00 under lag (1981:739) om ersättning för inkassokostnader 4 §",
            "Have you already paid? Then please disregard this reminder.",
            "we will send you a collection demand (inkassokrav), on or after 2026-12-07",
        ],
    }[language]
    for out in outputs(letter).values():
        for phrase in expected:
            assert phrase in out


def test_reminder_level_is_shown() -> None:
    context = make_context("reminder")
    context["letter"]["level"] = 2
    letter = render_letter("reminder", "sv", context)
    assert letter.subject.startswith("Påminnelse 2:")
    assert "Det här är påminnelse nummer 2." in flat(letter.text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_collection_demand_states_capital_interest_and_costs_separately(language: str) -> None:
    letter = render("collection_demand", language)
    text = letter.text
    html = letter.html
    kr = lambda ore: format_kronor(ore, language)  # noqa: E731
    labels = {
        "sv": ("Kapitalbelopp, ränta och avgifter", "Kapitalbelopp", "Ränta", "Avgifter"),
        "en": ("Principal, interest and fees", "Principal", "Interest", "Fees"),
    }[language]
    heading, capital, interest, fees = labels
    # Plain text: one row each in the specification, with its own amount.
    spec = text.split(heading, 1)[1]
    assert re.search(rf"^\s+{capital}\s+{re.escape(kr(172350))}$", spec, re.M)
    assert re.search(rf"^\s+{interest}\s+{re.escape(kr(1631))}$", spec, re.M)
    assert re.search(rf"^\s+{fees}\s+{re.escape(kr(18000))}$", spec, re.M)
    # HTML: the same three rows.
    for label, ore in ((capital, 172350), (interest, 1631), (fees, 18000)):
        assert re.search(rf">{label}</th>.*?{re.escape(kr(ore))}", html, re.S)
    for out in (flat(text), plain(html)):
        # Interest: amount, rate, period and the capital it is calculated on, and the law.
        assert kr(123450) in out  # base
        assert {"sv": "10,50 %", "en": "10.50 %"}[language] in out
        assert "2026-10-01" in out and "2026-11-15" in out
        assert "46" in out
        assert "räntelagen (1975:635) 6 §" in out
        # The collection fee with its basis.
        assert "lag (1981:739) om ersättning för inkassokostnader 4 §" in out
        assert kr(18000) in out
    sv_or_en = {
        "sv": [
            "inkassolagen (1974:182)",
            "ska du i stället höra av dig till oss senast 2026-11-29",
            "ansöker vi om betalningsföreläggande hos Kronofogden tidigast den 2026-12-07",
            "stoppar vi indrivningen av det belopp du invänder mot tills vi har prövat "
            "invändningen",
        ],
        "en": [
            "inkassolagen 1974:182",
            "contact us instead by 2026-11-29",
            "we will apply for an order to pay (betalningsföreläggande) at the Swedish "
            "Enforcement Authority (Kronofogden), on or after 2026-12-07",
            "we stop collecting the amount you dispute until we have examined the objection",
        ],
    }[language]
    for out in outputs(letter).values():
        for phrase in sv_or_en:
            assert phrase in out
    # Plain text states each interest line as a sentence; HTML as a table row.
    sentence = {
        "sv": "Dröjsmålsränta på 1 234,50 kr med 10,50 % per år för perioden "
        "2026-10-01–2026-11-15 (46 dagar): 16,31 kr.",
        "en": "Late-payment interest on SEK 1,234.50 at 10.50 % a year for the period "
        "2026-10-01–2026-11-15 (46 days): SEK 16.31.",
    }[language]
    assert sentence in flat(text)
    row = re.search(r"<tr>\s*<td[^>]*>2026-10-01 – 2026-11-15</td>(.*?)</tr>", html, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    assert cells == ["46", kr(123450), {"sv": "10,50 %", "en": "10.50 %"}[language], kr(1631)]


@pytest.mark.parametrize(
    ("step", "sv_phrase", "en_phrase"),
    [
        ("kronofogden", "betalningsföreläggande hos Kronofogden", "order to pay"),
        ("agency", "överlämnas fordringarna till inkassoföretag", "debt collection agency"),
        ("indrivning", "begär vi indrivning hos Kronofogden", "enforced collection (indrivning)"),
    ],
)
def test_collection_demand_names_the_measure_that_follows(
    step: str, sv_phrase: str, en_phrase: str
) -> None:
    for language, phrase in (("sv", sv_phrase), ("en", en_phrase)):
        letter = render(
            "collection_demand", language, next_step={"kind": step, "on_or_after": NEXT_ON}
        )
        for out in outputs(letter).values():
            assert phrase in out
            assert "2026-12-07" in out


def test_next_step_without_a_date_reads_cleanly() -> None:
    letter = render("collection_demand", "sv", next_step={"kind": "agency", "on_or_after": None})
    assert "överlämnas fordringarna till inkassoföretag." in flat(letter.text)
    assert "tidigast" not in letter.text


def test_unknown_next_step_fails_loudly() -> None:
    with pytest.raises(ValueError, match="next_step.kind"):
        render("reminder", "sv", next_step={"kind": "court", "on_or_after": None})


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("target", ["kronofogden", "agency", "indrivning"])
def test_handoff_notice_says_who_what_to_expect_and_where_to_pay(
    language: str, target: str
) -> None:
    name = {
        "kronofogden": "Kronofogden",
        "agency": "Sergel Inkasso AB",
        "indrivning": "Kronofogden",
    }
    letter = render(
        "handoff_notice", language, handoff={"target": target, "target_name": name[target]}
    )
    expected = {
        "sv": [
            f"Därför lämnade vi den 2026-11-15 över dem till {name[target]}",
            "Du kan fortfarande betala till oss, till samma bankgiro och med samma OCR-nummer "
            "som tidigare: bankgiro 5050-1055, OCR-nummer 9000417268",
            "kontakta oss",
        ],
        "en": [
            f"On 2026-11-15 we therefore handed them over to {name[target]}",
            "You can still pay us, to the same bankgiro and with the same OCR reference as "
            "before: bankgiro 5050-1055, OCR reference 9000417268",
            "contact us",
        ],
    }[language]
    expect_next = {
        ("sv", "kronofogden"): "Du får ansökan från Kronofogden",
        ("sv", "agency"): "Indrivningen av skulden sköts nu för vår räkning av Sergel Inkasso AB",
        ("sv", "indrivning"): "Du får ett brev från Kronofogden",
        ("en", "kronofogden"): "will send you the application",
        ("en", "agency"): "now handled on our behalf by Sergel Inkasso AB",
        ("en", "indrivning"): "You will receive a letter from the Swedish Enforcement Authority",
    }[language, target]
    for out in outputs(letter).values():
        for phrase in expected:
            assert phrase in out
        assert expect_next in out
    assert name[target] in letter.subject


@pytest.mark.parametrize("language", LANGUAGES)
def test_objection_acknowledgement_states_hold_grounds_review_and_undisputed_part(
    language: str,
) -> None:
    letter = render("objection_acknowledgement", language)
    kr = lambda ore: format_kronor(ore, language)  # noqa: E731
    expected = {
        "sv": [
            "Vi har tagit emot din invändning den 2026-11-10 (ärende INV-77)",
            "”Tömningen av sopkärlet gjordes aldrig i september.”",
            f"Det belopp som du invänder mot, {kr(48900)}, är vilande medan vi prövar",
            "Vi kräver inte in det beloppet",
            "Faktura 2026-104711, daterad 2026-08-31, avser Vatten och avlopp, kvartal 3: "
            f"kapitalbelopp {kr(123450)}, förfallodag 2026-09-30.",
            f"Faktura 2026-104802, daterad 2026-09-05: kapitalbelopp {kr(48900)}, "
            "förfallodag 2026-10-05.",
            "ger dig ett skriftligt besked senast 2026-11-24",
            f"Den del av kravet som du inte invänder mot, {kr(125081)}, ska du fortfarande "
            "betala senast 2026-11-29",
            "Det beloppet kräver vi inte in medan invändningen prövas",
        ],
        "en": [
            "We received your objection on 2026-11-10 (case INV-77)",
            "“Tömningen av sopkärlet gjordes aldrig i september.”",
            f"The amount you dispute, {kr(48900)}, is on hold while we examine",
            "We do not collect that amount",
            "Invoice 2026-104711, dated 2026-08-31, for Vatten och avlopp, kvartal 3: "
            f"principal {kr(123450)}, due date 2026-09-30.",
            "give you a written answer by 2026-11-24",
            f"The part of the claim that you do not dispute, {kr(125081)}, must still be "
            "paid by 2026-11-29",
            "We do not collect that amount while the objection is being examined",
        ],
    }[language]
    for out in outputs(letter).values():
        for phrase in expected:
            assert phrase in out
        assert "omprövning" not in out  # a civil claim
        assert kr(48900) in out  # the held amount in the totals


@pytest.mark.parametrize("language", LANGUAGES)
def test_objection_acknowledgement_for_public_law_is_an_ompröving(language: str) -> None:
    context = make_context("objection_acknowledgement", language)
    context["ack"]["public_law"] = True
    letter = render_letter("objection_acknowledgement", language, context)
    phrase = {
        "sv": "behandlar vi din invändning som en begäran om omprövning enligt förvaltningslagen "
        "(2017:900)",
        "en": "request for reconsideration (omprövning) under the Swedish Administrative "
        "Procedure Act (förvaltningslagen 2017:900)",
    }[language]
    for out in outputs(letter).values():
        assert phrase in out


@pytest.mark.parametrize("language", LANGUAGES)
def test_objection_acknowledgement_without_reference_or_reason(language: str) -> None:
    context = make_context("objection_acknowledgement", language)
    context["ack"]["objection_id"] = None
    context["ack"]["reason"] = ""
    letter = render_letter("objection_acknowledgement", language, context)
    for out in (letter.subject, letter.text, letter.html):
        assert "None" not in out
        assert "””" not in out and "“”" not in out
    assert {"sv": "den 2026-11-10.", "en": "on 2026-11-10."}[language] in flat(letter.text)


def test_fully_disputed_claim_has_nothing_to_pay() -> None:
    context = make_context("objection_acknowledgement")
    context["payment"]["amount_ore"] = 0
    letter = render_letter("objection_acknowledgement", "sv", context)
    assert "Just nu finns det inget belopp som du behöver betala." in flat(letter.text)
    assert "Betala senast" not in letter.text


def test_deferral_next_step_may_be_a_reminder_or_none() -> None:
    context = make_context("deferral_confirmation")
    context["next_step"] = {"kind": "reminder", "on_or_after": dt.date(2027, 1, 14)}
    letter = render_letter("deferral_confirmation", "sv", context)
    assert "skickar vi en påminnelse tidigast den 2027-01-14" in flat(letter.text)
    context["next_step"] = {"kind": "none", "on_or_after": None}
    text = flat(render_letter("deferral_confirmation", "sv", context).text)
    assert "Om vi inte har fått betalt senast då fortsätter indrivningen där den avbröts" in text
    assert "tidigast" not in text


@pytest.mark.parametrize("kind", LETTER_KINDS)
def test_held_amount_is_said_not_to_be_claimed(kind: str) -> None:
    context = make_context(kind)
    context["totals"]["held_ore"] = 20000
    context["claims"][0]["held_ore"] = 20000
    letter = render_letter(kind, "sv", context)
    for out in outputs(letter).values():
        assert "200,00 kr av beloppet gäller en invändning som vi utreder" in out
        assert "ingår inte i beloppet att betala" in out


def test_no_held_note_when_nothing_is_held() -> None:
    letter = render("collection_demand", "sv")
    assert "gäller en invändning som vi utreder" not in letter.text
    assert "Vilande" not in letter.text


def test_public_law_claim_mentions_omprovning_in_how_to_object() -> None:
    context = make_context("collection_demand")
    context["claims"][1]["claim_nature"] = "public_law"
    letter = render_letter("collection_demand", "sv", context)
    assert "begäran om omprövning enligt förvaltningslagen (2017:900)" in flat(letter.text)


def test_letter_without_interest_or_fees_says_so() -> None:
    context = make_context("collection_demand")
    context["interest"] = {"lines": [], "total_ore": 0, "reference": "räntelagen (1975:635) 6 §"}
    context["fees"] = []
    letter = render_letter("collection_demand", "sv", context)
    for out in outputs(letter).values():
        assert "Ingen ränta tas ut med det här brevet." in out
        assert "Inga avgifter tas ut med det här brevet." in out


# --- protected identity, escaping, strictness ----------------------------------------------


@pytest.mark.parametrize(("kind", "language"), ALL)
def test_protected_recipient_gets_only_the_given_lines(kind: str, language: str) -> None:
    context = make_context(kind, language)
    forwarding = ["Skatteverket", "Box 2820", "403 20 Göteborg"]
    context["recipient"] = {
        "name": "Anna Andersson",
        "address_lines": forwarding,
        "protected": True,
    }
    # The person's own street is nowhere in the context, so it cannot reach the letter.
    assert "Storgatan 12 B" not in repr(context)
    letter = render_letter(kind, language, context)
    for out in (letter.text, letter.html):
        assert "Storgatan" not in out
        assert "457 31" not in out
    for where, out in outputs(letter).items():
        assert "Anna Andersson Skatteverket Box 2820 403 20 Göteborg" in out, where
    # The lines are printed as given, one per line.
    assert "Anna Andersson\nSkatteverket\nBox 2820\n403 20 Göteborg\n" in letter.text


@pytest.mark.parametrize(("kind", "language"), ALL)
def test_html_escapes_context_values(kind: str, language: str) -> None:
    context = make_context(kind, language)
    context["claims"][0]["description"] = '<script>alert("x")</script>'
    context["recipient"]["name"] = "Bo & Co <AB>"
    context["objection"]["how"] = "Skriv till <b>oss</b>"
    letter = render_letter(kind, language, context)
    assert "<script" not in letter.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in letter.html
    assert "Bo &amp; Co &lt;AB&gt;" in letter.html
    assert "<b>oss</b>" not in letter.html and "&lt;b&gt;oss&lt;/b&gt;" in letter.html
    # Plain text prints the value as it is.
    assert "Bo & Co <AB>" in letter.text
    assert "&lt;" not in letter.text


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        (kind, path)
        for kind in LETTER_KINDS
        for path in [
            ("creditor", "org_number"),
            ("payment", "ocr"),
            ("objection", "how"),
            ("letter", "deadline"),
            ("totals", "held_ore"),
        ]
        # These kinds state their own date (OWN_DEADLINE) instead of letter.deadline.
        if not (path == ("letter", "deadline") and kind in OWN_DEADLINE)
    ],
)
def test_missing_context_key_raises(kind: str, path: tuple[str, str]) -> None:
    context = make_context(kind)
    del context[path[0]][path[1]]
    with pytest.raises(jinja2.UndefinedError):
        render_letter(kind, "sv", context)


@pytest.mark.parametrize("field", ["ocr_reference", "capital_ore", "description"])
@pytest.mark.parametrize("kind", LETTER_KINDS)
def test_missing_claim_field_raises(kind: str, field: str) -> None:
    context = make_context(kind)
    del context["claims"][0][field]
    with pytest.raises(jinja2.UndefinedError):
        render_letter(kind, "en", context)


@pytest.mark.parametrize("path", [("interest", "reference"), ("interest", "lines")])
def test_collection_demand_without_interest_data_raises(path: tuple[str, str]) -> None:
    context = make_context("collection_demand")
    del context[path[0]][path[1]]
    with pytest.raises(jinja2.UndefinedError):
        render_letter("collection_demand", "sv", context)


def test_unknown_fee_kind_fails_loudly() -> None:
    context = make_context("collection_demand")
    context["fees"][0]["kind"] = "mystery_fee"
    with pytest.raises(jinja2.UndefinedError):
        render_letter("collection_demand", "sv", context)


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("handoff_notice", "handoff"),
        ("objection_acknowledgement", "ack"),
        ("deferral_confirmation", "deferral"),
        ("payment_plan", "plan"),
        ("payment_plan_broken", "plan"),
        ("review_decision", "review"),
    ],
)
@pytest.mark.parametrize("language", LANGUAGES)
def test_missing_kind_specific_section_raises(kind: str, key: str, language: str) -> None:
    context = make_context(kind, language)
    del context[key]
    with pytest.raises(jinja2.UndefinedError):
        render_letter(kind, language, context)


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("deferral_confirmation", ("deferral", "until")),
        ("deferral_confirmation", ("deferral", "reason")),
        ("deferral_confirmation", ("deferral", "granted_by")),
        ("payment_plan", ("plan", "installments")),
        ("payment_plan", ("plan", "total_ore")),
        ("payment_plan", ("plan", "sign_by")),
        ("payment_plan", ("plan", "return_how")),
        ("payment_plan", ("plan", "grace_days")),
        ("payment_plan_broken", ("plan", "missed")),
        ("payment_plan_broken", ("plan", "paid_ore")),
        ("payment_plan_broken", ("plan", "remaining_ore")),
        ("review_decision", ("review", "outcome")),
        ("review_decision", ("review", "reasons")),
        ("review_decision", ("review", "decided_by")),
        ("review_decision", ("review", "public_law")),
        ("review_decision", ("review", "decided_on")),
        ("review_decision", ("review", "credited_amount_ore")),
    ],
)
def test_missing_key_of_a_new_kind_raises(kind: str, path: tuple[str, str]) -> None:
    context = make_context(kind)
    del context[path[0]][path[1]]
    with pytest.raises(jinja2.UndefinedError):
        render_letter(kind, "sv", context)


def test_missing_top_level_key_raises() -> None:
    context = make_context("reminder")
    del context["totals"]
    with pytest.raises(jinja2.UndefinedError):
        render_letter("reminder", "sv", context)


def test_unknown_kind_and_language_raise_value_error() -> None:
    context = make_context("reminder")
    with pytest.raises(ValueError, match="'dunning'"):
        render_letter("dunning", "sv", context)
    with pytest.raises(ValueError, match="'de'"):
        render_letter("reminder", "de", context)


def test_render_does_not_change_the_context() -> None:
    context = make_context("collection_demand")
    before = copy.deepcopy(context)
    render_letter("collection_demand", "sv", context)
    assert context == before


def test_language_argument_decides_the_wording() -> None:
    context = make_context("reminder", "sv")
    letter = render_letter("reminder", "en", context)
    assert letter.subject.startswith("Reminder")
    assert "SEK " in letter.text


# --- deferral, payment plan, broken plan, review decision --------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_deferral_confirmation_states_until_reason_hold_and_what_follows(language: str) -> None:
    letter = render("deferral_confirmation", language)
    kr = lambda ore: format_kronor(ore, language)  # noqa: E731
    expected = {
        "sv": [
            "Vi har beviljat dig anstånd med betalningen av fakturorna nedan till och med "
            "2026-12-31. Anståndet är antecknat i vår kundreskontra med referens ANS-2026-031.",
            "Skäl för anståndet: Sjukskriven, väntar på utbetalning av sjukpenning från "
            "Försäkringskassan.",
            "Anståndet har beviljats av Maria Lind, kravhandläggare.",
            "Vad anståndet innebär",
            "Till och med 2026-12-31 skickar vi inga påminnelser eller inkassokrav för "
            "fakturorna, tar inte ut några avgifter och lämnar inte över dem till någon annan "
            "för indrivning.",
            "Fakturor som anståndet gäller",
            f"Betala {kr(173981)} senast 2026-12-31 till bankgiro 5050-1055 med OCR-nummer "
            "9000417268.",
            "Om vi inte har fått betalt senast då, skickar vi ett inkassokrav tidigast den "
            "2027-01-14. Indrivningen fortsätter då där den avbröts, och du får en ny sista dag "
            "att betala.",
            "Kan du inte betala senast 2026-12-31, kontakta oss före den dagen.",
        ],
        "en": [
            "We have granted you a deferral (anstånd) of payment of the invoices below until "
            "2026-12-31 inclusive. The deferral is recorded in our customer ledger under "
            "reference ANS-2026-031.",
            "Reason for the deferral: Sjukskriven, väntar på utbetalning av sjukpenning från "
            "Försäkringskassan.",
            "The deferral was granted by Maria Lind, kravhandläggare.",
            "What the deferral means",
            "Until 2026-12-31 inclusive, we will send no reminders or collection demands for the "
            "invoices, charge no fees and not hand them over to anyone else for collection.",
            "Invoices covered by the deferral",
            f"Please pay {kr(173981)} by 2026-12-31 to bankgiro 5050-1055 with OCR reference "
            "9000417268.",
            "If we have not received payment by then, we will send you a collection demand "
            "(inkassokrav), on or after 2027-01-14. Collection then resumes where it stopped, "
            "and you will be given a new deadline to pay.",
            "If you cannot pay by 2026-12-31, contact us before that date.",
        ],
    }[language]
    for out in outputs(letter).values():
        for phrase in expected:
            assert phrase in out


def test_deferral_payment_deadline_must_be_the_deferral_end() -> None:
    context = make_context("deferral_confirmation")
    context["payment"]["deadline"] = DEADLINE
    with pytest.raises(ValueError, match="deferral.until"):
        render_letter("deferral_confirmation", "sv", context)


INSTALLMENTS = [
    ("2026-12-30", 47745),
    ("2027-01-29", 47745),
    ("2027-02-26", 47745),
    ("2027-03-31", 47746),
]
SIGNATURE_LABELS = {
    "sv": ("Ort och datum", "Namnteckning", "Namnförtydligande", "Personnummer"),
    "en": ("Place and date", "Signature", "Name in block letters", "Personal identity number"),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_payment_plan_has_installments_terms_fee_and_signature_block(language: str) -> None:
    letter = render("payment_plan", language)
    text, html = letter.text, letter.html
    kr = lambda ore: format_kronor(ore, language)  # noqa: E731
    # The installment table: number, due date, amount; and the plan's total.
    for number, (due, amount) in enumerate(INSTALLMENTS, start=1):
        assert re.search(rf"^\s+{number}\.\s+{due}\s+{re.escape(kr(amount))}$", text, re.M)
        assert (
            f'<tr><td>{number}</td><td class="nowrap">{due}</td>'
            f'<td class="num">{kr(amount)}</td></tr>'
        ) in html
    total = {"sv": "Summa", "en": "Total"}[language]
    assert re.search(rf"^\s+{total}\s+{re.escape(kr(190981))}$", text, re.M)
    expected = {
        "sv": [
            f"Planen omfattar sammanlagt {kr(190981)}, som du betalar i 4 delbetalningar.",
            "Fakturor som ingår i planen",
            "Planen gäller först när vi har fått tillbaka den underskrivna planen.",
            "skicka tillbaka den till oss senast 2026-11-29.",
            "Skicka den underskrivna planen i det bifogade svarskuvertet till Tanums kommun",
            "Tills vi har fått den underskrivna planen fortsätter indrivningen som vanligt.",
            "Om en delbetalning inte är betald inom 10 dagar efter förfallodagen upphör planen "
            "att gälla. Då återupptar vi indrivningen av hela den skuld som återstår",
            "Eftersom planen är skriftlig, omfattar hela skulden och har gjorts upp i samråd med "
            f"dig tar vi ut en avgift för amorteringsplan på {kr(17000)} med stöd av lag "
            "(1981:739) om ersättning för inkassokostnader 3 § och 4 §.",
            f"Den första delbetalningen, {kr(47745)}, ska vara betald senast 2026-12-30.",
            "Om vi inte har fått planen underskriven senast 2026-11-29, ansöker vi om "
            "betalningsföreläggande hos Kronofogden tidigast den 2026-12-07.",
            "innan du skriver under och senast 2026-11-29",
            "Jag har tagit del av amorteringsplanen AP-2026-0147 och godkänner den. Jag "
            f"förbinder mig att betala {kr(190981)} i delbetalningar",
        ],
        "en": [
            f"The plan covers a total of {kr(190981)}, which you pay in 4 installments.",
            "Invoices covered by the plan",
            "The plan takes effect only when we have received the signed plan back.",
            "send it back to us by 2026-11-29.",
            "Skicka den underskrivna planen i det bifogade svarskuvertet till Tanums kommun",
            "Until we have received the signed plan, collection continues as usual.",
            "If an installment has not been paid within 10 days of its due date, the plan ends. "
            "We will then resume collection of the whole remaining debt",
            "Because the plan is in writing, covers the whole debt and was drawn up together "
            f"with you, we charge a payment plan fee of {kr(17000)} under lag (1981:739) om "
            "ersättning för inkassokostnader 3 § och 4 §.",
            f"The first installment, {kr(47745)}, must be paid by 2026-12-30.",
            "If we have not received the signed plan by 2026-11-29, we will apply for an order "
            "to pay (betalningsföreläggande)",
            "before you sign and no later than 2026-11-29",
            "I have read the payment plan AP-2026-0147 and accept it. I undertake to pay "
            f"{kr(190981)} in installments",
        ],
    }[language]
    for out in outputs(letter).values():
        for phrase in expected:
            assert phrase in out
    # The signature block: a line to fill in for each, after everything else in the letter.
    heading = {"sv": "Underskrift", "en": "Your signature"}[language]
    objection = {"sv": "Om du inte håller med", "en": "If you disagree"}[language]
    block = text.split(f"\n{heading}\n", 1)[1]
    assert text.index(f"\n{objection}\n") < text.index(f"\n{heading}\n")
    for label in SIGNATURE_LABELS[language]:
        assert re.search(rf"^\s+{label}:\s+_{{30,}}$", block, re.M), label
        assert re.search(rf">{label}</th><td style=\"border-bottom: 1px solid", html), label


@pytest.mark.parametrize(
    "fees",
    [
        [],
        [
            {
                "kind": "collection_fee",
                "amount_ore": 18000,
                "basis": "lag (1981:739) om ersättning för inkassokostnader 4 §",
            }
        ],
    ],
)
def test_payment_plan_fee_line_only_for_a_payment_plan_fee(fees: list[dict[str, Any]]) -> None:
    for language in LANGUAGES:
        letter = render("payment_plan", language, fees=fees)
        for out in outputs(letter).values():
            assert "amorteringsplan på" not in out and "payment plan fee" not in out
            assert "samråd" not in out and "drawn up together" not in out
            assert "180,00 kr" not in out and "SEK 180.00" not in out


def test_payment_plan_without_grace_days_ends_on_the_due_date() -> None:
    context = make_context("payment_plan")
    context["plan"]["grace_days"] = 0
    text = flat(render_letter("payment_plan", "sv", context).text)
    assert "Om en delbetalning inte är betald senast på förfallodagen upphör planen" in text
    text = flat(render_letter("payment_plan", "en", context).text)
    assert "If an installment has not been paid by its due date, the plan ends." in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda plan, payment: plan["installments"][0].update(amount_ore=1), "add up"),
        (lambda plan, payment: plan["installments"].clear(), "empty"),
    ],
)
def test_payment_plan_that_does_not_add_up_fails_loudly(change: Any, message: str) -> None:
    context = make_context("payment_plan")
    change(context["plan"], context["payment"])
    with pytest.raises(ValueError, match=message):
        render_letter("payment_plan", "sv", context)


@pytest.mark.parametrize("language", LANGUAGES)
def test_payment_plan_broken_states_missed_paid_remaining_and_resumption(language: str) -> None:
    letter = render("payment_plan_broken", language)
    kr = lambda ore: format_kronor(ore, language)  # noqa: E731
    rows = {
        "sv": [
            ("Obetald delbetalning, förfallodag 2026-10-30", 47745),
            ("Betalt enligt planen", 95490),
            ("Återstående skuld", 95491),
        ],
        "en": [
            ("Unpaid installment, due date 2026-10-30", 47745),
            ("Paid under the plan", 95490),
            ("Remaining debt", 95491),
        ],
    }[language]
    for label, ore in rows:
        assert re.search(rf"^\s+{label}\s+{re.escape(kr(ore))}$", letter.text, re.M), label
        assert re.search(rf">{label}</th><td class=\"num\">{re.escape(kr(ore))}<", letter.html)
    expected = {
        "sv": [
            "Enligt amorteringsplanen AP-2026-0112 skulle du ha betalat en delbetalning på "
            f"{kr(47745)} senast 2026-10-30. Den betalningen har vi inte fått. Därför gäller "
            "planen inte längre, och vi återupptar indrivningen av den skuld som återstår.",
            f"Du har betalat {kr(95490)} enligt planen",
            f"Kvar att betala är {kr(95491)}.",
            f"Betala det som återstår, {kr(95491)}, senast 2026-11-29 till bankgiro 5050-1055 "
            "med OCR-nummer 9000417268.",
            "Indrivningen av den återstående skulden återupptas nu.",
            "ansöker vi om betalningsföreläggande hos Kronofogden tidigast den 2026-12-07",
            "Om du redan har betalat delbetalningen, eller om du inte håller med om kravet",
            "senast 2026-11-29",
        ],
        "en": [
            "Under the payment plan AP-2026-0112 you were to pay an installment of "
            f"{kr(47745)} by 2026-10-30. We have not received that payment. The plan is "
            "therefore no longer in force, and we are resuming collection of the remaining debt.",
            f"You have paid {kr(95490)} under the plan",
            f"The remaining debt is {kr(95491)}.",
            f"Pay the remaining amount, {kr(95491)}, by 2026-11-29 to bankgiro 5050-1055 with "
            "OCR reference 9000417268.",
            "Collection of the remaining debt now resumes.",
            "we will apply for an order to pay (betalningsföreläggande) at the Swedish "
            "Enforcement Authority (Kronofogden), on or after 2026-12-07",
            "If you have already paid the installment, or if you disagree with the claim",
            "no later than 2026-11-29",
        ],
    }[language]
    for out in outputs(letter).values():
        for phrase in expected:
            assert phrase in out


def review_context(language: str, outcome: str, public_law: bool = True) -> dict[str, Any]:
    """The sample review decision (1 648,00 kr charged, 412,00 kr credited in part) with
    another outcome: the claim, totals and payment as they stand after it."""
    context = make_context("review_decision", language)
    credited = {"upheld": 0, "credited_in_full": 164800, "credited_in_part": 41200}[outcome]
    remaining = 164800 - credited
    context["review"].update(outcome=outcome, credited_amount_ore=credited, public_law=public_law)
    context["claims"][0].update(
        capital_ore=remaining,
        total_ore=remaining,
        claim_nature="public_law" if public_law else "civil",
    )
    context["totals"].update(capital_ore=remaining, total_ore=remaining)
    context["payment"]["amount_ore"] = remaining
    if outcome == "credited_in_full":
        context["next_step"] = {"kind": "none", "on_or_after": None}
    return context


REVIEW_OUTCOMES = {
    ("upheld", "sv"): [
        "Vi har kommit fram till att kravet är riktigt och står fast vid det. Du ska därför "
        "betala 1 648,00 kr senast 2026-11-29, som är den nya sista dagen att betala.",
        "Betala 1 648,00 kr senast 2026-11-29 till bankgiro 5050-1055 med OCR-nummer 1052300058.",
        "Om vi inte har fått betalt senast 2026-11-29, skickar vi ett inkassokrav tidigast den "
        "2026-12-07.",
    ],
    ("upheld", "en"): [
        "We have concluded that the claim is correct and we maintain it. You must therefore pay "
        "SEK 1,648.00 by 2026-11-29, which is the new deadline to pay.",
        "Pay SEK 1,648.00 by 2026-11-29 to bankgiro 5050-1055 with OCR reference 1052300058.",
        "If we have not received payment by 2026-11-29, we will send you a collection demand",
    ],
    ("credited_in_full", "sv"): [
        "Vi har kommit fram till att du har rätt. Vi krediterar hela kravet, 1 648,00 kr, och "
        "du behöver inte betala det.",
        "Efter beslutet finns det inget belopp som du behöver betala.",
        "Ärendet är avslutat. Vi skickar inga fler krav för det belopp som vi har krediterat.",
    ],
    ("credited_in_full", "en"): [
        "We have concluded that you are right. We credit the whole claim, SEK 1,648.00, and "
        "you do not have to pay it.",
        "After the decision, there is nothing you need to pay.",
        "The matter is closed. We will not send any further demands for the amount we have "
        "credited.",
    ],
    ("credited_in_part", "sv"): [
        "Vi har kommit fram till att du delvis har rätt. Vi krediterar 412,00 kr av kravet. "
        "Resten, 1 236,00 kr, ska du betala senast 2026-11-29, som är den nya sista dagen att "
        "betala.",
        "Betala 1 236,00 kr senast 2026-11-29 till bankgiro 5050-1055",
    ],
    ("credited_in_part", "en"): [
        "We have concluded that you are partly right. We credit SEK 412.00 of the claim. You "
        "must pay the rest, SEK 1,236.00, by 2026-11-29, which is the new deadline to pay.",
        "Pay SEK 1,236.00 by 2026-11-29 to bankgiro 5050-1055",
    ],
}
REVIEW_COMMON = {
    "sv": [
        "Du har invänt mot kravet nedan (ärende INV-81). Vi har nu prövat din invändning och "
        "fattade beslut den 2026-11-13.",
        "Beslut",
        "Beslutet fattades den 2026-11-13 av Karin Berg, enhetschef vid Ekonomienheten. Innan "
        "beslutet fattades hämtade vi in ett yttrande från den handläggare som hade hand om "
        "ärendet.",
        "Skälen för beslutet",
        "Besöket den 14 augusti 2026 blev inställt, och avgiften för den timmen, 412,00 kr, tar "
        "vi därför bort.",
        "Kravet efter beslutet",
        "Har du frågor om beslutet",
    ],
    "en": [
        "You objected to the claim below (case INV-81). We have now examined your objection and "
        "made a decision on 2026-11-13.",
        "Decision",
        "The decision was made on 2026-11-13 by Karin Berg, enhetschef vid Ekonomienheten. "
        "Before the decision was made, we obtained a statement from the officer who handled the "
        "matter.",
        "Reasons for the decision",
        "Besöket den 14 augusti 2026 blev inställt",
        "The claim after the decision",
        "If you have questions about the decision",
    ],
}
APPEAL = {
    "sv": [
        "Så här överklagar du beslutet",
        "Om du inte är nöjd med beslutet kan du överklaga det till förvaltningsrätten.",
        "Skriv till förvaltningsrätten, men skicka eller lämna överklagandet till oss: Tanums "
        "kommun, Samhällsbyggnadsförvaltningen, Kommunhusvägen 1, 457 81 Tanumshede.",
        "Överklagandet måste ha kommit in till oss inom tre veckor från den dag då du fick del "
        "av beslutet.",
        "Skriv i överklagandet vilket beslut du överklagar (ärende INV-81, beslut den "
        "2026-11-13), hur du vill att beslutet ska ändras och varför.",
        "skickar vi överklagandet och handlingarna i ärendet vidare till förvaltningsrätten",
        "Om du inte håller med om beslutet kan du överklaga det, se ”Så här överklagar du "
        "beslutet” ovan.",
    ],
    "en": [
        "How to appeal against the decision",
        "you can appeal against it to the administrative court (förvaltningsrätten).",
        "Address your appeal to the administrative court, but send or hand it in to us: Tanums "
        "kommun, Samhällsbyggnadsförvaltningen, Kommunhusvägen 1, 457 81 Tanumshede.",
        "We must receive your appeal within three weeks from the day you were notified of the "
        "decision.",
        "state which decision you are appealing against (case INV-81, decision of "
        "2026-11-13), how you want the decision changed and why.",
        "we will forward the appeal and the case documents to the administrative court",
        "If you disagree with the decision, you can appeal against it: see “How to appeal "
        "against the decision” above.",
    ],
}
COURT = {
    "sv": [
        "Om du vill få saken prövad i domstol",
        "Om du fortfarande inte håller med om kravet kan du i stället få saken prövad av allmän "
        "domstol (tingsrätten).",
        "Om kravet inte betalas kan vi ansöka om betalningsföreläggande hos Kronofogden.",
        "kan vi begära att målet lämnas över till tingsrätten",
    ],
    "en": [
        "Having the matter tried by a court",
        "you can instead have the matter tried by a general court (tingsrätten, the district "
        "court).",
        "we may apply for an order to pay (betalningsföreläggande) at the Swedish Enforcement "
        "Authority (Kronofogden).",
        "we may ask for the case to be transferred to the district court",
    ],
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("outcome", ["upheld", "credited_in_full", "credited_in_part"])
@pytest.mark.parametrize("public_law", [True, False])
def test_review_decision_states_outcome_reasons_decider_and_remedy(
    language: str, outcome: str, public_law: bool
) -> None:
    context = review_context(language, outcome, public_law)
    letter = render_letter("review_decision", language, context)
    omprovning = {
        "sv": "har vi prövat din invändning som en omprövning enligt 37–39 §§ "
        "förvaltningslagen (2017:900).",
        "en": "we have examined your objection as a reconsideration (omprövning) under "
        "sections 37–39 of the Swedish Administrative Procedure Act (förvaltningslagen "
        "2017:900).",
    }[language]
    for where, out in outputs(letter).items():
        for phrase in REVIEW_OUTCOMES[outcome, language] + REVIEW_COMMON[language]:
            assert phrase in out, (where, phrase)
        assert (omprovning in out) is public_law, where
        # The remedy: an överklagandehänvisning for a public-law decision, the courts for a
        # civil claim; none when the customer got everything asked for.
        appeal = outcome != "credited_in_full" and public_law
        court = outcome != "credited_in_full" and not public_law
        for phrase in APPEAL[language]:
            assert (phrase in out) is appeal, (where, phrase)
        for phrase in COURT[language]:
            assert (phrase in out) is court, (where, phrase)
        assert ("förvaltningsrätten" in out) is appeal, where
        assert ("tingsrätten" in out) is court, where
        if outcome == "credited_in_full":
            assert PHRASES[language]["pay_by"] not in out, where


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"outcome": "withdrawn"}, "review.outcome withdrawn"),
        ({"credited_amount_ore": 0}, "credited_amount_ore"),
    ],
)
@pytest.mark.parametrize("language", LANGUAGES)
def test_review_decision_outside_the_wording_fails_loudly(
    change: dict[str, Any], message: str, language: str
) -> None:
    context = make_context("review_decision", language)
    context["review"].update(change)
    with pytest.raises(ValueError, match=message):
        render_letter("review_decision", language, context)


def test_review_decision_without_a_case_reference_reads_cleanly() -> None:
    context = make_context("review_decision")
    context["review"]["objection_id"] = None
    letter = render_letter("review_decision", "sv", context)
    for out in (letter.subject, letter.text, letter.html):
        assert "None" not in out and "(ärende" not in out
    assert "vilket beslut du överklagar (beslut den 2026-11-13)" in flat(letter.text)


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("deferral_confirmation", ("deferral", "reason")),
        ("payment_plan", ("plan", "return_how")),
        ("review_decision", ("review", "reasons")),
        ("review_decision", ("review", "decided_by")),
    ],
)
def test_html_escapes_the_free_text_of_the_new_kinds(kind: str, path: tuple[str, str]) -> None:
    context = make_context(kind)
    context[path[0]][path[1]] = "Se <b>bilaga</b> & ring"
    letter = render_letter(kind, "sv", context)
    assert "<b>bilaga</b>" not in letter.html
    assert "Se &lt;b&gt;bilaga&lt;/b&gt; &amp; ring" in letter.html
    assert "Se <b>bilaga</b> & ring" in flat(letter.text)
