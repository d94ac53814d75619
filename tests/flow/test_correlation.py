"""Given / When / Then: the inbound event id follows its claim as the correlation id through
every follow-up (timers, letters, outbox messages, outbound events) and every log line, on
SQLite and PostgreSQL through the real broker (tests/support/pipeline.py)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select

from likvid.correlation import correlated
from likvid.db import read_session, transaction
from likvid.logs import JsonFormatter, MaskIdentities
from likvid.models import Letter, LetterClaim, OutboxMessage, Timer
from likvid.service.progress import wait_quiet
from likvid.service.records import QUEUE_OUTBOUND, QUEUE_STEPS, enqueue, outbound_events
from likvid.workers.middleware import Correlation
from tests.support.pipeline import Pipeline, customer, invoice, payment, running_pipeline


class JsonLines(logging.Handler):
    """The log lines as production writes them with LIKVID_LOG_FORMAT=json (likvid.logs)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(JsonFormatter())
        self.addFilter(MaskIdentities())
        self.lines: list[dict[str, Any]] = []
        self.guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(self.format(record))
        with self.guard:
            self.lines.append(line)

    def of(self, logger: str) -> list[dict[str, Any]]:
        with self.guard:
            return [x for x in self.lines if x["logger"] == logger]


def carries(line: dict[str, Any], corr: str) -> bool:
    """The line is about ``corr``: its own id, or one of a set-based batch's ids."""
    return line.get("correlation_id") == corr or corr in line.get("correlation_ids", [])


@pytest.fixture
def logs() -> Iterator[JsonLines]:
    handler = JsonLines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def pipe(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[Pipeline]:
    with running_pipeline(database_url, redis_url, tmp_path / "home") as p:
        yield p


def with_id(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {**event, "id": event_id}


def outbox_rows(pipe: Pipeline) -> list[OutboxMessage]:
    with read_session(pipe.app.db) as s:
        rows = list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at)))
        s.expunge_all()
    return rows


def test_each_invoice_event_id_follows_its_claim_through_timers_letters_outbox_and_logs(
        pipe: Pipeline, logs: JsonLines) -> None:
    # Given two customers, and two invoices published one at a time (event ids X and Y)
    pipe.publish(customer("C1"), customer("C2"))
    x = with_id(invoice("I1", "C1", "1000.00", due="2026-01-30"), "corr-X-invoice-I1")
    y = with_id(invoice("I2", "C2", "700.00", due="2026-01-30"), "corr-Y-invoice-I2")
    pipe.publish(x)
    pipe.publish(y)
    # When the clock runs through the due date, the reminder and the collection demand
    pipe.advance("60d")
    for inv_id, corr, other in (("I1", x["id"], y["id"]), ("I2", y["id"], x["id"])):
        inv = pipe.invoice(inv_id)
        kinds = {letter["kind"] for letter in inv["letters"] if letter["status"] == "sent"}
        assert {"reminder", "collection_demand"} <= kinds, inv["letters"]
        mine = {letter["id"] for letter in inv["letters"]}

        # Then the ingest line carries the event id
        ingest = [line for line in logs.of("likvid.ingest") if carries(line, corr)]
        assert [line["message"] for line in ingest] == ["invoice-issued: applied"]
        assert ingest[0]["correlation_id"] == corr

        # the timer firing: due date and reminder set-based (the two claims share a batch),
        # the collection demand one by one, under this claim's id alone
        steps = [line for line in logs.of("likvid.steps") if carries(line, corr)]
        assert any("fired set-based" in line["message"] for line in steps), steps
        demand = [line for line in steps if line["message"].startswith("timer ") and "(demand)" in line["message"]]
        assert len(demand) == 1 and demand[0]["correlation_id"] == corr
        assert demand[0]["message"].split(": ")[1].split()[1] in mine  # "letter L… for 1 claim(s)"

        # and the letter dispatch: the reminder set-based, the demand one by one, each line
        # about this claim's letters only
        one_by_one = [line for line in steps if line["message"].startswith("letter ")]
        assert any("(collection_demand): sent" in line["message"] for line in one_by_one), one_by_one
        for line in one_by_one:
            assert line["correlation_id"] == corr and line["message"].split()[1] in mine
        assert any("sent set-based" in line["message"] for line in steps), steps

        # No line under this id is about the other claim's letters.
        with read_session(pipe.app.db) as s:
            theirs = set(s.scalars(select(LetterClaim.letter_id).where(LetterClaim.claim_id != inv_id)))
            timers = s.execute(select(Timer.kind, Timer.correlation_id).where(Timer.claim_id == inv_id)).all()
            letters = s.scalars(select(Letter.correlation_id).where(Letter.id.in_(mine))).all()
        for line in logs.of("likvid.steps"):
            if line.get("correlation_id") == corr:
                assert not any(letter in line["message"] for letter in theirs), line
        assert other not in {line.get("correlation_id") for line in ingest + one_by_one + demand}

        # The durable rows: every timer and letter of the claim, under its event's id.
        assert {t.kind for t in timers} >= {"invoice_due", "reminder", "demand"}
        assert {t.correlation_id for t in timers} == {corr}
        assert len(letters) == len(mine) and set(letters) == {corr}
        # and `likvid show invoice` names the id to grep for
        assert inv["correlation_ids"] == [corr]

    # The outbox: every follow-up message follows from one of the two events, and each
    # outbound event about a claim from that claim's event, in its row and its envelope.
    rows = outbox_rows(pipe)
    with read_session(pipe.app.db) as s:
        shared = set(s.scalars(select(Timer.id).where(Timer.kind == "handoff_export")))
    # (the day's hand-off export acts for both claims: its message follows from neither)
    follow_ups = [r for r in rows if r.actor in ("fire_timers", "dispatch_letters") and not set(r.payload["args"][0]) <= shared]
    assert follow_ups and {r.correlation_id for r in follow_ups} <= {x["id"], y["id"]}
    assert {r.actor for r in follow_ups if r.correlation_id == x["id"]} == {"fire_timers", "dispatch_letters"}
    with read_session(pipe.app.db) as s:
        by_letter = dict(s.execute(select(LetterClaim.letter_id, LetterClaim.claim_id)).all())
    by_claim = {"I1": x["id"], "I2": y["id"]}
    # (a set-based path writes its events many to a row: the row names their event when they
    # all share one, else none; each envelope names its own)
    outbound = [(r, e, e["data"].get("invoice_id") or by_letter.get(e["data"].get("letter_id")))
                for r in rows if r.queue == QUEUE_OUTBOUND for e in outbound_events(r.payload)]
    outbound = [(r, e, claim) for r, e, claim in outbound if claim]
    assert {e["type"] for _, e, _ in outbound} >= {
        "reminder-sent", "collection-demand-sent", "collection-handed-off", "letter-ready"}
    for r, e, claim in outbound:
        assert e["correlation_id"] == by_claim[claim], e
        assert r.correlation_id in (e["correlation_id"], None), (r.correlation_id, e)
    assert any(r.correlation_id == e["correlation_id"] for r, e, _ in outbound)
    # The ingest messages of `likvid publish` follow from no single event.
    assert all(r.correlation_id is None for r in rows if r.actor == "ingest_events")


def test_the_relay_puts_the_id_in_the_message_and_the_worker_logs_under_it(pipe: Pipeline, logs: JsonLines) -> None:
    assert pipe.worker is not None
    assert any(isinstance(m, Correlation) for m in pipe.worker.broker.middleware)
    pipe.worker.pause()
    # Given a follow-up message written under an event's id (for a timer that is gone)
    with transaction(pipe.app.db) as s, correlated("corr-R"):
        message_id = enqueue(s, pipe.app.clock.now(s), QUEUE_STEPS, "fire_timers", [999_999])
    # When the relay publishes it
    queued = redis.Redis.from_url(pipe.redis_url)
    deadline = time.monotonic() + 30
    while not (found := [m for m in map(json.loads, queued.hvals(f"dramatiq:{QUEUE_STEPS}.msgs"))
                         if m["message_id"] == message_id]):
        assert time.monotonic() < deadline, "the relay did not publish the message"
        time.sleep(0.02)
    # Then the id rides in the dramatiq message's options
    assert found[0]["options"]["correlation_id"] == "corr-R"
    # and the worker handles the message under it (the middleware sets it again)
    pipe.worker.resume()
    wait_quiet(pipe.app, 60)
    lines = [line for line in logs.of("likvid.steps") if line["message"] == "timer 999999 (?): no such timer"]
    assert [line.get("correlation_id") for line in lines] == ["corr-R"]


def test_set_based_runs_give_each_row_its_own_event_id(pipe: Pipeline, logs: JsonLines) -> None:
    # Given two invoices in one publish (applied set-based, bulk_ingest)
    a = with_id(invoice("I1", "C1", "300.00"), "corr-A")
    b = with_id(invoice("I2", "C2", "400.00"), "corr-B")
    pipe.publish(customer("C1"), customer("C2"))
    pipe.publish(a, b)
    # Then one line lists both event ids, and each claim's due-date timer carries its own
    batch = [line for line in logs.of("likvid.ingest") if "set-based" in line["message"]]
    assert [(line["message"], line["correlation_ids"]) for line in batch] == [
        ("invoice-issued: 2 applied set-based", ["corr-A", "corr-B"])]
    assert "correlation_id" not in batch[0]
    with read_session(pipe.app.db) as s:
        due = dict(s.execute(select(Timer.claim_id, Timer.correlation_id).where(Timer.kind == "invoice_due")).all())
    assert due == {"I1": "corr-A", "I2": "corr-B"}

    # When both are paid in one publish (applied set-based, payment_batch)
    pa = payment("P1", "300.00", invoice_id="I1")
    pb = payment("P2", "400.00", invoice_id="I2")
    pipe.publish(pa, pb)
    # Then each claim-settled event follows from its own payment's event
    assert pipe.invoice("I1")["status"] == pipe.invoice("I2")["status"] == "settled"
    # (the set-based path writes both events in one outbox row, which follows from neither alone)
    settled = {e["data"]["invoice_id"]: e["correlation_id"] for r in outbox_rows(pipe) if r.queue == QUEUE_OUTBOUND
               for e in outbound_events(r.payload) if e["type"] == "claim-settled"}
    assert settled == {"I1": pa["id"], "I2": pb["id"]}
    assert any(line.get("correlation_ids") == [pa["id"], pb["id"]] for line in logs.of("likvid.ingest"))


def test_a_parked_event_is_applied_later_under_its_own_id(pipe: Pipeline, logs: JsonLines) -> None:
    # Given a payment that arrives before its invoice (it parks)
    pay = with_id(payment("P1", "500.00", invoice_id="I9"), "corr-pay-P1")
    inv = with_id(invoice("I9", "C1", "500.00"), "corr-inv-I9")
    pipe.publish(customer("C1"), pay)
    # When the invoice arrives
    pipe.publish(inv)
    # Then the payment is applied under its own id, not the invoice's that released it
    assert pipe.invoice("I9")["status"] == "settled"
    lines = {(line["message"], line.get("correlation_id")) for line in logs.of("likvid.ingest")}
    assert ("payment-received: parked", pay["id"]) in lines
    assert ("payment-received (parked for invoice:I9): applied", pay["id"]) in lines
    assert ("invoice-issued: applied", inv["id"]) in lines
    settled = [r for r in outbox_rows(pipe) if r.queue == QUEUE_OUTBOUND and r.payload["type"] == "claim-settled"]
    assert [(r.correlation_id, r.payload["correlation_id"]) for r in settled] == [(pay["id"], pay["id"])]
    with read_session(pipe.app.db) as s:
        due = s.scalars(select(Timer.correlation_id).where(Timer.claim_id == "I9")).all()
    assert due == [inv["id"]]  # its due date was scheduled by the invoice (then cancelled by the payment)
