"""PDF letters (`likvid.service.pdf`): every kind in both languages, read back with pypdf.

A4 pages; the amounts, OCR, bankgiro and deadline of the payment; how to object; the creditor;
the recipient printed in the envelope window, and for a protected identity only the
forwarding address; a long claim list over several pages with page numbers and the table
header repeated; a payment plan's installments and signature lines, a broken plan's figures,
a deferral's end and a review decision's appeal instructions. The wording is the templates'
(shared with the text and HTML letters); the contexts are `likvid.service.samples`'."""

from __future__ import annotations

import copy
import datetime as dt
import io
import re
from typing import Any

import jinja2
import pytest
from pypdf import PdfReader

from likvid.rules.money import format_kronor
from likvid.service.pdf import LETTER_KINDS, render_markup, render_pdf
from likvid.service.render import render_letter
from likvid.service.samples import SENT_ON
from likvid.service.samples import sample_context as make_context

LANGUAGES = ("sv", "en")
ALL = [(kind, language) for kind in LETTER_KINDS for language in LANGUAGES]

CREDITOR = "Tanums kommun, Samhällsbyggnadsförvaltningen"
FORWARDING = ["c/o Skatteverket (förmedling)", "Box 2820", "403 20 Göteborg"]
MM = 72 / 25.4


def _claim(
    n: int, number: str, ocr: str, capital: int, fee: int, interest: int, description: str | None
) -> dict[str, Any]:
    return {
        "invoice_id": f"inv-{n}",
        "invoice_number": number,
        "description": description,
        "claim_kind": "va",
        "claim_nature": "civil",
        "issue_date": dt.date(2026, 8, 31),
        "due_date": dt.date(2026, 9, 30),
        "ocr_reference": ocr,
        "capital_ore": capital,
        "fee_ore": fee,
        "interest_ore": interest,
        "total_ore": capital + fee + interest,
        "held_ore": 0,
    }


def with_claims(context: dict[str, Any], count: int) -> dict[str, Any]:
    """`count` claims of 489,00 kr each, every third with a description; totals to match."""
    claims = [
        _claim(
            i,
            f"2026-{300000 + i}",
            f"30000{i:05d}",
            48900,
            0,
            0,
            f"Avfallshämtning, månad {i}" if i % 3 == 0 else None,
        )
        for i in range(count)
    ]
    context["claims"] = claims
    total = 48900 * count
    context["totals"] = {
        "capital_ore": total,
        "fee_ore": 0,
        "interest_ore": 0,
        "total_ore": total,
        "held_ore": 0,
    }
    context["payment"]["amount_ore"] = total
    return context


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    return " ".join(text.split())


# --- every kind in both languages ----------------------------------------------------------

PHRASES = {
    "sv": {
        "why": "Varför får du det här brevet?",
        "object": "Om du inte håller med",
        "pay_by": "Betala senast",
        "page": "Sida 1 av",
    },
    "en": {
        "why": "Why are you receiving this letter?",
        "object": "If you disagree",
        "pay_by": "Pay by",
        "page": "Page 1 of",
    },
}


@pytest.mark.parametrize(("kind", "language"), ALL)
def test_pdf_states_amounts_payment_objection_and_creditor(kind: str, language: str) -> None:
    context = make_context(kind, language)
    pdf = render_pdf(kind, language, context)
    assert pdf.startswith(b"%PDF-")
    text = flat("\n".join(pages_text(pdf)))

    kr = lambda ore: format_kronor(ore, language)  # noqa: E731
    for claim in context["claims"]:
        assert claim["invoice_number"] in text
        assert claim["ocr_reference"] in text
        assert claim["due_date"].isoformat() in text
        for key in ("capital_ore", "fee_ore", "interest_ore", "total_ore"):
            assert kr(claim[key]) in text, key
    for key in ("capital_ore", "fee_ore", "interest_ore", "total_ore"):
        assert kr(context["totals"][key]) in text, key
    assert kr(context["payment"]["amount_ore"]) in text
    assert context["payment"]["ocr"] in text  # "9000417268" but for one claim
    assert "5050-1055" in text  # bankgiro
    assert context["payment"]["deadline"].isoformat() in text  # samples.DEADLINE, or its own
    assert SENT_ON.isoformat() in text and "L-2026-000417" in text
    phrases = PHRASES[language]
    for key in ("why", "object", "pay_by", "page"):
        assert phrases[key] in text, key
    # How to object: the configured text and contacts, as given.
    assert "Ring kundtjänst på 0525-180 00 eller skriv till" in text
    assert "invandning@tanum.se" in text and "0525-181 00" in text
    assert CREDITOR in text
    assert "212000-1322" in text and "Kommunhusvägen 1" in text and "457 81 Tanumshede" in text
    assert "Anna Andersson" in text and "Storgatan 12 B" in text


@pytest.mark.parametrize(("kind", "language"), ALL)
def test_pdf_says_what_the_text_letter_says(kind: str, language: str) -> None:
    """One source of wording: every paragraph of the plain-text letter's "why", "payment" and
    "objection" sections is in the PDF word for word, and the subject is the PDF's title."""
    context = make_context(kind, language)
    pdf = render_pdf(kind, language, context)
    text = flat("\n".join(pages_text(pdf)))
    letter = render_letter(kind, language, context)
    headings = {
        "sv": ("Varför får du det här brevet?", "Så här betalar du", "Om du inte håller med"),
        "en": ("Why are you receiving this letter?", "How to pay", "If you disagree"),
    }[language]
    closing = {"sv": "Med vänliga hälsningar", "en": "Yours sincerely"}[language]
    for heading in headings:
        # "Heading\n-------\n", then paragraphs up to the next heading or the closing.
        body = letter.text.split(f"\n{heading}\n", 1)[1].split("\n", 1)[1]
        body = re.split(r"\n[^\n]+\n-{3,}\n", body, maxsplit=1)[0]
        body = body.split(f"\n{closing}\n", 1)[0]
        paragraphs = [flat(part) for part in re.split(r"\n\s*\n", body) if flat(part)]
        assert paragraphs, heading
        for paragraph in paragraphs:
            assert paragraph in text, (heading, paragraph)
    assert PdfReader(io.BytesIO(pdf)).metadata.title == letter.subject


@pytest.mark.parametrize(("kind", "language"), ALL)
def test_pages_are_a4(kind: str, language: str) -> None:
    reader = PdfReader(io.BytesIO(render_pdf(kind, language, make_context(kind, language))))
    assert len(reader.pages) >= 1
    for page in reader.pages:
        box = page.mediabox
        assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_objection_acknowledgement_shows_the_held_amount() -> None:
    text = flat(
        "\n".join(
            pages_text(
                render_pdf(
                    "objection_acknowledgement", "sv", make_context("objection_acknowledgement")
                )
            )
        )
    )
    assert "Vilande (invändning)" in text
    assert "489,00 kr av beloppet gäller en invändning som vi utreder" in text
    assert "Det belopp som du invänder mot, 489,00 kr, är vilande" in text


# --- the envelope window and protected identity ---------------------------------------------


def _positions(pdf: bytes, page: int = 0) -> dict[str, tuple[float, float]]:
    """Text drawn on a page -> (x, y from the top edge) in millimetres."""
    found: dict[str, tuple[float, float]] = {}
    reader = PdfReader(io.BytesIO(pdf))
    height = float(reader.pages[page].mediabox.height)

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if text.strip():
            found.setdefault(text.strip(), (tm[4] / MM, (height - tm[5]) / MM))

    reader.pages[page].extract_text(visitor_text=visit)
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_recipient_is_in_the_window_and_creditor_top_left(language: str) -> None:
    positions = _positions(render_pdf("reminder", language, make_context("reminder", language)))
    for line in ("Anna Andersson", "Storgatan 12 B", "457 31 Tanumshede"):
        x, y = positions[line]
        # The address field: 20 mm from the left, 45 mm from the top, 90 × 45 mm.
        assert 20 <= x <= 30, (line, x)
        assert 45 < y < 90, (line, y)
    x, y = positions[CREDITOR]
    assert x == pytest.approx(20, abs=0.5) and y < 30
    reference = next(text for text in positions if "L-2026-000417" in text)
    assert positions[reference][0] > 105  # date and reference on the right


@pytest.mark.parametrize(("kind", "language"), ALL)
def test_protected_identity_prints_only_the_forwarding_address(kind: str, language: str) -> None:
    context = make_context(kind, language)
    context["recipient"] = {
        "name": "Anna Andersson",
        "address_lines": FORWARDING,
        "protected": True,
        # Not printed: the renderer prints only the resolved address lines.
        "registered_address": "Hemlighetsgatan 7",
    }
    context["customer"] = {"street": "Hemlighetsgatan 7", "postal": "452 91 Strömstad"}
    pdf = render_pdf(kind, language, context)
    text = "\n".join(pages_text(pdf))
    assert "Hemlighetsgatan" not in text
    assert "452 91" not in text and "Strömstad" not in text
    assert "Storgatan" not in text
    assert "Anna Andersson c/o Skatteverket (förmedling) Box 2820 403 20 Göteborg" in flat(text)
    positions = _positions(pdf)
    for line in FORWARDING:
        x, y = positions[line]
        assert 20 <= x <= 30 and 45 < y < 90, line


# --- long claim lists -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "page_two", "headers"),
    [
        ("sv", "Sida 2 av", ("Faktura", "Förfallodag", "OCR-nummer", "Kapitalbelopp")),
        ("en", "Page 2 of", ("Invoice", "Due date", "OCR reference", "Principal")),
    ],
)
def test_sixty_claims_flow_over_pages_with_numbers_and_header(
    language: str, page_two: str, headers: tuple[str, ...]
) -> None:
    context = with_claims(make_context("collection_demand", language), 60)
    texts = pages_text(render_pdf("collection_demand", language, context))
    count = len(texts)
    assert count >= 2
    assert page_two in texts[1]
    for number, text in enumerate(texts, start=1):
        label = {"sv": f"Sida {number} av {count}", "en": f"Page {number} of {count}"}[language]
        assert label in text
    # The table continues on page 2 under a repeated header row.
    assert any(claim["invoice_number"] in texts[1] for claim in context["claims"])
    for header in headers:
        assert header in texts[1]
    everything = "\n".join(texts)
    for claim in context["claims"]:
        assert claim["invoice_number"] in everything
    assert format_kronor(60 * 48900, language) in everything
    # Each claim row stays on one page.
    for claim in context["claims"]:
        assert sum(claim["invoice_number"] in text for text in texts) == 1


def test_one_page_per_short_letter_has_no_page_two_label() -> None:
    texts = pages_text(render_pdf("reminder", "sv", make_context("reminder")))
    assert f"Sida {len(texts)} av {len(texts)}" in texts[-1]
    assert f"Sida {len(texts) + 1} av" not in "\n".join(texts)


# --- text handling ----------------------------------------------------------------------------


def test_characters_outside_winansi_print_as_their_base_letter() -> None:
    context = make_context("reminder")
    context["recipient"]["name"] = "Łukasz Wójcik-Ærø"
    text = "\n".join(pages_text(render_pdf("reminder", "sv", context)))
    assert "Lukasz Wójcik-Ærø" in text
    assert "Påminnelse" in text and "–" in text  # å and the en dash of the interest period


def test_cell_values_may_hold_the_separator_and_newlines() -> None:
    context = make_context("reminder")
    context["claims"][0]["invoice_number"] = "A|B-1"
    context["claims"][0]["description"] = "Vatten\nP:och avlopp"
    context["recipient"]["name"] = "Anna\nAndersson"
    markup = render_markup("reminder", "sv", context)
    assert "\nP:och avlopp" not in markup
    text = flat("\n".join(pages_text(render_pdf("reminder", "sv", context))))
    assert "A|B-1" in text
    assert "Vatten P:och avlopp" in text
    assert "Anna Andersson" in text


def test_rendering_is_deterministic_and_leaves_the_context_alone() -> None:
    context = make_context("collection_demand")
    before = copy.deepcopy(context)
    first = render_pdf("collection_demand", "sv", context)
    assert render_pdf("collection_demand", "sv", context) == first
    assert context == before


def test_unknown_kind_language_and_missing_keys_raise() -> None:
    context = make_context("reminder")
    with pytest.raises(ValueError, match="'dunning'"):
        render_pdf("dunning", "sv", context)
    with pytest.raises(ValueError, match="'de'"):
        render_pdf("reminder", "de", context)
    del context["payment"]["ocr"]
    with pytest.raises(jinja2.UndefinedError):
        render_pdf("reminder", "sv", context)


# --- deferral, payment plan, broken plan, review decision ----------------------------------

NEW_KIND_PHRASES = {
    ("deferral_confirmation", "sv"): [
        "Vi har beviljat dig anstånd med betalningen av fakturorna nedan till och med 2026-12-31.",
        "Anståndet har beviljats av Maria Lind, kravhandläggare.",
        "Till och med 2026-12-31 skickar vi inga påminnelser eller inkassokrav för fakturorna, "
        "tar inte ut några avgifter",
        "Om vi inte har fått betalt senast då, skickar vi ett inkassokrav tidigast den 2027-01-14.",
    ],
    ("deferral_confirmation", "en"): [
        "We have granted you a deferral (anstånd) of payment of the invoices below until "
        "2026-12-31 inclusive.",
        "The deferral was granted by Maria Lind, kravhandläggare.",
        "Until 2026-12-31 inclusive, we will send no reminders or collection demands",
        "Collection then resumes where it stopped, and you will be given a new deadline to pay.",
    ],
    ("payment_plan", "sv"): [
        "Nr Förfallodag Belopp",
        "1 2026-12-30 477,45 kr",
        "4 2027-03-31 477,46 kr",
        "Summa 1 909,81 kr",
        "Planen gäller först när vi har fått tillbaka den underskrivna planen.",
        "Tills vi har fått den underskrivna planen fortsätter indrivningen som vanligt.",
        "Om en delbetalning inte är betald inom 10 dagar efter förfallodagen upphör planen",
        "avgift för amorteringsplan på 170,00 kr",
        "Första delbetalningen 477,45 kr",
        "Ort och datum",
        "Namnteckning",
        "Namnförtydligande",
        "Personnummer",
    ],
    ("payment_plan", "en"): [
        "No. Due date Amount",
        "1 2026-12-30 SEK 477.45",
        "4 2027-03-31 SEK 477.46",
        "Total SEK 1,909.81",
        "The plan takes effect only when we have received the signed plan back.",
        "Until we have received the signed plan, collection continues as usual.",
        "If an installment has not been paid within 10 days of its due date, the plan ends.",
        "payment plan fee of SEK 170.00",
        "First installment SEK 477.45",
        "Place and date",
        "Signature",
        "Name in block letters",
        "Personal identity number",
    ],
    ("payment_plan_broken", "sv"): [
        "Obetald delbetalning, förfallodag 2026-10-30 477,45 kr",
        "Betalt enligt planen 954,90 kr",
        "Återstående skuld 954,91 kr",
        "Indrivningen av den återstående skulden återupptas nu.",
        "ansöker vi om betalningsföreläggande hos Kronofogden tidigast den 2026-12-07",
    ],
    ("payment_plan_broken", "en"): [
        "Unpaid installment, due date 2026-10-30 SEK 477.45",
        "Paid under the plan SEK 954.90",
        "Remaining debt SEK 954.91",
        "Collection of the remaining debt now resumes.",
        "on or after 2026-12-07",
    ],
    ("review_decision", "sv"): [
        "Vi krediterar 412,00 kr av kravet. Resten, 1 236,00 kr, ska du betala senast 2026-11-29",
        "Beslutet fattades den 2026-11-13 av Karin Berg, enhetschef vid Ekonomienheten.",
        "hämtade vi in ett yttrande från den handläggare som hade hand om ärendet",
        "Skälen för beslutet",
        "Så här överklagar du beslutet",
        "Överklagandet måste ha kommit in till oss inom tre veckor från den dag då du fick del "
        "av beslutet.",
        "37–39 §§ förvaltningslagen (2017:900)",
    ],
    ("review_decision", "en"): [
        "We credit SEK 412.00 of the claim. You must pay the rest, SEK 1,236.00, by 2026-11-29",
        "The decision was made on 2026-11-13 by Karin Berg, enhetschef vid Ekonomienheten.",
        "we obtained a statement from the officer who handled the matter",
        "Reasons for the decision",
        "How to appeal against the decision",
        "We must receive your appeal within three weeks from the day you were notified of the "
        "decision.",
    ],
}


@pytest.mark.parametrize(("kind", "language"), sorted(NEW_KIND_PHRASES))
def test_pdf_of_new_kinds_states_what_their_policy_point_requires(kind: str, language: str) -> None:
    text = flat("\n".join(pages_text(render_pdf(kind, language, make_context(kind, language)))))
    for phrase in NEW_KIND_PHRASES[kind, language]:
        assert phrase in text, phrase


@pytest.mark.parametrize("language", LANGUAGES)
def test_payment_plan_signature_lines_are_drawn_on_one_page(language: str) -> None:
    pdf = render_pdf("payment_plan", language, make_context("payment_plan", language))
    reader = PdfReader(io.BytesIO(pdf))
    last = len(reader.pages) - 1
    labels = {
        "sv": ("Ort och datum", "Namnteckning", "Namnförtydligande", "Personnummer"),
        "en": ("Place and date", "Signature", "Name in block letters", "Personal identity number"),
    }[language]
    positions = _positions(pdf, last)
    tops = []
    for label in labels:
        x, y = positions[label]
        assert x == pytest.approx(20, abs=0.5), label
        tops.append(y)
    # Room to write: the lines are at least 10 mm apart.
    assert all(b - a >= 10 for a, b in zip(tops, tops[1:], strict=False))
    # A rule to write on from 70 mm (the label column) to the right margin, one per label.
    content = reader.pages[last].get_contents().get_data().decode("latin-1")
    start = f"{70 * MM:.2f} "
    rules = re.findall(rf"{re.escape(start)}[\d.]+ m {190 * MM:.2f} [\d.]+ l S", content)
    assert len(rules) == len(labels)


def test_review_decision_for_a_civil_claim_points_to_the_courts_in_the_pdf() -> None:
    context = make_context("review_decision")
    context["review"]["public_law"] = False
    context["claims"][0]["claim_nature"] = "civil"
    text = flat("\n".join(pages_text(render_pdf("review_decision", "sv", context))))
    assert "Om du vill få saken prövad i domstol" in text
    assert "tingsrätten" in text and "förvaltningsrätten" not in text
