"""Hostile input: hypothesis-generated events through `likvid publish` (the CLI command, in
process) and through the HTTP API (uvicorn on a loopback port), in front of the real pipeline
(real Redis, dramatiq worker threads, relay, scheduler, PostgreSQL and SQLite).

Every event is a valid one with one or more fields replaced by something hostile: a wrong
type, a huge string, odd Unicode (NUL, lone surrogates, controls, right-to-left marks), an
invalid identity number or OCR reference, a negative or enormous amount, a date far off, an
unknown field. Each one must be either rejected with a reason that names a field, or applied
correctly; the workers keep consuming; a rejected event leaves nothing but its
``rejected_events`` row (and the processed ingest message when the worker rejected it).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from likvid.api import create_app, hash_token, parse_tokens
from likvid.cli.main import cli
from likvid.db import read_session
from likvid.models import Base, Claim, Customer, ReceivedEvent
from likvid.runtime.redis_server import RedisServer
from likvid.service.progress import wait_quiet
from tests.support.pipeline import (
    Pipeline,
    customer,
    emptied_redis,
    invoice,
    payment,
    running_pipeline,
)
from tests.support.postgres import PostgresServer

TOKEN = "hostile-admin-token"

# --- Hostile values ----------------------------------------------------------------------------

odd_text = st.text(
    alphabet=st.characters(codec=None, categories=("L", "M", "N", "P", "S", "Z", "C")),
    max_size=40,
)  # includes NUL, controls, lone surrogates (Cs), private use, unassigned
odd_unicode = st.sampled_from([
    "\x00", "a\x00b", "\ud800", "x\udfffy", "\u202eevil", "\ufeff", "\u200b", "\U0001f4a9" * 3,
    "Åsa Öberg-Ängström", "\r\n", "\t", "\x7f", "\x9f", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "null", "",
    " ", "'; DROP TABLE claims; --", "<script>alert(1)</script>", "{{ 7*7 }}", "%s%n",
])
huge = st.sampled_from([10_000, 100_000, 300_000]).map(lambda n: "x" * n)
wrong_type = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
bad_identity = st.sampled_from([
    "811218-9875", "000000-0000", "19811218-98760", "811318-9876", "abc", "81121898", "1" * 20,
    "991231+9999", "16550101-0000", "555555-5555",
])
bad_ocr = st.sampled_from(["0", "12345", "1234567890123456789012345678", "ABC", "12 34", "-1", "1e5"])
bad_amount = st.one_of(
    st.sampled_from([
        "-1.00", "0", "0.00", "-0.00", "1e400", "NaN", "Infinity", "99999999999999999999999.99",
        "1000000000000.00", "0.001", "1,50", "1 000.00", "+5.00", "0x10", "", "١٢٣",
    ]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
)
far_date = st.sampled_from([
    "0001-01-01", "9999-12-31", "1900-01-01", "2300-06-15", "+275760-09-13", "2026-02-30",
    "2026-13-01", "20260105", "2026-1-5", "", "yesterday",
])
far_timestamp = st.sampled_from([
    "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+14:00", "2026-01-05T09:00:00",
    "2026-01-05T25:00:00+01:00", "2026-01-05T09:00:00+25:00", "1970-01-01T00:00:00Z",
])
hostile_value = st.one_of(odd_text, odd_unicode, huge, wrong_type, bad_identity, bad_ocr,
                          bad_amount, far_date, far_timestamp)

_FIELDS = {
    "customer-registered": ["customer_id", "party_type", "identity_number", "name", "address",
                            "email", "phone", "language", "consumer", "protected_identity",
                            "representative", "address.street", "address.postal_code",
                            "address.city", "address.country"],
    "invoice-issued": ["invoice_id", "creditor_id", "customer_id", "invoice_number", "issue_date",
                       "due_date", "amount", "claim_kind", "claim_nature", "ocr_reference",
                       "reminder_fee_agreed"],
    "payment-received": ["payment_id", "amount", "paid_on", "reference", "invoice_id", "payer",
                         "channel"],
}
_ENVELOPE = ["id", "type", "version", "occurred_at", "source", "data"]
_seq = iter(range(10**9))


def _template(kind: str, n: int) -> dict[str, Any]:
    if kind == "customer-registered":
        return customer(f"HC-{n}", identity_number="811218-9876")
    if kind == "invoice-issued":
        return invoice(f"HI-{n}", "H-CUST", "123.45", invoice_number=f"H{n}")
    return payment(f"HP-{n}", "12.34", invoice_id="H-INV")


@st.composite
def hostile_event(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(_FIELDS)))
    n = next(_seq)
    event = _template(kind, n)
    event["id"] = f"hostile-{n}-{time.monotonic_ns()}"
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        where = draw(st.sampled_from(["data"] * 4 + ["envelope", "extra"]))
        value = draw(hostile_value)
        if where == "envelope":
            event[draw(st.sampled_from(_ENVELOPE))] = value
        elif where == "extra":
            target = event["data"] if isinstance(event.get("data"), dict) else event
            target[draw(st.sampled_from(["unexpected", "évil", "\x00", "__proto__"]))] = value
        elif isinstance(event.get("data"), dict):
            path = draw(st.sampled_from(_FIELDS[kind])).split(".")
            target = event["data"]
            if len(path) == 2:
                if not isinstance(target.get(path[0]), dict):
                    target[path[0]] = {}
                target = target[path[0]]
            target[path[-1]] = value
    return event


# --- The pipeline and the API ------------------------------------------------------------------


@dataclass
class Harness:
    pipe: Pipeline
    http: httpx.Client

    def counts(self) -> dict[str, int]:
        with read_session(self.pipe.app.db) as s:
            return {t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
                    for t in Base.metadata.sorted_tables}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def harness(request: pytest.FixtureRequest, redis_server: RedisServer,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    tmp = tmp_path_factory.mktemp("hostile")
    emptied_redis(redis_server)
    pg: PostgresServer | None = None
    db_name = ""
    if request.param == "postgres":
        pg = request.getfixturevalue("postgres_server")
        db_name, url = pg.create_database()
    else:
        url = f"sqlite:///{tmp}/likvid.db"
    try:
        with running_pipeline(url, redis_server.url, tmp / "home") as pipe:
            pipe.publish(customer("H-CUST"), invoice("H-INV", "H-CUST", "100000.00", invoice_number="H0"))
            tokens = parse_tokens({"tokens": [{"name": "admin", "sha256": hash_token(TOKEN),
                                               "publish": ["*"], "read": True}]})
            server = uvicorn.Server(uvicorn.Config(create_app(pipe.app, tokens, redis_server.url),
                                                   log_level="warning", lifespan="off"))
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
            thread.start()
            deadline = time.monotonic() + 10
            while not server.started:
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.02)
            port = sock.getsockname()[1]
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                  headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                    yield Harness(pipe, http)
            finally:
                server.should_exit = True
                thread.join(10)
                sock.close()
    finally:
        if pg is not None:
            pg.drop_database(db_name)


# --- The oracle ---------------------------------------------------------------------------------


def _names_a_field(errors: Any) -> bool:
    return (isinstance(errors, list) and len(errors) > 0
            and all(isinstance(e, dict) and isinstance(e.get("field"), str) and e["field"]
                    and isinstance(e.get("reason"), str) and e["reason"] for e in errors))


def _stored_status(h: Harness, event_id: Any) -> str | None:
    if not isinstance(event_id, str):
        return None
    with read_session(h.pipe.app.db) as s:
        return s.scalar(select(ReceivedEvent.status).where(ReceivedEvent.id == event_id))


def _check_applied_correctly(h: Harness, event: dict[str, Any]) -> None:
    """An applied event's effect matches what it said."""
    data = event["data"]
    with read_session(h.pipe.app.db) as s:
        if event["type"] == "customer-registered":
            c = s.get(Customer, data["customer_id"])
            assert c is not None and c.name == data["name"]
        elif event["type"] == "invoice-issued":
            claim = s.scalar(select(Claim).where(Claim.invoice_id == data["invoice_id"]))
            assert claim is not None
            assert claim.customer_id == data["customer_id"]
            assert claim.amount_ore == int(Decimal(data["amount"]) * 100)


def _check(h: Harness, event: dict[str, Any], result: dict[str, Any], before: dict[str, int]) -> None:
    after = h.counts()
    changed = {t for t in after if after[t] != before[t]}
    if result["status"] == "rejected":
        assert _names_a_field(result.get("errors")), result
        # Rejected on validation: its rejected_events row, and nothing else at all.
        assert changed == {"rejected_events"}, (changed, result)
        assert after["rejected_events"] == before["rejected_events"] + 1
        return
    assert result["status"] == "accepted", result
    status = _stored_status(h, event["id"])
    if status is None:  # the worker rejected it (a business rule): nothing of it was kept
        assert after["rejected_events"] == before["rejected_events"] + 1, (changed, result)
        assert changed <= {"rejected_events", "outbox"}, changed
        return
    assert status in ("applied", "parked", "recorded"), status
    if status == "applied":
        _check_applied_correctly(h, event)


def _worker_alive(h: Harness) -> None:
    """The workers still consume: a plain valid event is applied."""
    n = next(_seq)
    ok = customer(f"ALIVE-{n}")
    ok["id"] = f"alive-{n}-{time.monotonic_ns()}"
    h.pipe.publish(ok)
    assert _stored_status(h, ok["id"]) == "applied"
    with read_session(h.pipe.app.db) as s:
        assert s.scalar(select(func.count()).select_from(Base.metadata.tables["dead_letters"])) == 0


def _with(kind: str, path: str, value: Any, n: int) -> dict[str, Any]:
    event = _template(kind, 10**8 + n)
    event["id"] = f"hostile-example-{n}-{time.monotonic_ns()}"
    target = event
    *parents, last = path.split(".")
    for p in parents:
        target = target[p]
    target[last] = value
    return event


#: Always tried, besides what hypothesis generates (each case the issue names, on purpose).
EXAMPLES = [
    _with("customer-registered", "data.name", "Anna \x00 Andersson", 1),
    _with("customer-registered", "data.name", "Anna \ud800 Andersson", 2),
    _with("customer-registered", "data.\udfff", "x", 3),
    _with("customer-registered", "data.address.street", "x" * 300_000, 4),
    _with("customer-registered", "data.identity_number", "811218-9875", 5),
    _with("customer-registered", "data.name", "Åsa \u202e 𝔘𝔫𝔦 \U0001f4a9 Öberg", 6),
    _with("invoice-issued", "data.amount", "-100.00", 7),
    _with("invoice-issued", "data.amount", "99999999999999999999999.99", 8),
    _with("invoice-issued", "data.amount", 100, 9),
    _with("invoice-issued", "data.ocr_reference", "1234567890123456789012345678", 10),
    _with("invoice-issued", "data.due_date", "9999-12-31", 11),
    _with("invoice-issued", "data.issue_date", "0001-01-01", 12),
    _with("invoice-issued", "data.customer_id", "\x00", 13),
    _with("payment-received", "data.amount", "1e400", 14),
    _with("payment-received", "data.paid_on", "+275760-09-13", 15),
    _with("payment-received", "data.reference", "12345", 16),
    _with("payment-received", "id", "\ud800", 17),
    _with("payment-received", "occurred_at", "9999-12-31T23:59:59+14:00", 18),
    _with("invoice-issued", "data", [1, 2, 3], 19),
    _with("invoice-issued", "version", 2**70, 20),
    _with("payment-received", "data.paid_on", "9999-12-31", 21),
    _with("payment-received", "data.paid_on", "0001-01-01", 22),
    _with("customer-registered", "data.phone", "\ufeff" * 50, 23),
]


def examples(test: Any) -> Any:
    for event in EXAMPLES:  # an event id of its own per test
        mine = {**event, "id": f"{event['id']}-{test.__name__[5:20]}"} if isinstance(event["id"], str) else event
        test = example(event=mine)(test)
    return test


SETTINGS = settings(max_examples=20, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")  # worker threads use random
@SETTINGS
@examples
@given(event=hostile_event())
def test_likvid_publish_rejects_with_a_field_or_applies(harness: Harness, event: dict[str, Any]) -> None:
    before = harness.counts()
    line = json.dumps(event)  # ASCII: lone surrogates and NUL travel as \\u escapes, as JSON allows
    out = CliRunner().invoke(cli, ["publish", "-", "--wait", "--timeout", "60"], input=line + "\n")
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    results = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
    assert len(results) == 1, out.stdout
    assert out.exit_code == (1 if results[0]["status"] == "rejected" else 0)
    wait_quiet(harness.pipe.app, 60)
    _check(harness, event, results[0], before)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@SETTINGS
@examples
@given(event=hostile_event())
def test_http_api_rejects_with_a_field_or_applies(harness: Harness, event: dict[str, Any]) -> None:
    before = harness.counts()
    resp = harness.http.post("/v1/events", content=json.dumps(event).encode(),
                             headers={"Content-Type": "application/json"})
    assert resp.status_code in (202, 413, 422), resp.text
    if resp.status_code == 413:  # over the body limit: refused before anything is read
        assert harness.counts() == before
        return
    results = resp.json()["results"]
    assert len(results) == 1
    wait_quiet(harness.pipe.app, 60, [results[0]["id"]] if results[0]["status"] == "accepted" else [])
    _check(harness, event, results[0], before)


def test_hostile_bodies_over_http_are_refused_with_a_reason(harness: Harness) -> None:
    before = harness.counts()
    for body, ctype in [
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"{not json", "application/json"),
        (b"[]", "application/json"),
        (b"\n\n", "application/x-ndjson"),
        (b'"just a string"', "application/json"),
        (b"1e999999", "application/json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ]:
        resp = harness.http.post("/v1/events", content=body, headers={"Content-Type": ctype})
        assert resp.status_code in (413, 422), (body[:20], resp.status_code, resp.text)
        assert resp.json().get("detail"), resp.text
    wait_quiet(harness.pipe.app, 60)
    after = harness.counts()
    assert {t for t in after if after[t] != before[t]} <= {"rejected_events"}
    _worker_alive(harness)


def test_workers_keep_consuming_after_the_hostile_events(harness: Harness) -> None:
    # Runs after the generated events (file order): the same worker threads are still there.
    worker = harness.pipe.worker
    assert worker is not None
    assert all(t.is_alive() for t in worker.workers)
    assert all(t.is_alive() for t in worker.consumers.values())
    _worker_alive(harness)


def test_unicode_survives_a_round_trip(harness: Harness, tmp_path: Path) -> None:
    name = "Åsa Ö'Brien-Ängström \u202e 𝔘𝔫𝔦 \U0001f4a9"
    event = customer("H-UNI", name=name)
    result = harness.pipe.publish(event)
    assert result[0]["status"] == "accepted"
    with read_session(harness.pipe.app.db) as s:
        c = s.get(Customer, "H-UNI")
        assert c is not None and c.name == name
