"""The set-based `payment-received` handler (likvid/service/payment_batch.py) leaves exactly the
state the one-by-one path (payments.receive) leaves: the same generated mix of payments is
applied both ways, on SQLite and on PostgreSQL, and the ledger, claims, timers, payments,
events, parked events, timeline and outbound events are compared."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from likvid.clock import STOCKHOLM
from likvid.db import dispose_engines, read_session
from likvid.models import (
    Claim,
    CollectionCase,
    LedgerEntry,
    Letter,
    OutboxMessage,
    ParkedEvent,
    Payment,
    ReceivedEvent,
    RejectedEvent,
    TimelineEntry,
    Timer,
)
from likvid.policy import default_policy_text
from likvid.service import ingest, ledger
from likvid.service.app import App, bootstrap, prepare
from likvid.service.progress import set_clock
from likvid.service.records import outbound_events
from likvid.settings import Settings
from tests.support.inline import Inline
from tests.support.pipeline import customer, envelope, invoice, objection, payment

CUSTOMERS = 30
START = datetime(2026, 1, 5, 8, 0, tzinfo=STOCKHOLM)
AFTER_REMINDERS = datetime(2026, 2, 12, 8, 0, tzinfo=STOCKHOLM)


def kr(ore: int) -> str:
    return f"{ore // 100}.{ore % 100:02d}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes a fresh empty database per call."""
    made: list[str] = []
    server = request.getfixturevalue("postgres_server") if request.param == "postgres" else None

    def make() -> str:
        if server is None:
            made.append(f"sqlite:///{tmp_path}/db{len(made)}.db")
            return made[-1]
        name, url = server.create_database()
        made.append(name)
        return str(url)

    yield make
    dispose_engines()
    if server is not None:
        for name in made:
            server.drop_database(name)


def _setup(url: str, home: Path, policy: Path) -> App:
    """Customers with one to three invoices, reminders with fees, a hold, a settled claim, a
    proposed payment plan and a reversal waiting for a payment not received yet."""
    dispose_engines()
    app = bootstrap(Settings.from_env({"LIKVID_HOME": str(home), "LIKVID_CLOCK": "simulated",
                                       "LIKVID_DATABASE_URL": url, "LIKVID_POLICY": str(policy)}), fresh=True)
    prepare(app)
    set_clock(app, START)
    svc = Inline(app)
    events: list[dict[str, Any]] = []
    for c in range(CUSTOMERS):
        events.append(customer(f"C{c}") | {"id": f"cust-{c}"})
        for n in range(1 + c % 3):
            events.append(invoice(f"I{c}-{n}", f"C{c}", kr(50_000 + 7_919 * (c * 3 + n)), due=f"2026-01-{20 + n * 5}",
                                  reminder_fee_agreed=(c + n) % 2 == 0, invoice_number=f"{c}0{n}")
                          | {"id": f"inv-{c}-{n}"})
    svc.publish(*events)
    svc.advance_to(AFTER_REMINDERS)
    svc.publish(objection("O1", "I1-0") | {"id": "obj-1"},
                payment("early", "100000.00", invoice_id="I2-0", paid_on="2026-02-10") | {"id": "pay-early"},
                envelope("payment-reversed", {"payment_id": "P-reversed", "reason": "återförd"}, id="rev-1"))
    with read_session(app.db) as s:
        debt = sum(b.total for b in ledger.balances(s, ["I5-0", "I5-1", "I5-2"]).values())
    svc.publish(envelope("payment-plan-proposed", {
        "plan_id": "PLAN1", "customer_id": "C5", "creditor_id": "kommun", "invoice_ids": ["I5-0", "I5-1", "I5-2"],
        "installments": [{"due_date": "2026-03-31", "amount": kr(debt - debt // 2)},
                         {"due_date": "2026-04-30", "amount": kr(debt // 2)}]}, id="plan-1"))
    return app


def _mix(app: App, seed: int) -> list[dict[str, Any]]:
    """Payments by invoice id, by the invoice's OCR reference and by the case's, exact, partial,
    over, leaving a residual to write off, for unknown invoices, repeated payment ids."""
    rnd = random.Random(seed)
    with read_session(app.db) as s:
        claims = s.execute(select(Claim.invoice_id, Claim.ocr_reference, Claim.case_id).order_by(Claim.invoice_id)).all()
        case_ocr = dict(s.execute(select(CollectionCase.id, CollectionCase.ocr_reference)).all())
        owed = {c.invoice_id: b.total for c, b in zip(claims, ledger.balances(s, [c.invoice_id for c in claims]).values(), strict=True)}
    out: list[dict[str, Any]] = []
    for n in range(80):
        c = rnd.choice(claims)
        amount = rnd.choice([owed[c.invoice_id], owed[c.invoice_id] // 2, owed[c.invoice_id] + 12_345,
                             owed[c.invoice_id] - 500, rnd.randint(1, 200_000)])
        amount = max(amount, 100)
        pid = f"P{n}"
        how = rnd.random()
        if how < 0.04:
            pid = "P-reversed"
        elif how < 0.1 and out:
            pid = rnd.choice(out)["data"]["payment_id"]
        where = rnd.random()
        if where < 0.45:
            ev = payment(pid, kr(amount), invoice_id=c.invoice_id)
        elif where < 0.85:
            ev = payment(pid, kr(amount), reference=c.ocr_reference)
        elif where < 0.93:
            ev = payment(pid, kr(amount), reference=case_ocr[c.case_id])
        else:
            ev = payment(pid, kr(amount), invoice_id=f"UNKNOWN-{n % 3}")
        ev["id"] = f"mix-{n}"
        ev["data"]["paid_on"] = "2026-02-11"
        out.append(ev)
    return out


def _snapshot(app: App) -> dict[str, Any]:
    with read_session(app.db) as s:
        def rows(*cols: Any, order: Any = None) -> list[tuple[Any, ...]]:
            return sorted(tuple(r) for r in s.execute(select(*cols)).all())

        timeline: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
        for t in s.scalars(select(TimelineEntry).order_by(TimelineEntry.id)):
            timeline[f"{t.claim_id} {t.customer_id} {t.case_id}"].append(
                (t.type, json.dumps({k: v for k, v in t.details.items() if k != "sha256"}, sort_keys=True), t.basis, t.at))
        outbound = sorted(  # without the random event id and a letter file's digest (it holds the letter id)
            json.dumps({k: v for k, v in e.items() if k != "id"}
                       | {"data": {k: v for k, v in e["data"].items() if k != "sha256"}}, sort_keys=True)
            for o in s.scalars(select(OutboxMessage).where(OutboxMessage.queue == "outbound"))
            for e in outbound_events(o.payload))
        # letter ids are random: name each by its kind and case
        letters = {lid: f"letter {kind} {case} {level} {at}" for lid, kind, case, level, at
                   in s.execute(select(Letter.id, Letter.kind, Letter.case_id, Letter.level, Letter.created_at))}
        snapshot = {
            "ledger": rows(LedgerEntry.claim_id, LedgerEntry.kind, LedgerEntry.component, LedgerEntry.amount_ore,
                           LedgerEntry.booked_at, LedgerEntry.value_date, LedgerEntry.ref, LedgerEntry.note),
            "claims": rows(Claim.invoice_id, Claim.status, Claim.stage, Claim.closed_at),
            "timers": rows(Timer.claim_id, Timer.kind, Timer.ref, Timer.due_at, Timer.status, Timer.done_at, Timer.outcome),
            "payments": [(p.payment_id, p.amount_ore, p.paid_on, p.reference, p.invoice_id, p.channel, p.status, p.payer,
                          p.overpayment_ore, p.event_id, p.received_at)
                         for p in s.scalars(select(Payment).order_by(Payment.payment_id))],
            "events": [(e.id, e.type, e.status, json.dumps(e.data, sort_keys=True), e.occurred_at, e.received_at)
                       for e in s.scalars(select(ReceivedEvent).order_by(ReceivedEvent.id))],
            "parked": rows(ParkedEvent.waiting_for, ParkedEvent.event_id),
            "rejected": sorted((r.event_id, json.dumps(r.reasons)) for r in s.scalars(select(RejectedEvent))),
            "timeline": dict(timeline),
            "outbound": outbound,
        }
    text = json.dumps(snapshot, default=str, sort_keys=True)
    for lid, label in letters.items():
        text = text.replace(lid, label)
    # sorted again now that the letters have their names (the timeline keeps its order)
    return {k: v if k == "timeline" else sorted(v, key=json.dumps) for k, v in json.loads(text).items()}


@pytest.mark.parametrize("seed", [1, 2])
def test_batch_leaves_exactly_what_one_by_one_leaves(
    new_database: Callable[[], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    policy = tmp_path / "policy.toml"
    kommun = 'ocr_prefix = "1"'
    text = default_policy_text()
    assert kommun in text
    policy.write_text(text.replace(kommun, kommun + '\nwrite_off_below = "10.00"', 1), encoding="utf-8")
    snapshots = []
    slow_calls: list[int] = []
    for batched in (False, True):
        app = _setup(new_database(), tmp_path / f"home-{batched}", policy)
        mix = _mix(app, seed)
        calls = [0]
        one_by_one = ingest.HANDLERS["payment-received"]

        def counting(*args: Any, _inner: Any = one_by_one, _calls: list[int] = calls) -> Any:
            _calls[0] += 1
            return _inner(*args)

        with monkeypatch.context() as m:
            m.setitem(ingest.HANDLERS, "payment-received", counting)
            if not batched:
                m.delitem(ingest.BATCH_HANDLERS, "payment-received")
            for i in range(0, len(mix), 40):  # two messages, as an import sends them
                ingest.handle(app, mix[i : i + 40], None)
        slow_calls.append(calls[0])
        snapshots.append(_snapshot(app))
        dispose_engines()
    slow, fast = snapshots
    assert {"claim-settled", "overpayment-recorded", "claim-written-off", "payment-parked"} <= {
        t[0] for ts in slow["timeline"].values() for t in ts}
    for key in slow:
        assert fast[key] == slow[key], key
    # the mix exercises both paths: most payments taken set-based, the rest declined
    assert slow_calls[0] == 80 and 5 < slow_calls[1] < 60, slow_calls
