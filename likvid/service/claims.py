"""Claims in the customer ledger: registration, due date, credits, settling and resuming."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from likvid.clock import to_db
from likvid.db import is_sqlite
from likvid.models import Claim, CollectionCase, Letter, LetterClaim
from likvid.rules.collection import demand_due_on, handoff_due_on, reminder_due_on, resumed_on
from likvid.rules.deadlines import effective_due_date
from likvid.rules.ocr import generate_ocr, validate_ocr
from likvid.service import ledger, timers
from likvid.service.app import App
from likvid.service.errors import Parked, Rejected
from likvid.service.records import record

#: Digits after a creditor's prefix that mark a case-level OCR reference.
CASE_OCR_MARK = "99"


def lock_case(session: Session, case_id: int) -> CollectionCase:
    """Lock the case row: every change to a case's claims takes this lock first."""
    q = select(CollectionCase).where(CollectionCase.id == case_id)
    if not is_sqlite(session.get_bind()):
        q = q.with_for_update()
    return session.scalars(q).one()


def locked_claim(session: Session, invoice_id: str) -> Claim:
    """The claim, its case locked; parks the event being handled when the claim is not known yet."""
    from likvid.service.parking import lock_key

    lock_key(session, f"invoice:{invoice_id}")
    claim = session.get(Claim, invoice_id)
    if claim is None:
        raise Parked(f"invoice:{invoice_id}")
    lock_case(session, claim.case_id)
    return claim


def case_for(session: Session, app: App, now: datetime, customer_id: str, creditor_id: str) -> CollectionCase:
    """The customer's one case with the creditor, created on first need, locked."""
    table = CollectionCase.__table__
    insert = sqlite_insert if is_sqlite(session.get_bind()) else pg_insert
    mine = select(CollectionCase).where(
        CollectionCase.customer_id == customer_id, CollectionCase.creditor_id == creditor_id
    )
    if not is_sqlite(session.get_bind()):
        mine = mine.with_for_update()
    case = session.scalar(mine)
    if case is not None:
        return case
    stmt = insert(table).values(
        customer_id=customer_id,
        creditor_id=creditor_id,
        ocr_reference=case_ocr(app, customer_id, creditor_id),
        policy_version=app.policy.version,
        opened_at=to_db(now),
    )
    session.execute(stmt.on_conflict_do_nothing(index_elements=["customer_id", "creditor_id"]))
    case = session.scalar(mine)
    assert case is not None
    return case


def case_ocr(app: App, customer_id: str, creditor_id: str) -> str:
    """The OCR reference of the customer's case with the creditor (fixed by the two ids)."""
    creditor = app.policy.creditors[creditor_id]
    digest = int(hashlib.sha256(f"{creditor_id}/{customer_id}".encode()).hexdigest(), 16)
    return generate_ocr(f"{creditor.ocr_prefix}{CASE_OCR_MARK}{digest % 10**10:010d}", creditor.ocr_length_digit)


def ocr_owner(session: Session, creditor_id: str, ocr: str) -> str | None:
    """The invoice that already uses ``ocr`` with this creditor (references are per bankgiro)."""
    return session.scalar(
        select(Claim.invoice_id).where(Claim.creditor_id == creditor_id, Claim.ocr_reference == ocr)
    )


def ocr_candidates(app: App, creditor_id: str, invoice_number: str, invoice_id: str) -> Iterator[str]:
    """The references ``claim_ocr`` tries, in order: the first one free is the claim's."""
    creditor = app.policy.creditors[creditor_id]
    digits = "".join(ch for ch in invoice_number if ch.isdigit())
    if not digits or len(creditor.ocr_prefix + digits) > 20:
        digits = str(int(hashlib.sha256(invoice_id.encode()).hexdigest(), 16) % 10**12)
    base = creditor.ocr_prefix + digits
    for suffix in ("", *map(str, range(1, 100))):
        yield generate_ocr(base + suffix, creditor.ocr_length_digit)


def claim_ocr(session: Session, app: App, creditor_id: str, invoice_number: str, invoice_id: str) -> str:
    """A generated OCR reference (§7.1): the creditor's prefix and the invoice number's digits,
    with length and check digit as the creditor's bankgiro agreement says."""
    for ref in ocr_candidates(app, creditor_id, invoice_number, invoice_id):
        if ocr_owner(session, creditor_id, ref) is None:
            return ref
    raise Rejected("data.ocr_reference", "could not be generated uniquely; give one")


def register_invoice(session: Session, app: App, now: datetime, event_id: str, data: Any) -> Claim:
    """``invoice-issued``: the claim enters the ledger and its due date is scheduled."""
    creditor_id: str = data.creditor_id
    if creditor_id not in app.policy.creditors:
        known = ", ".join(sorted(app.policy.creditors))
        raise Rejected("data.creditor_id", f"is not a configured creditor (configured: {known})")
    existing = session.get(Claim, data.invoice_id)
    if existing is not None:
        raise Rejected("data.invoice_id", "is already registered (by another event id)")
    creditor = app.policy.creditors[creditor_id]
    ocr = data.ocr_reference
    if ocr:
        try:
            validate_ocr(ocr, require_length_digit=creditor.ocr_length_digit)
        except ValueError as exc:
            raise Rejected("data.ocr_reference", str(exc)) from None
        clash = ocr_owner(session, creditor_id, ocr)
        if clash:
            raise Rejected("data.ocr_reference", f"is already used by invoice {clash}")
    else:
        ocr = claim_ocr(session, app, creditor_id, data.invoice_number, data.invoice_id)
    case = case_for(session, app, now, data.customer_id, creditor_id)
    try:
        due = effective_due_date(data.due_date)
    except OverflowError:  # 9999-12-31: no bank day follows it in the calendar
        raise Rejected("data.due_date", "is too far in the future (no bank day follows it)") from None
    claim = Claim(
        invoice_id=data.invoice_id,
        creditor_id=creditor_id,
        customer_id=data.customer_id,
        case_id=case.id,
        invoice_number=data.invoice_number,
        issue_date=data.issue_date,
        due_date=data.due_date,
        effective_due_date=due,
        amount_ore=data.amount,
        claim_kind=data.claim_kind,
        claim_nature=data.claim_nature,
        ocr_reference=ocr,
        reminder_fee_agreed=data.reminder_fee_agreed,
        delivery_point_id=data.delivery_point_id,
        decision_final_on=data.decision_final_on,
        description=data.description,
        status="open",
        stage="issued",
        policy_version=case.policy_version,
        created_at=to_db(now),
    )
    session.add(claim)
    session.flush()
    ledger.post(session, now, claim.invoice_id, "capital", "capital", claim.amount_ore, claim.issue_date, ref=event_id)
    timers.schedule(session, now, "invoice_due", claim.invoice_id, due)
    record(
        session, now, "invoice-registered", claim_id=claim.invoice_id,
        customer_id=claim.customer_id, case_id=case.id, amount=claim.amount_ore,
        due_date=claim.due_date, effective_due_date=due, ocr_reference=ocr, event_id=event_id,
        basis="EVENTS.md invoice-issued; due date moved to the next bank day (ARCHITECTURE.md)",
    )
    return claim


def mark_due(session: Session, app: App, now: datetime, claim: Claim, source: str) -> str:
    """``invoice-due``: raised at the due date (or published); has effect once."""
    if claim.stage != "issued":
        return f"already {claim.stage}"
    if claim.status != "open":
        return f"claim {claim.status}"
    steps = app.policy.steps_for(claim.creditor_id, claim.claim_kind)
    claim.stage = "due"
    on = reminder_due_on(claim.effective_due_date, steps.reminder_after_days)
    timers.schedule(session, now, "reminder", claim.invoice_id, on)
    record(
        session, now, "invoice-due", claim_id=claim.invoice_id, customer_id=claim.customer_id,
        case_id=claim.case_id, source=source, reminder_on=on,
    )
    return "due"


def close_if_paid(session: Session, now: datetime, claim: Claim, why: str) -> bool:
    """Settle a claim whose balance is zero and cancel every pending step for it.

    ``payment_batch._write`` does the same for the claims a run of payments settles, set-based:
    a change here must be made there too (tests/flow/test_payment_batch.py compares them)."""
    if claim.status != "open":
        return False
    bal = ledger.balance(session, claim.invoice_id)
    if bal.total > 0:
        return False
    claim.status = "settled" if why != "credited" else "credited"
    claim.closed_at = to_db(now)
    cancelled = timers.cancel_open(session, now, claim.invoice_id, f"claim {claim.status}")
    record(
        session, now, "claim-settled", claim_id=claim.invoice_id, customer_id=claim.customer_id,
        case_id=claim.case_id, how=why, cancelled_steps=cancelled,
    )
    return True


def write_off_small_residual(session: Session, app: App, now: datetime, claim: Claim) -> bool:
    """A residual at or below the creditor's `write_off_below` after a payment is written off
    (handling it would cost more than it brings in: POLICY.md goal "minimise handling cost")."""
    from likvid.rules.money import parse_kronor

    limit = parse_kronor(app.policy.creditors[claim.creditor_id].write_off_below)
    bal = ledger.balance(session, claim.invoice_id)
    if claim.status != "open" or limit <= 0 or not 0 < bal.total <= limit:
        return False
    write_off(session, now, claim, reason="small residual after payment",
              basis=f"creditor setting write_off_below {limit / 100:.2f} kr", note="small residual")
    return True


def write_off(session: Session, now: datetime, claim: Claim, *, reason: str, basis: str, note: str | None = None) -> None:
    """Write the open balance off (every component), close the claim and cancel its steps."""
    bal = ledger.balance(session, claim.invoice_id)
    for component in ("fee", "interest", "capital"):
        if bal.get(component) > 0:
            ledger.post(session, now, claim.invoice_id, "write_off", component, -bal.get(component), now.date(),
                        note=(note or reason)[:500])
    claim.status = "written_off"
    claim.closed_at = to_db(now)
    cancelled = timers.cancel_open(session, now, claim.invoice_id, "claim written off")
    record(session, now, "claim-written-off", claim_id=claim.invoice_id, customer_id=claim.customer_id,
           case_id=claim.case_id, amount=bal.total, reason=reason, cancelled_steps=cancelled, basis=basis)


def reopen(session: Session, app: App, now: datetime, claim: Claim, why: str) -> None:
    """A reversed payment re-opens what it had settled; the chain resumes from the facts."""
    if claim.status in ("settled", "written_off") and ledger.balance(session, claim.invoice_id).total > 0:
        claim.status = "open"
        claim.closed_at = None
        record(session, now, "claim-reopened", claim_id=claim.invoice_id,
               customer_id=claim.customer_id, case_id=claim.case_id, why=why)
        from likvid.service import handoff

        handoff.reopened(session, now, claim)
        resume(session, app, now, claim)


def _pending_letter(session: Session, claim_id: str) -> bool:
    return bool(
        session.scalar(
            select(LetterClaim.letter_id)
            .join(Letter, Letter.id == LetterClaim.letter_id)
            .where(LetterClaim.claim_id == claim_id, Letter.status == "pending")
            .limit(1)
        )
    )


def resume(session: Session, app: App, now: datetime, claim: Claim) -> None:
    """After a hold ends or a claim re-opens: make sure the next step is scheduled, with fresh
    time if its planned day has passed (rules.collection.resumed_on)."""
    if claim.status != "open" or claim.stage in ("handed_off", "surveillance"):
        return
    if timers.open_timers(session, claim.invoice_id) or _pending_letter(session, claim.invoice_id):
        return
    steps = app.policy.steps_for(claim.creditor_id, claim.claim_kind)
    today = now.date()
    if claim.stage == "issued":  # e.g. re-opened by a reversal before it fell due
        kind, on = "invoice_due", max(claim.effective_due_date, today)
    elif claim.stage == "due":
        kind, planned = "reminder", reminder_due_on(claim.effective_due_date, steps.reminder_after_days)
        on = max(planned, today)  # a reminder itself gives fresh time to pay
    elif claim.stage == "reminded":
        assert claim.reminder_deadline is not None
        kind = "demand"
        on = resumed_on(demand_due_on(claim.reminder_deadline, steps.demand_after_days), today, steps.resume_days_to_pay)
    else:
        assert claim.demand_deadline is not None
        kind = "handoff"
        on = resumed_on(handoff_due_on(claim.demand_deadline, steps.handoff_after_days), today, steps.resume_days_to_pay)
    timers.schedule(session, now, kind, claim.invoice_id, on)
    record(session, now, "step-rescheduled", claim_id=claim.invoice_id,
           customer_id=claim.customer_id, case_id=claim.case_id, step=kind, on=on)


def credit(session: Session, app: App, now: datetime, claim: Claim, credit_id: str, amount: int, reason: str | None) -> None:
    """``invoice-credited``: reduces the capital; a full credit closes the claim with its fees and
    interest (nothing is owed on a debt that does not exist)."""
    bal = ledger.balance(session, claim.invoice_id)
    if amount > bal.capital:
        raise Rejected("data.amount", f"exceeds the claim's open capital ({bal.capital / 100:.2f})")
    ledger.post(session, now, claim.invoice_id, "credit", "capital", -amount, now.date(), ref=credit_id, note=reason)
    if amount == bal.capital:
        for component in ("fee", "interest"):
            if bal.get(component) > 0:
                ledger.post(session, now, claim.invoice_id, "credit", component, -bal.get(component), now.date(), ref=credit_id, note="follows the full credit")
    record(session, now, "invoice-credited", claim_id=claim.invoice_id, customer_id=claim.customer_id,
           case_id=claim.case_id, credit_id=credit_id, amount=amount, reason=reason)
    close_if_paid(session, now, claim, "credited")
    from likvid.service import handoff

    handoff.after_change(session, app, now, claim, f"credit {credit_id}")
