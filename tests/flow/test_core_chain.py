"""Given / When / Then: the core collection chain through the real broker, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pipeline import (
    Pipeline,
    customer,
    envelope,
    invoice,
    objection,
    payment,
    running_pipeline,
)


@pytest.fixture
def pipe(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[Pipeline]:
    with running_pipeline(database_url, redis_url, tmp_path / "home") as p:
        yield p


def test_unpaid_invoice_walks_the_whole_chain(pipe: Pipeline) -> None:
    # Given a customer with an invoice due on Friday 2026-01-30
    pipe.publish(customer("C1"), invoice("I1", "C1", "1000.00", due="2026-01-30"))
    assert pipe.invoice("I1")["stage"] == "issued"
    # When three months pass without payment
    pipe.advance("90d")
    # Then it was reminded once, demanded once and handed off, in that order
    inv = pipe.invoice("I1")
    types = pipe.timeline_types("I1")
    assert inv["stage"] == "handed_off"
    assert types.count("reminder-sent") == 1
    assert types.count("collection-demand-sent") == 1
    assert types.count("collection-handed-off") == 1
    assert types.index("invoice-due") < types.index("reminder-sent") < types.index("collection-demand-sent") < types.index("collection-handed-off")
    # and the demand charged the collection fee and interest (civil claim)
    assert inv["balance"]["fees"] == "180.00"
    assert int(inv["balance"]["interest"].replace(".", "")) > 0
    sent = [letter for letter in inv["letters"] if letter["status"] == "sent"]
    assert {letter["kind"] for letter in sent} == {"reminder", "collection_demand", "handoff_notice"}
    demand = next(letter for letter in sent if letter["kind"] == "collection_demand")
    text = Path(demand["path"]).read_text(encoding="utf-8")
    assert "Inkassokrav" in text and inv["ocr_reference"] in text and "5050-1055" in text


def test_same_event_twice_has_one_effect(pipe: Pipeline) -> None:
    pay = payment("P1", "400.00", invoice_id="I1")
    pipe.publish(customer("C1"), invoice("I1", "C1", "1000.00"))
    first = pipe.publish(pay)
    second = pipe.publish(pay)
    assert first[0]["status"] == "accepted"
    assert second[0]["status"] == "duplicate"
    assert pipe.invoice("I1")["balance"]["capital"] == "600.00"


def test_payment_before_its_invoice_settles_it_on_arrival(pipe: Pipeline) -> None:
    pipe.publish(customer("C1"), payment("P1", "1000.00", invoice_id="I9"))
    pipe.publish(invoice("I9", "C1", "1000.00"))
    inv = pipe.invoice("I9")
    assert inv["status"] == "settled"
    assert inv["pending_steps"] == []
    pipe.advance("60d")
    assert "reminder-sent" not in pipe.timeline_types("I9")


def test_payment_after_reminder_was_scheduled_stops_it(pipe: Pipeline) -> None:
    pipe.publish(customer("C1"), invoice("I1", "C1", "500.00", due="2026-01-30"))
    pipe.advance("26d")  # past the due date: the reminder step is scheduled, not yet due
    assert [s["step"] for s in pipe.invoice("I1")["pending_steps"]] == ["reminder"]
    pipe.publish(payment("P1", "500.00", invoice_id="I1", paid_on="2026-01-31"))
    pipe.advance("60d")
    inv = pipe.invoice("I1")
    assert inv["status"] == "settled"
    assert "reminder-sent" not in pipe.timeline_types("I1")
    assert inv["letters"] == []


def test_partial_payment_keeps_the_claim_open(pipe: Pipeline) -> None:
    pipe.publish(customer("C1"), invoice("I1", "C1", "800.00"), payment("P1", "300.00", invoice_id="I1"))
    inv = pipe.invoice("I1")
    assert inv["status"] == "open"
    assert inv["balance"]["total"] == "500.00"
    pipe.advance("40d")
    assert "reminder-sent" in pipe.timeline_types("I1")


def test_objected_claim_gets_no_collection_demand(pipe: Pipeline) -> None:
    pipe.publish(customer("C1"), invoice("I1", "C1", "700.00", due="2026-01-30"))
    pipe.advance("45d")  # reminded
    assert pipe.invoice("I1")["stage"] == "reminded"
    pipe.publish(objection("O1", "I1"))
    pipe.advance("60d")
    inv = pipe.invoice("I1")
    types = pipe.timeline_types("I1")
    assert "collection-demand-sent" not in types
    assert "objection-acknowledged" in types
    assert inv["holds"][0]["kind"] == "objection"
    # When the objection is withdrawn, collection resumes with fresh time
    pipe.publish(envelope("objection-withdrawn", {"objection_id": "O1"}))
    pipe.advance("40d")
    assert "collection-demand-sent" in pipe.timeline_types("I1")


def test_one_consolidated_reminder_per_customer_and_creditor(pipe: Pipeline) -> None:
    pipe.publish(customer("C1"), invoice("I1", "C1", "100.00", due="2026-01-30"),
                 invoice("I2", "C1", "200.00", due="2026-01-30"))
    pipe.advance("40d")
    l1 = [x for x in pipe.invoice("I1")["letters"] if x["kind"] == "reminder"]
    l2 = [x for x in pipe.invoice("I2")["letters"] if x["kind"] == "reminder"]
    assert len(l1) == len(l2) == 1 and l1[0]["id"] == l2[0]["id"]
    text = Path(l1[0]["path"]).read_text(encoding="utf-8")
    assert "100,00 kr" in text and "200,00 kr" in text


def test_malformed_event_is_rejected_with_field_and_worker_keeps_running(pipe: Pipeline) -> None:
    bad = invoice("I1", "C1", "-5.00")
    results = pipe.publish(customer("C1"), bad)
    assert results[1]["status"] == "rejected"
    assert any(e["field"] == "data.amount" for e in results[1]["errors"])
    # and the pipeline still works
    pipe.publish(invoice("I2", "C1", "5.00"))
    assert pipe.invoice("I2")["status"] == "open"
