"""Hand-off to Kronofogden or an agency (POLICY.md point 11; SWEDISH-RULES.md §§5, 9).

The "handoff" timer (after a collection demand's deadline) routes the claim
(``likvid.rules.routing``): queued for the next export, waiting for a public-law decision to be
final, kept in surveillance, or written off. The export (a daily durable timer, or
``likvid handoff export``) re-checks every queued claim, writes one fixed-width file per
creditor, receiver and day (docs/handoff-file-layout.md), marks the claims handed off, records
``collection-handed-off`` and sends the hand-off notice. Afterwards every payment, credit or
objection emits ``handoff-adjusted``; the receiver's ``handoff-closed`` and
``enforcement-title-obtained`` close the hand-off or start surveillance. A handler may withdraw
an exported hand-off by hand (``withdraw``); a withdrawn claim that is re-opened (a payment
reversed) is routed again (``reopened``).
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from likvid.clock import from_db, to_db
from likvid.correlation import correlated
from likvid.ids import hex_id
from likvid.models import (
    Claim,
    CollectionCase,
    Customer,
    Handoff,
    HandoffFile,
    Letter,
    LetterClaim,
    Task,
    Timer,
)
from likvid.rules import routing
from likvid.rules.collection import Balance
from likvid.rules.interest import interest_start
from likvid.rules.money import format_kronor
from likvid.service import claims as claims_service
from likvid.service import handoff_file, ledger, surveillance, timers
from likvid.service.app import App
from likvid.service.errors import Rejected
from likvid.service.letters import create_letter
from likvid.service.parking import lock_key
from likvid.service.records import dispatch_later, record

#: Handoff statuses in which the claim's routing is still live (at most one per claim).
LIVE = ("waiting", "queued", "exported")
EXPORT_TIMER = "handoff_export"
#: Days a handler has for a reinstatement task (a reversed payment after hand-off).
REINSTATEMENT_TASK_DAYS = 7
KIND_WORDS = {
    "water": "VA-avgift", "waste": "avfallsavgift", "district_heating": "fjärrvärme", "electricity": "el",
    "childcare": "förskoleavgift", "rent": "hyra", "elderly_care": "avgift för äldreomsorg",
    "permit_fee": "avgift enligt plan- och bygglagen", "food_inspection": "livsmedelskontrollavgift",
    "other": "fordran",
}


def live(session: Session, claim_id: str) -> Handoff | None:
    return session.scalar(select(Handoff).where(Handoff.claim_id == claim_id, Handoff.status.in_(LIVE))
                          .order_by(Handoff.created_at.desc()).limit(1))


def _route(session: Session, app: App, now: datetime, claim: Claim) -> routing.Route:
    bal, coll = ledger.collectible_amounts(session, [claim.invoice_id])[claim.invoice_id]
    held = bool(ledger.active_holds(session, [claim.invoice_id])[claim.invoice_id])
    conf = app.policy.handoff_for(claim.creditor_id)
    return routing.route(
        status=claim.status, claim_nature=claim.claim_nature, open_ore=bal.total, collectible_ore=coll, held=held,
        decision_final_on=claim.decision_final_on, today=now.date(),
        civil_target=app.policy.steps_for(claim.creditor_id, claim.claim_kind).handoff_target,
        min_amount_ore=conf.min_amount_ore, small_claims=conf.small_claims,
    )


# --- routing (the "handoff" timer) ---------------------------------------------------------------

def route_due(session: Session, app: App, now: datetime, timer: Timer, claim: Claim) -> str:
    """The chain's last step: route one claim whose demand deadline has passed."""
    if claim.stage != "demanded":
        return f"skipped: claim is at stage {claim.stage}, not demanded"
    r = _route(session, app, now, claim)
    ids = {"claim_id": claim.invoice_id, "customer_id": claim.customer_id, "case_id": claim.case_id}
    if r.action == "skip":
        record(session, now, "step-skipped", **ids, step="handoff", reason=r.reason)
        return f"skipped: {r.reason}"
    if r.action in ("write_off", "surveillance"):
        return _small_claim(session, app, now, claim, r)
    h = live(session, claim.invoice_id)
    if h is None:
        h = Handoff(id="H" + hex_id(19), claim_id=claim.invoice_id, creditor_id=claim.creditor_id,
                    target=r.target or "", status="", created_at=to_db(now))
        session.add(h)
    elif h.status == "exported":
        return "already handed off"
    was = h.status
    h.target, h.reason = r.target or "", r.reason
    if r.action == "wait":
        h.status = "waiting"
        if was != "waiting":
            record(session, now, "handoff-waiting", **ids, handoff_id=h.id, reason=r.reason,
                   basis="SWEDISH-RULES.md §5.2: indrivning once the decision is final")
        if claim.decision_final_on is not None:
            timers.schedule(session, now, "handoff", claim.invoice_id, claim.decision_final_on + timedelta(days=1))
        return f"waiting: {r.reason}"
    h.status, h.queued_on = "queued", now.date()
    record(session, now, "handoff-queued", **ids, handoff_id=h.id, target=h.target, reason=r.reason)
    _schedule_export(session, now, now.date() + timedelta(days=1))
    return f"queued for {h.target}"


def _small_claim(session: Session, app: App, now: datetime, claim: Claim, r: routing.Route) -> str:
    """Below the hand-off minimum: written off, or kept and watched (policy handoff.small_claims)."""
    if r.action == "write_off":
        claims_service.write_off(session, now, claim, reason=r.reason,
                                 basis="handling cost against expected recovery (policy handoff.small_claims)")
        return "written off"
    claim.stage = "surveillance"
    record(session, now, "handoff-not-made", claim_id=claim.invoice_id, customer_id=claim.customer_id,
           case_id=claim.case_id, reason=r.reason,
           basis="policy handoff.min_amount / handoff.small_claims (POLICY.md point 11)")
    surveillance.start(session, app, now, claim, "small_claim")
    return "kept in surveillance"


def _schedule_export(session: Session, now: datetime, on: date) -> None:
    ref = on.isoformat()
    pending = session.scalar(select(Timer.id).where(Timer.kind == EXPORT_TIMER, Timer.ref == ref,
                                                    Timer.status.in_(("pending", "emitted"))).limit(1))
    if pending is None:
        with correlated(None):  # the day's export acts for many claims: each under its own id
            timers.schedule(session, now, EXPORT_TIMER, None, on, ref=ref)


def export_timer(session: Session, app: App, now: datetime, ref: str) -> str:
    files = export(session, app, now)
    return f"{len(files)} file(s), {sum(f.claims for f in files)} claim(s)"


# --- export ----------------------------------------------------------------------------------

def export(session: Session, app: App, now: datetime) -> list[HandoffFile]:
    """Every queued claim, re-checked now, into one file per creditor, receiver and day. A claim
    is in exactly one file: only queued hand-offs are taken, and each leaves this state once."""
    lock_key(session, "handoff-export")
    today = now.date()
    queued = list(session.scalars(select(Handoff).where(Handoff.status == "queued", Handoff.queued_on <= today)
                                  .order_by(Handoff.creditor_id, Handoff.target, Handoff.claim_id)))
    claims = {c.invoice_id: c for c in session.scalars(select(Claim).where(Claim.invoice_id.in_([h.claim_id for h in queued])))}
    for case_id in sorted({c.case_id for c in claims.values()}):
        claims_service.lock_case(session, case_id)
    for claim in claims.values():  # read again under the locks: a payment may just have committed
        session.refresh(claim)
    origin = timers.correlations(session, list(claims))
    groups: dict[tuple[str, str], list[Handoff]] = defaultdict(list)
    for h in queued:
        session.refresh(h)
        claim = claims[h.claim_id]
        if h.status != "queued":
            continue
        with correlated(origin.get(claim.invoice_id)):  # each claim under its own id
            r = _route(session, app, now, claim)
            if r.action != "handoff":
                # Held or paid: the chain resumes from the facts when a hold ends (claims.resume).
                h.status, h.reason = "cancelled", f"re-checked at export: {r.reason}"
                record(session, now, "handoff-cancelled", claim_id=claim.invoice_id, customer_id=claim.customer_id,
                       case_id=claim.case_id, handoff_id=h.id, reason=h.reason)
                if r.action in ("write_off", "surveillance"):  # paid down below the minimum meanwhile
                    _small_claim(session, app, now, claim, r)
                continue
        h.target = r.target or h.target  # the creditor's configuration may have changed since
        groups[(h.creditor_id, h.target)].append(h)
    files = [_write_file(session, app, now, creditor_id, target, hs, claims, origin)
             for (creditor_id, target), hs in groups.items()]
    by_case: dict[int, list[Claim]] = defaultdict(list)
    for hs in groups.values():
        for h in hs:
            by_case[claims[h.claim_id].case_id].append(claims[h.claim_id])
    for case_id, case_claims in by_case.items():
        case = session.get(CollectionCase, case_id)
        assert case is not None
        with correlated(origin.get(case_claims[0].invoice_id)):
            letter = create_letter(session, now, "handoff_notice", case, case_claims, level=_next_level(session, case_claims))
            dispatch_later(session, letter.id)
    return files


def _next_level(session: Session, claims: list[Claim]) -> int:
    """A claim handed off again (after a withdrawal) gets a notice of the next level."""
    done = session.scalar(select(func.max(LetterClaim.level)).where(
        LetterClaim.claim_id.in_([c.invoice_id for c in claims]), LetterClaim.kind == "handoff_notice"))
    return int(done or 0) + 1


def _write_file(session: Session, app: App, now: datetime, creditor_id: str, target: str, hs: list[Handoff],
                claims: dict[str, Claim], origin: dict[str, str]) -> HandoffFile:
    today = now.date()
    creditor = app.policy.creditors[creditor_id]
    conf = app.policy.handoff_for(creditor_id)
    seq = 1 + int(session.scalar(select(func.max(HandoffFile.seq)).where(
        HandoffFile.creditor_id == creditor_id, HandoffFile.target == target, HandoffFile.file_date == today)) or 0)
    amounts = ledger.collectible_amounts(session, list(claims))
    records = []
    for h in hs:
        claim = claims[h.claim_id]
        bal = amounts[claim.invoice_id][0]
        customer = session.get(Customer, claim.customer_id)
        assert customer is not None
        app_fee, own_work = routing.application_costs(target, claim_application_fee=conf.application_fee,
                                                      own_work_ore=conf.own_work_ore)
        rate, start = _interest_terms(app, claim, today)
        a = customer.address or {}
        records.append(handoff_file.ClaimRecord(
            handoff_id=h.id, identity_number=customer.identity_number, party_type=customer.party_type,
            protected=customer.protected_identity, name=customer.name, care_of=a.get("care_of") or "",
            street=a.get("street") or "", postal_code=a.get("postal_code") or "", city=a.get("city") or "",
            country=a.get("country") or "SE", invoice_number=claim.invoice_number, issue_date=claim.issue_date,
            due_date=claim.due_date, capital_ore=bal.capital, interest_ore=bal.interest, interest_rate_bp=rate,
            interest_from=start, fees_ore=bal.fee, application_fee_ore=app_fee, own_work_ore=own_work,
            claim_nature=claim.claim_nature, claim_kind=claim.claim_kind, basis=basis_in_words(session, claim),
        ))
    header = handoff_file.FileHeader(creditor_org=creditor.org_number, creditor_name=creditor.name,
                                     bankgiro=creditor.bankgiro, target=target, file_date=today, seq=seq)
    content = handoff_file.render(header, records)
    data = content.encode(handoff_file.ENCODING)
    directory = app.settings.home / "handoff" / today.isoformat()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{creditor_id}-{target}-{today:%Y%m%d}-{seq:03d}.txt"
    tmp = directory / f".{path.name}.tmp"
    tmp.write_bytes(data)
    # The file appears under its name only once the transaction that put its claims in it
    # commits: a rolled-back export leaves no file behind to be sent twice.
    session.info.setdefault(_FILES_KEY, []).append((tmp, path))
    f = HandoffFile(creditor_id=creditor_id, target=target, file_date=today, seq=seq, path=str(path),
                    content_hash=hashlib.sha256(data).hexdigest(), claims=len(records),
                    total_ore=sum(r.total_ore for r in records), created_at=to_db(now))
    session.add(f)
    session.flush()
    for h, rec in zip(hs, records, strict=True):
        claim = claims[h.claim_id]
        # What the ledger says is owed; the application costs are the receiver's to collect.
        reported = rec.capital_ore + rec.fees_ore + rec.interest_ore
        h.status, h.file_id, h.exported_at, h.reported_ore = "exported", f.id, to_db(now), reported
        claim.stage, claim.handed_off_at = "handed_off", to_db(now)
        with correlated(origin.get(claim.invoice_id)):  # each claim under its own id
            record(session, now, "collection-handed-off", claim_id=claim.invoice_id, customer_id=claim.customer_id,
                   case_id=claim.case_id, handoff_id=h.id, target=target, file=path.name,
                   capital=rec.capital_ore, fees=rec.fees_ore, interest=rec.interest_ore,
                   interest_rate_bp=rec.interest_rate_bp, interest_from=rec.interest_from,
                   application_fee=rec.application_fee_ore, own_work=rec.own_work_ore, amount=rec.total_ore,
                   basis="demand deadline passed, undisputed, no hold (POLICY.md point 11; SWEDISH-RULES.md §3, §5)")
            if target == "indrivning":  # tracked from now on, never interrupted by us (§6.2)
                surveillance.start(session, app, now, claim, "indrivning")
            else:
                surveillance.recompute(session, app, now, claim)
    return f


_FILES_KEY = "likvid_handoff_files"


@event.listens_for(Session, "after_commit")
def _publish_files(session: Session) -> None:
    for tmp, path in session.info.pop(_FILES_KEY, []):
        os.replace(tmp, path)


@event.listens_for(Session, "after_rollback")
def _drop_files(session: Session) -> None:
    if not session.in_transaction():
        for tmp, _path in session.info.pop(_FILES_KEY, []):
            tmp.unlink(missing_ok=True)


def _interest_terms(app: App, claim: Claim, today: date) -> tuple[int, date | None]:
    """The penalty rate in force today (reference rate + margin, räntelagen 6 §) and the day
    interest runs from; none on public-law claims unless the policy charges it (§2)."""
    if claim.claim_nature == "public_law" and not app.policy.file.interest.charge_public_law:
        return 0, None
    ref = 0
    for r in app.policy.reference_rates:
        if r.valid_from <= today:
            ref = r.rate_bp
    return max(0, ref + app.policy.interest_margin_bp), interest_start(claim.effective_due_date)


def basis_in_words(session: Session, claim: Claim) -> str:
    """The ground of the claim in Swedish words, as the application asks for it."""
    sent = session.execute(
        select(Letter.kind, Letter.sent_on, Letter.deadline).join(LetterClaim, LetterClaim.letter_id == Letter.id)
        .where(LetterClaim.claim_id == claim.invoice_id, LetterClaim.status == "included", Letter.status == "sent",
               Letter.kind.in_(("reminder", "collection_demand")))
        .order_by(Letter.sent_on)
    ).all()
    what = KIND_WORDS.get(claim.claim_kind, "fordran")
    text = (f"Obetald faktura {claim.invoice_number} avseende {what}"
            + (f" ({claim.description})" if claim.description else "")
            + f", utfärdad {claim.issue_date}, förfallen till betalning {claim.due_date}.")
    if claim.claim_nature == "public_law":
        text += f" Offentligrättslig fordran; beslutet vann laga kraft {claim.decision_final_on}."
    for kind, sent_on, deadline in sent:
        word = "Påminnelse" if kind == "reminder" else "Inkassokrav"
        text += f" {word} skickad {sent_on} med sista betalningsdag {deadline}."
    return text + " Fordran är förfallen och ostridig."


# --- after hand-off ------------------------------------------------------------------------

def _exported(session: Session, claim_id: str) -> Handoff | None:
    """The claim's hand-off that is with its receiver, if any (at most one is live)."""
    return session.scalar(select(Handoff).where(Handoff.claim_id == claim_id, Handoff.status == "exported").limit(1))


def after_change(session: Session, app: App, now: datetime, claim: Claim, why: str) -> None:
    """A payment, credit or objection touched ``claim``: tell the receiver (``handoff-adjusted``:
    a reduction to what is still collectible, or a withdrawal when nothing is), and recompute
    the limitation date of a claim under surveillance."""
    surveillance.recompute(session, app, now, claim)
    h = _exported(session, claim.invoice_id)
    if h is None:
        return
    bal, coll = ledger.collectible_amounts(session, [claim.invoice_id])[claim.invoice_id]
    remaining = coll if claim.status == "open" else 0
    previous = h.reported_ore or 0
    if remaining >= previous and remaining > 0:
        return
    kind = "withdrawal" if remaining == 0 else "reduction"
    h.reported_ore = remaining
    if kind == "withdrawal":
        h.status = "withdrawn"
        if claim.status == "open":  # disputed in full: the chain resumes from the facts when the hold ends
            claim.stage = "demanded"
    _adjusted(session, now, claim, h, kind, why, previous, remaining, bal)


def _adjusted(session: Session, now: datetime, claim: Claim, h: Handoff, kind: str, why: str, previous: int,
              remaining: int, bal: Balance) -> None:
    record(session, now, "handoff-adjusted", claim_id=claim.invoice_id, customer_id=claim.customer_id,
           case_id=claim.case_id, handoff_id=h.id, target=h.target, adjustment=kind, why=why,
           previous=previous, remaining=remaining, reduced_by=previous - remaining,
           capital=bal.capital, fees=bal.fee, interest=bal.interest,
           basis="the receiver must not collect more than is owed and undisputed (ANCHORS.md §14)")


def withdraw(session: Session, app: App, now: datetime, invoice_id: str, *, reason: str, by: str) -> Handoff:
    """A handler withdraws a hand-off by hand (``likvid handoff withdraw``): the receiver is told
    (``handoff-adjusted``, a withdrawal, as after a full payment or dispute), who and why go on the
    timeline, and an open claim goes back to "demanded" with its hand-off step re-scheduled with
    fresh time (``claims.resume``): routing then runs again from the facts, so a hold placed
    meanwhile keeps it back and the customer gets time to pay before any new application."""
    if not reason.strip():
        raise Rejected("reason", "is empty: say why the hand-off is withdrawn")
    if not by.strip():
        raise Rejected("by", "is empty: say who withdraws the hand-off")
    if session.get(Claim, invoice_id) is None:
        raise Rejected("invoice_id", "is not a known invoice")
    claim = claims_service.locked_claim(session, invoice_id)
    session.refresh(claim)  # read again under the lock: a payment may just have withdrawn it
    h = _exported(session, invoice_id)
    if h is None:
        latest = summary(session, invoice_id)
        state = f"its latest hand-off is {latest['status']}" if latest else "it was never handed off"
        raise Rejected("invoice_id", f"has no exported hand-off to withdraw ({state})")
    previous = h.reported_ore or 0
    h.status, h.reported_ore, h.reason = "withdrawn", 0, "withdrawn by hand"
    _adjusted(session, now, claim, h, "withdrawal", "withdrawn by hand", previous, 0,
              ledger.balance(session, invoice_id))
    # Who and why stay on our timeline only: free text and names are not for the outbound message.
    record(session, now, "handoff-withdrawn", claim_id=claim.invoice_id, customer_id=claim.customer_id,
           case_id=claim.case_id, handoff_id=h.id, target=h.target, by=by, reason=reason,
           basis="a handler's decision (likvid handoff withdraw)")
    surveillance.recompute(session, app, now, claim)  # an indrivning withdrawn is no longer tracked as one
    if claim.status == "open":
        claim.stage = "demanded"
        claims_service.resume(session, app, now, claim)
    return h


def reopened(session: Session, now: datetime, claim: Claim) -> None:
    """A claim re-opened (a payment reversed) while it sits at "handed_off" with its hand-off
    withdrawn: nothing live would move it on, so it goes back to "demanded" and routing runs
    again on the hand-off step ``claims.resume`` schedules with fresh time. The receiver was
    told of the withdrawal, so a later hand-off is a new application, never the same amount
    twice unannounced."""
    if claim.stage != "handed_off":
        return
    latest = session.scalar(select(Handoff).where(Handoff.claim_id == claim.invoice_id)
                            .order_by(Handoff.created_at.desc()).limit(1))
    if latest is None or latest.status != "withdrawn":
        return
    claim.stage = "demanded"
    record(session, now, "handoff-routing-resumed", claim_id=claim.invoice_id, customer_id=claim.customer_id,
           case_id=claim.case_id, handoff_id=latest.id,
           basis="re-opened after its hand-off was withdrawn: routed again with fresh time (POLICY.md point 11)")


def payment_reversed(session: Session, now: datetime, claim: Claim, payment_id: str, amount: int) -> None:
    """A payment on a claim that sits with its receiver (exported) was reversed. The receiver
    collects what it was last told, so ``amount`` is owed again and nobody is collecting it:
    nothing is sent on its own (a receiver cannot always raise a claim it holds, and a second
    application is a handler's decision), but a handler task says what to do, and the timeline
    has ``handoff-reinstatement-needed`` with the amounts. A claim settled by the payment was
    withdrawn from the receiver and is routed again instead (``reopened``)."""
    if amount <= 0 or claim.status != "open":
        return
    h = _exported(session, claim.invoice_id)
    if h is None:
        return
    reported = h.reported_ore or 0
    text = (f"Betalning {payment_id} på faktura {claim.invoice_id} har återförts efter överlämningen till "
            f"{h.target} ({h.id}): {format_kronor(amount)} är obetalt igen men ingår inte i det mottagaren driver in "
            f"(senast meddelat belopp {format_kronor(reported)}). Meddela mottagaren det återställda beloppet "
            "eller ansök om det separat.")
    session.add(Task(customer_id=claim.customer_id, kind="handoff_reinstatement", text=text[:1000],
                     due_on=now.date() + timedelta(days=REINSTATEMENT_TASK_DAYS), created_at=to_db(now)))
    record(session, now, "handoff-reinstatement-needed", claim_id=claim.invoice_id, customer_id=claim.customer_id,
           case_id=claim.case_id, handoff_id=h.id, target=h.target, payment_id=payment_id, amount=amount,
           reported=reported, basis="the receiver collects only what it was told (POLICY.md point 11)")


def _handoff(session: Session, handoff_id: str) -> tuple[Handoff, Claim]:
    h = session.get(Handoff, handoff_id)
    if h is None:
        raise Rejected("data.handoff_id", "is not a known hand-off")
    claim = claims_service.locked_claim(session, h.claim_id)
    session.refresh(h)
    if h.status not in ("exported", "withdrawn"):
        raise Rejected("data.handoff_id", f"is {h.status}, not handed off")
    return h, claim


def closed(session: Session, app: App, now: datetime, event_id: str, data: Any) -> None:
    """``handoff-closed``: the receiver's outcome. Uncollectable writes the claim off with its
    reason; a partly paid claim stays watched (efterbevakning)."""
    h, claim = _handoff(session, data.handoff_id)
    h.status, h.outcome, h.amount_recovered_ore, h.closed_at = "closed", data.outcome, data.amount_recovered, to_db(now)
    record(session, now, "handoff-closed", claim_id=claim.invoice_id, customer_id=claim.customer_id,
           case_id=claim.case_id, handoff_id=h.id, target=h.target, outcome=data.outcome,
           amount_recovered=data.amount_recovered, event_id=event_id)
    if data.outcome == "uncollectable" and claim.status == "open":
        claims_service.write_off(session, now, claim, reason=f"uncollectable: reported by {h.target} (hand-off {h.id})",
                                 basis="handoff-closed outcome uncollectable (EVENTS.md)")
        surveillance.end(session, now, claim.invoice_id, "written off")
    elif data.outcome == "partially_paid" and claim.status == "open":
        surveillance.start(session, app, now, claim, "partially_paid")


def title_obtained(session: Session, app: App, now: datetime, event_id: str, data: Any) -> None:
    """``enforcement-title-obtained``: the utslag; surveillance starts (SWEDISH-RULES.md §6.1, 7 §)."""
    h, claim = _handoff(session, data.handoff_id)
    h.title_reference, h.title_on = data.title_reference, data.obtained_on
    record(session, now, "enforcement-title-obtained", claim_id=claim.invoice_id, customer_id=claim.customer_id,
           case_id=claim.case_id, handoff_id=h.id, title_reference=data.title_reference, obtained_on=data.obtained_on)
    if claim.status == "open":
        surveillance.start(session, app, now, claim, "title")


# --- reading -----------------------------------------------------------------------------------

def summary(session: Session, claim_id: str) -> dict[str, Any] | None:
    """For `likvid show invoice`: the claim's latest hand-off, visibly waiting or not."""
    h = session.scalar(select(Handoff).where(Handoff.claim_id == claim_id).order_by(Handoff.created_at.desc()).limit(1))
    if h is None:
        return None
    f = session.get(HandoffFile, h.file_id) if h.file_id else None
    return {"handoff_id": h.id, "target": h.target, "status": h.status, "reason": h.reason,
            "queued_on": h.queued_on.isoformat() if h.queued_on else None,
            "exported_at": from_db(h.exported_at).isoformat() if h.exported_at else None,
            "file": f.path if f else None, "reported": None if h.reported_ore is None else f"{h.reported_ore / 100:.2f}",
            "title_reference": h.title_reference, "outcome": h.outcome}


def listing(session: Session, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = session.execute(select(Handoff, Claim).join(Claim, Claim.invoice_id == Handoff.claim_id)
                           .where(Handoff.status.in_(statuses))
                           .order_by(Handoff.status, Handoff.creditor_id, Handoff.claim_id)).all()
    return [{"handoff_id": h.id, "invoice_id": c.invoice_id, "creditor_id": h.creditor_id, "target": h.target,
             "status": h.status, "reason": h.reason,
             "decision_final_on": c.decision_final_on.isoformat() if c.decision_final_on else None,
             "queued_on": h.queued_on.isoformat() if h.queued_on else None} for h, c in rows]
