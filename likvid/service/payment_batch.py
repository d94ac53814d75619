"""``payment-received`` set-based: a run of payments (one ingest message, e.g. one chunk of a
BgMax import) applied with a handful of statements instead of several per payment.

It takes only the plain cases and declines the rest, which ``ingest`` then applies one by one
through ``payments.receive`` after the ones taken here. A payment is plain when its id is new
(not stored, not earlier in the run, nothing parked waiting for it), it names exactly one
known claim (by invoice id, else by an OCR reference only that claim has) and that claim is
open, and nothing in the claim's case asks for more than allocating and settling: no claim of
the case handed off, no hold in force on the case, its claims or its customer, no proposed or
active payment plan of the customer, no small residual to write off. A declined payment
"taints" its case: every later payment in the run for that case is declined too, so that the
payments of one case are always applied in their order (the slow path runs after the batch).

What a taken payment leaves is exactly what ``payments.receive`` → ``payments.apply`` →
``claims.close_if_paid`` leave: the stored event (applied), the payment row (applied, with its
overpayment), one ledger entry per (claim, component) allocated by ``rules.collection.allocate``
in the configured order over the paid claim and then the case's other open claims (oldest
effective due date first), a ``payment-applied`` timeline entry per claim paid, a settled claim
with its pending steps cancelled and ``claim-settled`` recorded, and ``overpayment-recorded``
for a surplus (tests/flow/test_payment_batch.py compares both paths on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Table,
    and_,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from likvid import jsontext
from likvid.clock import to_db
from likvid.db import among, is_sqlite
from likvid.messages import Event
from likvid.models import (
    Claim,
    CollectionCase,
    Handoff,
    Hold,
    LedgerEntry,
    OutboxMessage,
    ParkedEvent,
    Payment,
    PaymentPlan,
    ReceivedEvent,
    Surveillance,
    TimelineEntry,
    Timer,
)
from likvid.rules.collection import COMPONENTS, allocate
from likvid.rules.money import parse_kronor
from likvid.service.app import App
from likvid.service.parking import lock_keys
from likvid.service.records import Stamps, inbox_row, outbound_rows, record_rows

#: Hand-off statuses under which a payment must be reported to the receiver (handoff.py).
HANDOFF_IN_PLAY = ("waiting", "queued", "exported")
#: Plan statuses under which a payment may mean more than allocation (plans.py).
PLAN_IN_PLAY = ("proposed", "active")
#: The basis ``payments.apply`` gives an overpayment.
OVERPAYMENT_BASIS = "no open claim left with the creditor: refund by staff"


@dataclass(slots=True)
class _Claim:
    invoice_id: str
    case_id: int
    customer_id: str
    creditor_id: str
    effective_due_date: Any
    #: Open amount per component, every component allocated to present (``rules.collection.allocate``
    #: reads it as it reads a ``Balance``).
    balance: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0))
    open: bool = True

    @property
    def total(self) -> int:
        return sum(self.balance.values())


@dataclass(slots=True)
class _Taken:
    event: Event
    case_id: int
    customer_id: str
    parts: list[tuple[str, str, int]]
    paid: list[tuple[str, int]]  # (claim, amount) in allocation order
    settled: list[str]
    surplus: int


def _insert(s: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Many rows at once: COPY on PostgreSQL (in this transaction; a JSON column's value that is
    ``jsontext.Text`` goes as the text it is), else executemany."""
    if is_sqlite(s.get_bind()):
        s.execute(insert(table), rows)
        return
    # COPY knows only the server's defaults: add the model's scalar ones, as an INSERT does.
    defaults = {c.name: c.default.arg for c in table.columns  # type: ignore[union-attr]
                if c.name not in rows[0] and c.default is not None and c.default.is_scalar}
    columns = [*rows[0], *defaults]
    # JSON columns go as text; the others as they are (the columns are known, not guessed per value).
    as_json = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
    # So do dates and times, each instant formatted once a batch (a batch's rows share a
    # handful): the driver's own conversion cost 2.5 µs a timestamp and 1 µs a date, about
    # 15 µs for a payment's rows.
    as_iso = [(i, {}) for i, name in enumerate(columns) if isinstance(table.c[name].type, DateTime | Date)]
    extra = list(defaults.values())
    dumps = jsontext.dumps
    conn = s.connection().connection.driver_connection
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                values = [*row.values(), *extra]
                for i in as_json:
                    value = values[i]
                    if value is not None and value.__class__ is not jsontext.Text:  # (Text: written already)
                        values[i] = dumps(value)
                for i, written in as_iso:
                    value = values[i]
                    if value is not None:
                        iso = written.get(value)
                        if iso is None:
                            iso = written[value] = _iso(value)
                        values[i] = iso
                copy.write_row(values)


def _iso(value: Any) -> Any:
    """A date or time as PostgreSQL reads it in COPY's text format; anything else as it is."""
    if isinstance(value, datetime):
        return value.isoformat(" ")
    return value.isoformat() if isinstance(value, date) else value


def receive_batch(s: Session, app: App, now: datetime, events: list[Event]) -> list[Event]:
    """Apply the plain payments of ``events`` set-based; returns the others, in order.

    On PostgreSQL the plan cache decides here as it does by default (``plan_cache_mode``
    auto) instead of the session's ``force_custom_plan`` (db.POSTGRES_OPTIONS), which is back
    for the events applied one by one afterwards. The batch's statements are the same every
    time, and each is a lookup of its keys by index whatever they are, so a connection plans
    each five times and then keeps its generic plan: about half of PostgreSQL's planning for
    a run (bench/profile_import.py --statements). Above all the foreign-key check of every
    ledger entry the COPY writes is planned once, not once per row: a fifth less of
    PostgreSQL's CPU for a batch of payments."""
    s.flush()
    postgres = not is_sqlite(s.get_bind())
    if postgres:
        s.execute(text("SET LOCAL plan_cache_mode = auto"))
    declined = _receive_batch(s, app, now, events)
    if postgres:
        s.execute(text("RESET plan_cache_mode"))
    return declined


def _receive_batch(s: Session, app: App, now: datetime, events: list[Event]) -> list[Event]:
    datas = [e.data for e in events]
    pids = {d.payment_id for d in datas}
    invoice_ids = {d.invoice_id for d in datas if d.invoice_id}
    refs = {d.reference for d in datas if d.reference}

    # Who is paid (before the lock: a claim's case never changes).
    targets = s.execute(
        select(Claim.invoice_id, Claim.case_id, Claim.ocr_reference).where(
            or_(among(s, Claim.invoice_id, invoice_ids), among(s, Claim.ocr_reference, refs))
        )
    ).all()
    # (Rows unpacked as tuples: a row's attribute costs a lookup by name, 1,000s a batch.)
    case_of = {invoice_id: case_id for invoice_id, case_id, _ in targets}
    by_ocr: dict[str, list[str]] = defaultdict(list)
    for invoice_id, _, ocr_reference in targets:
        if ocr_reference in refs:
            by_ocr[ocr_reference].append(invoice_id)
    # A case's own OCR reference is looked up only for the references no single claim has.
    case_refs = {r for r in refs if len(by_ocr.get(r, ())) != 1}
    case_by_ocr = dict(s.execute(
        select(CollectionCase.ocr_reference, CollectionCase.id).where(among(s, CollectionCase.ocr_reference, case_refs))
    ).all()) if case_refs else {}

    def target(d: Any) -> tuple[str | None, int | None]:
        """As ``payments.find_target``: (claim, its case) or (None, the case paid or None)."""
        if d.invoice_id and d.invoice_id in case_of:
            return d.invoice_id, case_of[d.invoice_id]
        if d.reference:
            found = by_ocr.get(d.reference, [])
            if len(found) == 1:
                return found[0], case_of[found[0]]
            return None, case_by_ocr.get(d.reference)
        return None, None

    resolved = [target(d) for d in datas]
    cases = sorted({case for claim, case in resolved if claim is not None and case is not None})

    # Serialise as the one-by-one path does: the payment keys (against a reversal parking
    # itself for a payment not stored yet), then the cases in id order (claims.lock_case).
    lock_keys(s, (f"payment:{pid}" for pid in pids))
    if cases and not is_sqlite(s.get_bind()):
        s.execute(select(CollectionCase.id).where(among(s, CollectionCase.id, cases))
                  .order_by(CollectionCase.id).with_for_update()).all()

    stored = set(s.scalars(select(Payment.payment_id).where(among(s, Payment.payment_id, pids))))
    waited_for = {k.removeprefix("payment:") for k in s.scalars(
        select(ParkedEvent.waiting_for).where(among(s, ParkedEvent.waiting_for, [f"payment:{p}" for p in pids])))}
    claims: dict[str, _Claim] = {}
    open_by_case: dict[int, list[_Claim]] = defaultdict(list)
    blocked: set[int] = set()
    if cases:
        target_ids = {claim for claim, _ in resolved if claim is not None}
        rows = s.execute(
            select(Claim.invoice_id, Claim.case_id, Claim.customer_id, Claim.creditor_id, Claim.status,
                   Claim.stage, Claim.effective_due_date)
            .where(among(s, Claim.case_id, cases), or_(Claim.status == "open", among(s, Claim.invoice_id, target_ids)))
            .order_by(Claim.effective_due_date, Claim.invoice_id)
        ).all()
        for invoice_id, case_id, customer_id, creditor_id, status, stage, effective_due_date in rows:
            c = _Claim(invoice_id, case_id, customer_id, creditor_id, effective_due_date, open=status == "open")
            claims[invoice_id] = c
            if c.open:
                open_by_case[case_id].append(c)
                if stage in ("handed_off", "surveillance"):
                    blocked.add(case_id)
        open_ids = [c.invoice_id for cs in open_by_case.values() for c in cs]
        for claim_id, component, total in s.execute(
            select(LedgerEntry.claim_id, LedgerEntry.component, func.sum(LedgerEntry.amount_ore))
            .where(among(s, LedgerEntry.claim_id, open_ids))
            .group_by(LedgerEntry.claim_id, LedgerEntry.component)
        ):
            claims[claim_id].balance[component] = int(total or 0)
        customers = {c.customer_id for c in claims.values()}
        cases_of_customer: dict[str, set[int]] = defaultdict(set)
        for c in claims.values():
            cases_of_customer[c.customer_id].add(c.case_id)
        for claim_id, case_id, customer_id in s.execute(
            select(Hold.claim_id, Hold.case_id, Hold.customer_id).where(
                Hold.ended_at.is_(None),
                or_(among(s, Hold.claim_id, open_ids), among(s, Hold.case_id, cases),
                    and_(Hold.claim_id.is_(None), Hold.case_id.is_(None), among(s, Hold.customer_id, customers))),
            )
        ):
            if claim_id is not None:
                if claim_id in claims:
                    blocked.add(claims[claim_id].case_id)
            elif case_id is not None:
                blocked.add(case_id)
            else:
                blocked |= cases_of_customer.get(customer_id, set())
        for customer_id in s.scalars(
            select(PaymentPlan.customer_id).where(among(s, PaymentPlan.customer_id, customers),
                                                  PaymentPlan.status.in_(PLAN_IN_PLAY))
        ):
            blocked |= cases_of_customer.get(customer_id, set())
        # A payment on a claim routed for hand-off or under surveillance must tell the receiver
        # or move the limitation date (handoff.after_change): the one-by-one path does that.
        for claim_id in s.scalars(select(Handoff.claim_id).where(among(s, Handoff.claim_id, open_ids),
                                                                 Handoff.status.in_(HANDOFF_IN_PLAY))):
            blocked.add(claims[claim_id].case_id)
        for claim_id in s.scalars(select(Surveillance.claim_id).where(among(s, Surveillance.claim_id, open_ids),
                                                                      Surveillance.status == "watching")):
            blocked.add(claims[claim_id].case_id)

    order = app.policy.file.defaults.allocation_order
    limits: dict[str, int] = {}

    def write_off_limit(creditor_id: str) -> int:
        if creditor_id not in limits:
            limits[creditor_id] = parse_kronor(app.policy.creditors[creditor_id].write_off_below)
        return limits[creditor_id]

    taken: list[_Taken] = []
    declined: list[Event] = []
    tainted: set[int] = set()
    seen: set[str] = set()
    for event, d, (claim_id, case_id) in zip(events, datas, resolved, strict=True):
        plan = None
        if d.payment_id not in seen and d.payment_id not in stored and d.payment_id not in waited_for \
                and claim_id is not None and case_id not in tainted and case_id not in blocked:
            plan = _allocate(claims[claim_id], open_by_case[case_id], d.amount, order, write_off_limit)
        seen.add(d.payment_id)
        if plan is None:
            declined.append(event)
            if case_id is not None:
                tainted.add(case_id)
            continue
        parts, paid, settled, surplus = plan
        for cid, component, amount in parts:
            claims[cid].balance[component] -= amount
        for cid in settled:
            claims[cid].open = False
        open_by_case[case_id] = [c for c in open_by_case[case_id] if c.open]
        taken.append(_Taken(event, case_id, claims[claim_id].customer_id, parts, paid, settled, surplus))
    if taken:
        _write(s, now, taken, claims)
    return declined


def _allocate(claim: _Claim, open_claims: list[_Claim], amount: int, order: Any,
              write_off_limit: Any) -> tuple[list[tuple[str, str, int]], list[tuple[str, int]], list[str], int] | None:
    """``payments.apply``'s allocation on the run's running balances; None when it would do more
    than allocate and settle (the claim is not open; a small residual to write off)."""
    if not claim.open:
        return None
    ordered = [claim] + [c for c in open_claims if c is not claim]
    parts, surplus = allocate(amount, [(c.invoice_id, c.balance) for c in ordered], order)
    by_claim: dict[str, int] = {}
    for cid, _component, amt in parts:
        by_claim[cid] = by_claim.get(cid, 0) + amt
    paid: list[tuple[str, int]] = []
    settled: list[str] = []
    for c in ordered:
        if c.invoice_id not in by_claim:
            continue
        paid.append((c.invoice_id, by_claim[c.invoice_id]))
        left = c.total - by_claim[c.invoice_id]
        if left <= 0:
            settled.append(c.invoice_id)
        elif left <= write_off_limit(c.creditor_id):
            return None
    return parts, paid, settled, surplus


def _write(s: Session, now: datetime, taken: list[_Taken], claims: dict[str, _Claim]) -> None:
    at = to_db(now)
    settled = [cid for t in taken for cid in t.settled]
    cancelled: dict[str, int] = defaultdict(int)
    if settled:
        s.execute(update(Claim.__table__).where(among(s, Claim.__table__.c.invoice_id, settled))
                  .values(status="settled", closed_at=at))
        timers = Timer.__table__
        for (claim_id,) in s.execute(
            update(timers).where(among(s, timers.c.claim_id, settled), timers.c.status.in_(("pending", "emitted")))
            .values(status="cancelled", done_at=at, outcome="claim settled").returning(timers.c.claim_id)
        ):
            cancelled[claim_id] += 1
    events_rows, payment_rows, entry_rows, timeline_rows, outbox_rows = [], [], [], [], []

    stamps = Stamps.of(now)
    copied = not is_sqlite(s.get_bind())  # _insert's COPY takes an event's data as JSON text
    corr: str | None = None  # the event of the payment being written: its rows follow from it

    def note(type_: str, **kw: Any) -> None:
        timeline, outbox = record_rows(now, type_, stamps=stamps, correlation_id=corr, **kw)
        timeline_rows.append(timeline)
        if outbox is not None:
            outbox_rows.append(outbox)

    for t in taken:
        e, d = t.event, t.event.data
        corr = e.id
        events_rows.append(inbox_row(e, at, data_text=copied))
        payment_rows.append({"payment_id": d.payment_id, "amount_ore": d.amount, "paid_on": d.paid_on,
                             "reference": d.reference, "invoice_id": d.invoice_id, "channel": d.channel,
                             "status": "applied", "payer": None, "overpayment_ore": t.surplus,
                             "event_id": e.id, "received_at": at})
        entry_rows += [{"claim_id": cid, "kind": "payment", "component": component, "amount_ore": -amount,
                        "booked_at": at, "value_date": d.paid_on, "ref": d.payment_id, "note": None}
                       for cid, component, amount in t.parts]
        for cid, amount in t.paid:
            c = claims[cid]
            note("payment-applied", claim_id=cid, customer_id=c.customer_id, case_id=c.case_id,
                 payment_id=d.payment_id, amount=amount, paid_on=d.paid_on)
            if cid in t.settled:  # claims.close_if_paid
                note("claim-settled", claim_id=cid, customer_id=c.customer_id, case_id=c.case_id, how="paid",
                     cancelled_steps=cancelled.get(cid, 0))
        if t.surplus:
            note("overpayment-recorded", customer_id=t.customer_id, case_id=t.case_id, payment_id=d.payment_id,
                 amount=t.surplus, basis=OVERPAYMENT_BASIS)
    for model, rows in ((ReceivedEvent, events_rows), (Payment, payment_rows), (LedgerEntry, entry_rows),
                        (TimelineEntry, timeline_rows), (OutboxMessage, outbound_rows(outbox_rows))):
        if rows:
            _insert(s, model.__table__, rows)
    # Objects loaded earlier in this transaction (an earlier run of the same message) must not
    # hide what the statements above changed from the events applied one by one after this.
    s.expire_all()
