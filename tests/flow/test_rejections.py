"""Every event type rejects a malformed example with the field named; nothing is half stored;
the worker keeps running; `likvid rejected list` shows the reasons."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from likvid.cli.main import cli
from likvid.db import read_session
from likvid.messages import EVENT_TYPES
from likvid.models import Claim, ReceivedEvent, RejectedEvent
from tests.support.pipeline import Pipeline, customer, envelope, invoice, running_pipeline


@pytest.fixture
def pipe(sqlite_url: str, redis_url: str, tmp_path: Path) -> Iterator[Pipeline]:
    with running_pipeline(sqlite_url, redis_url, tmp_path / "home") as p:
        yield p


def test_every_type_rejects_a_malformed_example_and_lists_it(pipe: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = [envelope(t, {}, id=f"bad-{t}") for t in EVENT_TYPES]
    results = pipe.publish(*bad)
    assert len(results) == len(EVENT_TYPES)
    for event, result in zip(bad, results, strict=True):
        assert result["status"] == "rejected", event["type"]
        assert all(e["field"].startswith("data") for e in result["errors"]), result
        assert result["errors"][0]["reason"] == "is required", result
    with read_session(pipe.app.db) as s:
        assert s.scalar(select(func.count()).select_from(ReceivedEvent)) == 0
        assert s.scalar(select(func.count()).select_from(RejectedEvent)) == len(EVENT_TYPES)
    # `likvid rejected list` shows each with its reasons
    for key in ("LIKVID_HOME", "LIKVID_DATABASE_URL", "LIKVID_CLOCK"):
        monkeypatch.setenv(key, {"LIKVID_HOME": str(pipe.app.settings.home), "LIKVID_DATABASE_URL": pipe.app.db, "LIKVID_CLOCK": "simulated"}[key])
    from likvid.service import app as app_module

    monkeypatch.setattr(app_module, "_APP", pipe.app)
    out = CliRunner().invoke(cli, ["rejected", "list", "--json", "--limit", "100"])
    assert out.exit_code == 0, out.output
    listed = json.loads(out.output)
    assert {item["type"] for item in listed} == set(EVENT_TYPES)
    assert all(item["reasons"] and item["reasons"][0]["field"].startswith("data.") for item in listed)


def test_a_worker_survives_garbage_sent_straight_to_redis(pipe: Pipeline) -> None:
    from likvid.workers import actors  # after the pipeline configured the broker

    # Given garbage enqueued directly on the ingest queue, bypassing `publish`
    actors.ingest_event.send({"id": "x1", "type": "invoice-issued", "data": "not an object"})
    actors.ingest_event.send("{not json")
    actors.ingest_events.send([{"id": "x2", "type": "no-such-type", "version": 1}])
    # When a valid customer and invoice follow
    pipe.publish(customer("C1"), invoice("I1", "C1", "100.00"))
    # Then the garbage is recorded as rejected and the valid events applied
    with read_session(pipe.app.db) as s:
        assert s.get(Claim, "I1") is not None
    # (messages put straight onto Redis bypass the outbox, so nothing tracks them: poll)
    deadline = time.monotonic() + 60
    while True:
        with read_session(pipe.app.db) as s:
            reasons = s.scalars(select(RejectedEvent.reasons)).all()
        if len(reasons) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(reasons) >= 3


def test_a_rejected_domain_event_leaves_nothing_behind(pipe: Pipeline) -> None:
    pipe.publish(customer("C1"), invoice("I1", "C1", "100.00"))
    # a credit larger than the claim is refused whole: no ledger entry, no timeline, no event
    res = pipe.publish(envelope("invoice-credited", {"invoice_id": "I1", "credit_id": "K1", "amount": "150.00"}, id="cr-1"))
    assert res[0]["status"] == "accepted"  # valid in form; refused when applied
    inv = pipe.invoice("I1")
    assert inv["balance"]["capital"] == "100.00"
    assert "invoice-credited" not in pipe.timeline_types("I1")
    with read_session(pipe.app.db) as s:
        assert s.get(ReceivedEvent, "cr-1") is None
        row = s.scalar(select(RejectedEvent).where(RejectedEvent.event_id == "cr-1"))
        assert row is not None and row.reasons[0]["field"] == "data.amount"


def test_publish_command_prints_a_line_per_event_and_fails_on_a_rejection(pipe: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from likvid.service import app as app_module

    monkeypatch.setattr(app_module, "_APP", pipe.app)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in [customer("C1"), invoice("I1", "C1", "abc")]) + "\n{oops\n")
    out = CliRunner().invoke(cli, ["publish", str(events), "--wait", "--timeout", "60"])
    assert out.exit_code == 1
    lines = [json.loads(line) for line in out.output.strip().splitlines()]
    assert [line["status"] for line in lines] == ["accepted", "rejected", "rejected"]
    assert lines[1]["errors"][0]["field"] == "data.amount"
    assert lines[2]["errors"][0]["field"] == "$"
    ok = tmp_path / "ok.jsonl"
    ok.write_text(json.dumps(invoice("I2", "C1", "10.00")) + "\n")
    assert CliRunner().invoke(cli, ["publish", str(ok), "--wait"]).exit_code == 0
    assert pipe.invoice("I2")["status"] == "open"
