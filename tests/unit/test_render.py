"""Letters rendered from the Jinja2 templates: every kind in both languages says why it is
sent, what happens next and how to object, with amounts correct to the öre (policy points 3
and 6, "make the policy clear"), and a collection demand meets inkassolagen 5 §."""

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
}


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
        assert "9000417268" in out, where  # payment OCR
        assert DEADLINE.isoformat() in out, where
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
    "path",
    [
        ("creditor", "org_number"),
        ("payment", "ocr"),
        ("objection", "how"),
        ("letter", "deadline"),
        ("totals", "held_ore"),
    ],
)
@pytest.mark.parametrize("kind", LETTER_KINDS)
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


@pytest.mark.parametrize("key", ["handoff", "ack"])
def test_missing_kind_specific_section_raises(key: str) -> None:
    kind = {"handoff": "handoff_notice", "ack": "objection_acknowledgement"}[key]
    context = make_context(kind)
    del context[key]
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
