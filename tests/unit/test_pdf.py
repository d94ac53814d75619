"""PDF letters (`likvid.service.pdf`): every kind in both languages, read back with pypdf.

A4 pages; the amounts, OCR, bankgiro and deadline of the payment; how to object; the creditor;
the recipient printed in the envelope window, and for a protected identity only the
forwarding address; a long claim list over several pages with page numbers and the table
header repeated. The wording is the templates' (shared with the text and HTML letters)."""

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

LANGUAGES = ("sv", "en")
ALL = [(kind, language) for kind in LETTER_KINDS for language in LANGUAGES]

SENT_ON = dt.date(2026, 11, 15)
DEADLINE = dt.date(2026, 11, 29)
NEXT_ON = dt.date(2026, 12, 7)
CREDITOR = "Tanums kommun, Samhällsbyggnadsförvaltningen"
FORWARDING = ["c/o Skatteverket (förmedling)", "Box 2820", "403 20 Göteborg"]
MM = 72 / 25.4


def make_context(kind: str, language: str = "sv") -> dict[str, Any]:
    """The context `letters.dispatch` gives the renderer: two claims, one interest line, the
    fees of this letter (as in test_render.py)."""
    fee = {"reminder": 6000, "collection_demand": 18000}.get(kind, 0)
    fee_kind = {"reminder": "reminder_fee", "collection_demand": "collection_fee"}.get(kind)
    fees = (
        [
            {
                "kind": fee_kind,
                "amount_ore": fee,
                "basis": "lag (1981:739) om ersättning för inkassokostnader 4 §",
            }
        ]
        if fee_kind
        else []
    )
    next_step = {
        "reminder": {"kind": "collection_demand", "on_or_after": NEXT_ON},
        "collection_demand": {"kind": "kronofogden", "on_or_after": NEXT_ON},
        "handoff_notice": {"kind": "none", "on_or_after": None},
        "objection_acknowledgement": {"kind": "collection_demand", "on_or_after": NEXT_ON},
    }[kind]
    context: dict[str, Any] = {
        "letter": {
            "id": "L-2026-000417",
            "kind": kind,
            "level": 1,
            "sent_on": SENT_ON,
            "deadline": DEADLINE,
            "language": language,
        },
        "creditor": {
            "name": CREDITOR,
            "org_number": "212000-1322",
            "bankgiro": "5050-1055",
            "address": {
                "street": "Kommunhusvägen 1",
                "postal_code": "457 81",
                "city": "Tanumshede",
            },
            "contact": {"phone": "0525-180 00", "email": "ekonomi@tanum.se", "web": "www.tanum.se"},
        },
        "recipient": {
            "name": "Anna Andersson",
            "address_lines": ["Storgatan 12 B", "457 31 Tanumshede"],
            "protected": False,
        },
        "claims": [
            _claim(
                1, "2026-104711", "1047110467", 123450, fee, 1631, "Vatten och avlopp, kvartal 3"
            ),
            _claim(2, "2026-104802", "1048020052", 48900, 0, 0, None),
        ],
        "fees": fees,
        "interest": {
            "lines": [
                {
                    "start": dt.date(2026, 10, 1),
                    "end": dt.date(2026, 11, 15),
                    "days": 46,
                    "base_ore": 123450,
                    "rate_bp": 1050,
                    "amount_ore": 1631,
                }
            ],
            "total_ore": 1631,
            "reference": "räntelagen (1975:635) 6 §",
        },
        "totals": {
            "capital_ore": 172350,
            "fee_ore": fee,
            "interest_ore": 1631,
            "total_ore": 172350 + fee + 1631,
            "held_ore": 0,
        },
        "payment": {
            "bankgiro": "5050-1055",
            "ocr": "9000417268",
            "amount_ore": 172350 + fee + 1631,
            "deadline": DEADLINE,
        },
        "objection": {
            "how": "Ring kundtjänst på 0525-180 00 eller skriv till\nTanums kommun, Ekonomienheten",
            "contact_email": "invandning@tanum.se",
            "contact_phone": "0525-181 00",
        },
        "next_step": next_step,
    }
    if kind == "handoff_notice":
        context["handoff"] = {"target": "kronofogden", "target_name": "Kronofogden"}
    if kind == "objection_acknowledgement":
        disputed = 48900
        context["claims"][1]["held_ore"] = disputed
        context["totals"]["held_ore"] = disputed
        context["payment"]["amount_ore"] -= disputed
        context["ack"] = {
            "objection_id": "INV-77",
            "received_on": dt.date(2026, 11, 10),
            "reason": "Tömningen av sopkärlet gjordes aldrig i september.",
            "disputed_amount_ore": disputed,
            "review_by": dt.date(2026, 11, 24),
            "public_law": False,
        }
    return context


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
    assert "9000417268" in text  # payment OCR
    assert "5050-1055" in text  # bankgiro
    assert DEADLINE.isoformat() in text
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
