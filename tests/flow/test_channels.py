"""Given / When / Then: letters reach customers by email (real aiosmtpd server) or on paper
(PDF in the print outbox with a manifest line), each exactly once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from likvid.db import read_session
from likvid.models import Letter
from likvid.service.channels import send_email
from likvid.service.progress import wait_quiet
from tests.support.pipeline import Pipeline, customer, invoice, running_pipeline
from tests.support.smtp import SmtpServer


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        for key, value in {"LIKVID_SMTP_HOST": server.host, "LIKVID_SMTP_PORT": str(server.port),
                           "LIKVID_SMTP_SECURITY": "none", "LIKVID_SMTP_FROM": "faktura@exempelby.se",
                           "LIKVID_SMTP_MESSAGE_ID_DOMAIN": "likvid.exempelby.se"}.items():
            monkeypatch.setenv(key, value)
        yield server


@pytest.fixture
def pipe(database_url: str, redis_url: str, tmp_path: Path, smtp: SmtpServer) -> Iterator[Pipeline]:
    with running_pipeline(database_url, redis_url, tmp_path / "home") as p:
        yield p


def _reminder(pipe: Pipeline, invoice_id: str) -> Letter:
    with read_session(pipe.app.db) as s:
        letter = next(x for x in pipe.invoice(invoice_id)["letters"] if x["kind"] == "reminder")
        row = s.get(Letter, letter["id"])
        assert row is not None
        s.expunge(row)
        return row


def test_reminder_by_email_arrives_once_with_both_parts_and_the_amounts(pipe: Pipeline, smtp: SmtpServer) -> None:
    pipe.publish(customer("C1", email="anna@example.se"), invoice("I1", "C1", "1234.50", due="2026-01-30"))
    pipe.advance("40d")
    letter = _reminder(pipe, "I1")
    assert (letter.channel, letter.email_status) == ("email", "sent")
    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg["To"] == "anna@example.se"
    assert msg["Message-ID"] == f"<{letter.id}@likvid.exempelby.se>"
    assert "Påminnelse" in msg["Subject"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "1 234,50 kr" in text and "1 234,50 kr" in html
    assert pipe.invoice("I1")["ocr_reference"] in text
    assert "email-sent" in [t["type"] for t in pipe.customer("C1")["timeline"]]
    # When the send is delivered again (at-least-once), nothing more is sent
    assert send_email(pipe.app, letter.id) == "already sent"
    from likvid.workers import actors

    actors.send_emails.send([letter.id])
    wait_quiet(pipe.app, 30)
    assert len(smtp.messages) == 1


@pytest.mark.fault
def test_a_server_refusing_for_a_while_gets_every_email_once(pipe: Pipeline, smtp: SmtpServer) -> None:
    smtp.refuse_next(2, 451)
    pipe.publish(customer("C1", email="anna@example.se"), invoice("I1", "C1", "100.00", due="2026-01-30"),
                 customer("C2", email="bo@example.se", identity_number="800101-0019"),
                 invoice("I2", "C2", "200.00", due="2026-01-30"))
    pipe.advance("40d")
    assert sorted(m["To"] for m in smtp.messages) == ["anna@example.se", "bo@example.se"]
    assert smtp.data_attempts >= 4


def test_a_permanent_refusal_sends_a_letter_instead(pipe: Pipeline, smtp: SmtpServer) -> None:
    smtp.refuse_always(550)
    pipe.publish(customer("C1", email="anna@example.se"), invoice("I1", "C1", "300.00", due="2026-01-30"))
    pipe.advance("40d")
    letter = _reminder(pipe, "I1")
    assert (letter.channel, letter.email_status) == ("letter", "failed")
    assert smtp.messages == []
    types = [t["type"] for t in pipe.customer("C1")["timeline"]]
    assert "email-failed" in types and "letter-ready" in types
    manifest = next((pipe.app.settings.home / "print").glob("manifest-*.jsonl"))
    lines = [json.loads(x) for x in manifest.read_text(encoding="utf-8").splitlines()]
    assert [x["letter_id"] for x in lines] == [letter.id]
    pdf = pipe.app.settings.home / "print" / lines[0]["pdf"]
    text = "".join(p.extract_text() for p in PdfReader(str(pdf)).pages)
    assert "300,00 kr" in text and "Storgatan 1" in text


def test_protected_identity_letter_on_paper_carries_no_street_of_theirs(pipe: Pipeline) -> None:
    hidden = {"street": "Hemliga vägen 7", "postal_code": "123 45", "city": "Exempelby"}
    pipe.publish(customer("C1", protected_identity=True, email=None, address=hidden),
                 invoice("I1", "C1", "500.00", due="2026-01-30"))
    pipe.advance("40d")
    manifest = next((pipe.app.settings.home / "print").glob("manifest-*.jsonl"))
    line = json.loads(manifest.read_text(encoding="utf-8").splitlines()[0])
    assert line["forwarding"] == "skatteverket"
    pdf = pipe.app.settings.home / "print" / line["pdf"]
    text = "".join(p.extract_text() for p in PdfReader(str(pdf)).pages)
    assert "Hemliga" not in text
    assert "Box 2820" in text and "500,00 kr" in text


def test_collection_demand_pdf_states_the_ledger_amounts(pipe: Pipeline) -> None:
    from likvid.rules.money import format_kronor, parse_kronor

    pipe.publish(customer("C1", email=None), invoice("I1", "C1", "2500.00", due="2026-01-30"))
    pipe.advance("55d")
    inv = pipe.invoice("I1")
    demand = next(x for x in inv["letters"] if x["kind"] == "collection_demand")
    with read_session(pipe.app.db) as s:
        row = s.get(Letter, demand["id"])
        assert row is not None and row.channel == "letter" and row.pdf_path
        text = "".join(p.extract_text() for p in PdfReader(row.pdf_path).pages)
    bal = inv["balance"]
    for key in ("capital", "fees", "interest", "total"):
        assert format_kronor(parse_kronor(bal[key])) in text, key
    assert bal["fees"] == "180.00" and parse_kronor(bal["interest"]) > 0
    assert inv["ocr_reference"] in text and demand["deadline"] in text
