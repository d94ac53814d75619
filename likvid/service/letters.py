"""Letters: created by a step, re-checked and rendered by the dispatcher just before they leave.

The dispatcher drops every claim that was paid or put on hold since the step ran, cancels the
letter when nothing is left, posts the fees and interest the letter states, renders it with
Jinja2 under the state directory and schedules the next step from the deadline it gave.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from likvid.clock import to_db
from likvid.correlation import current as current_correlation
from likvid.correlation import follows
from likvid.ids import hex_id
from likvid.models import Claim, CollectionCase, Customer, LedgerEntry, Letter, LetterClaim
from likvid.rules.collection import demand_due_on, handoff_due_on, reason_not_to_press
from likvid.rules.deadlines import payment_deadline
from likvid.rules.fees import collection_fee_ore, reminder_fee_ore
from likvid.rules.interest import InterestLine, interest_start, penalty_interest
from likvid.service import channels, ledger, timers
from likvid.service import claims as claims_service
from likvid.service.app import App
from likvid.service.pdf import render_pdf
from likvid.service.records import QUEUE_EMAIL, enqueue, record
from likvid.service.render import render_letter

#: The stage a claim must be at for each letter kind to still be sent about it.
REQUIRED_STAGE = {
    "reminder": "due",
    "collection_demand": "reminded",
    "handoff_notice": "handed_off",
}
#: The outbound event each letter kind emits when it leaves (EVENTS.md).
SENT_EVENT = {
    "reminder": "reminder-sent",
    "collection_demand": "collection-demand-sent",
    "objection_acknowledgement": "objection-acknowledged",
    "deferral_confirmation": "deferral-confirmed",
    "payment_plan": "payment-plan-sent",
    "review_decision": "review-decision-sent",
}
#: Skatteverket forwards letters to people with protected identity (SWEDISH-RULES.md §9).
PROTECTED_ADDRESS = ("c/o Skatteverket (förmedling)", "Box 2820", "403 20 Göteborg")
#: The suspension track's letters (likvid.service.suspension).
SUSPENSION_LETTERS = ("suspension_warning", "suspension_notice", "social_services_notice")
#: The ledger note of a reminder fee (counted: at most one per claim).
REMINDER_FEE_NOTE = "reminder fee"
BASIS_REMINDER_FEE = "lag (1981:739) om ersättning för inkassokostnader 2 § och 4 §"
BASIS_COLLECTION_FEE = "lag (1981:739) om ersättning för inkassokostnader 3 § och 4 §"


def new_letter_id() -> str:
    """A letter's id: "L" and 20 random hex digits."""
    return "L" + hex_id(20)


def create_letter(session: Session, now: datetime, kind: str, case: CollectionCase, claims: list[Claim],
                  *, level: int | None = None, details: dict[str, Any] | None = None) -> Letter:
    """A pending letter for ``claims``. The unique (claim, kind, level) constraint makes a second
    reminder or demand of the same level for a claim impossible, whatever redelivers."""
    if level is None:
        level = 1 + int(session.scalar(
            select(func.count()).select_from(LetterClaim).where(
                LetterClaim.claim_id.in_([c.invoice_id for c in claims]), LetterClaim.kind == kind)
        ) or 0)
    letter = Letter(id=new_letter_id(), kind=kind, case_id=case.id,
                    customer_id=case.customer_id, level=level, status="pending",
                    created_at=to_db(now), details=details or {}, correlation_id=current_correlation())
    session.add(letter)
    session.flush()
    for claim in claims:
        session.add(LetterClaim(letter_id=letter.id, claim_id=claim.invoice_id, kind=kind, level=level))
    session.flush()
    return letter


@follows(Letter, "letter")
def dispatch(session: Session, app: App, now: datetime, letter_id: str) -> str:
    letter = session.get(Letter, letter_id)
    if letter is None:
        return "no such letter"
    case = claims_service.lock_case(session, letter.case_id)
    session.refresh(letter)
    if letter.status != "pending":
        return f"already {letter.status}"
    links = list(session.scalars(select(LetterClaim).where(LetterClaim.letter_id == letter.id)))
    claims = {c.invoice_id: c for c in session.scalars(select(Claim).where(Claim.invoice_id.in_([lc.claim_id for lc in links])))}
    amounts = ledger.collectible_amounts(session, claims)
    keep: list[Claim] = []
    for link in links:
        claim = claims[link.claim_id]
        bal, coll = amounts[claim.invoice_id]
        reason = None
        if letter.kind in REQUIRED_STAGE or letter.kind in SUSPENSION_LETTERS:
            reason = reason_not_to_press(claim.status, bal.total, coll)
            if reason is None and letter.kind in REQUIRED_STAGE and claim.stage != REQUIRED_STAGE[letter.kind]:
                reason = f"the claim moved to stage {claim.stage}"
        if reason:
            link.status = "dropped"
            record(session, now, "letter-claim-dropped", claim_id=claim.invoice_id,
                   customer_id=claim.customer_id, case_id=case.id, letter_id=letter.id,
                   kind=letter.kind, reason=reason)
        else:
            keep.append(claim)
    if not keep:
        letter.status = "cancelled"
        letter.cancel_reason = "nothing left to send about: every claim was paid or held"
        return "cancelled"
    keep.sort(key=lambda c: (c.effective_due_date, c.invoice_id))
    customer = session.get(Customer, case.customer_id)
    assert customer is not None
    steps = app.policy.steps_for(case.creditor_id, keep[0].claim_kind)
    today = now.date()
    fees: list[dict[str, Any]] = []
    interest_lines: list[InterestLine] = []
    deadline: date | None = None
    next_step: dict[str, Any] = {"kind": "none", "on_or_after": None}

    fer = _late_payment_compensation(session, app, now, letter, case.creditor_id, customer, keep, fees)
    if letter.kind == "reminder":
        charged = {c.invoice_id: 0 if fer else _fee_count(session, c.invoice_id, REMINDER_FEE_NOTE) for c in keep}
        deadline, next_step = reminder_terms(session, now, letter, keep, steps, fees, charged, fer)
    elif letter.kind == "collection_demand":
        interest_lines = _post_interest(session, app, now, letter, keep)
        capital = sum(amounts[c.invoice_id][0].capital for c in keep)
        fee = collection_fee_ore(claim_nature=keep[0].claim_nature, case_already_charged=False,
                                 total_capital_ore=capital, fee_ore=steps.collection_fee_ore,
                                 min_claim_ore=steps.min_claim_for_collection_fee_ore)
        if fee and not fer:
            ledger.post(session, now, keep[0].invoice_id, "fee", "fee", fee, today, ref=letter.id, note="collection fee")
            fees.append({"kind": "collection_fee", "amount_ore": fee, "basis": BASIS_COLLECTION_FEE})
        deadline = payment_deadline(today, steps.demand_days_to_pay,
                                    presumed_delivery_bank_days=steps.presumed_delivery_bank_days)
        next_step = {"kind": steps.handoff_target, "on_or_after": handoff_due_on(deadline, steps.handoff_after_days)}

    elif letter.kind in ("review_decision", "payment_plan_broken", "limitation_demand"):
        # Collection resumes: fresh time to pay, stated in the letter.
        deadline = payment_deadline(today, steps.resume_days_to_pay,
                                    presumed_delivery_bank_days=steps.presumed_delivery_bank_days)
    elif letter.kind in SUSPENSION_LETTERS:
        from likvid.service import suspension

        deadline = suspension.letter_deadline(session, app, letter)
    elif letter.kind == "deferral_confirmation":
        from likvid.models import Hold

        hold = session.scalar(select(Hold).where(Hold.kind == "deferral", Hold.ref == (letter.details or {}).get("deferral_id")))
        deadline = hold.until if hold else None

    amounts = ledger.collectible_amounts(session, [c.invoice_id for c in keep])
    return send(session, app, now, letter, case, customer, keep, amounts, fees, interest_lines, deadline, next_step)


def reminder_terms(session: Session, now: datetime, letter: Letter, keep: list[Claim], steps: Any,
                   fees: list[dict[str, Any]], charged: dict[str, int], fer: bool) -> tuple[date, dict[str, Any]]:
    """A reminder's fees (posted; ``charged``: reminder fees each claim already bears), its
    deadline and what follows it."""
    today = now.date()
    for claim in keep:
        if fer:
            break
        fee = reminder_fee_ore(claim_nature=claim.claim_nature, claim_kind=claim.claim_kind,
                               reminder_fee_agreed=claim.reminder_fee_agreed,
                               already_charged=charged[claim.invoice_id], fee_ore=steps.reminder_fee_ore)
        if fee:
            ledger.post(session, now, claim.invoice_id, "fee", "fee", fee, today, ref=letter.id, note=REMINDER_FEE_NOTE)
            fees.append({"kind": "reminder_fee", "amount_ore": fee, "basis": BASIS_REMINDER_FEE})
    deadline = payment_deadline(today, steps.reminder_days_to_pay, min_days=0,
                                presumed_delivery_bank_days=steps.presumed_delivery_bank_days,
                                min_bank_days_after_receipt=0)
    return deadline, {"kind": "collection_demand", "on_or_after": demand_due_on(deadline, steps.demand_after_days)}


def send(session: Session, app: App, now: datetime, letter: Letter, case: CollectionCase, customer: Customer,
         keep: list[Claim], amounts: dict[str, Any], fees: list[dict[str, Any]], interest_lines: list[InterestLine],
         deadline: date | None, next_step: dict[str, Any]) -> str:
    """Render, record and hand over a decided letter; the claims move on."""
    today = now.date()
    context = build_context(app, letter, case, customer, keep, amounts, fees, interest_lines,
                            deadline, next_step, today)
    rendered = render_letter(letter.kind, customer.language, context)
    pdf = render_pdf(letter.kind, customer.language, context)
    path = _write(app.settings.letters_dir / today.isoformat(), letter.id, rendered.text, rendered.html, pdf)
    channel = channels.choose(app, case.creditor_id, letter.kind, customer)

    letter.status = "sent"
    letter.sent_at = to_db(now)
    letter.sent_on = today
    letter.deadline = deadline
    letter.language = customer.language
    letter.total_ore = context["totals"]["total_ore"]
    letter.path = str(path)
    letter.pdf_path = str(path.with_suffix(".pdf"))
    letter.channel = channel
    letter.content_hash = channels.content_hash(rendered.text, rendered.html, pdf)
    letter.details = {**(letter.details or {}), "subject": rendered.subject,
                      "claims": [c.invoice_id for c in keep], "fees": sum(f["amount_ore"] for f in fees),
                      "interest": sum(line.amount_ore for line in interest_lines)}
    _advance_claims(session, app, now, letter, keep, deadline)
    event = SENT_EVENT.get(letter.kind)
    for claim in keep:
        bal, coll = amounts[claim.invoice_id]
        if event:
            record(session, now, event, claim_id=claim.invoice_id, customer_id=claim.customer_id,
                   case_id=case.id, letter_id=letter.id, level=letter.level, amount=coll,
                   deadline=deadline, basis=_basis(letter.kind))
    if channel == "email":
        letter.email_status = "pending"
        letter.address_used = {"channel": "email", "email": channels.email_address(customer)}
        enqueue(session, now, QUEUE_EMAIL, "send_emails", [letter.id])
    else:
        letter.address_used = {"channel": "letter", "lines": context["recipient"]["address_lines"]}
        channels.print_letter(app, session, now, letter, pdf, context["recipient"], customer)
    return f"sent {letter.id} by {channel}"


def pdf_for(letter: Letter) -> bytes:
    """The PDF rendered when the letter was decided (kept as proof of its content)."""
    return Path(letter.pdf_path or "").read_bytes()


#: Förseningsersättning, lag (1981:739) 4 a § (SWEDISH-RULES.md §1.1): a fixed amount.
LATE_PAYMENT_COMPENSATION_ORE = 45000


def _late_payment_compensation(session: Session, app: App, now: datetime, letter: Letter, creditor_id: str,
                               customer: Customer, claims: list[Claim], fees: list[dict[str, Any]]) -> bool:
    """Between businesses, where the creditor enables it: 450 kr once per claim, with the first
    reminder or demand, instead of the reminder and collection fees (§1.1). Returns whether it applies."""
    creditor = app.policy.creditors[creditor_id]
    if not creditor.late_payment_compensation or customer.party_type != "organisation" or customer.consumer:
        return False
    if letter.kind not in ("reminder", "collection_demand"):
        return False
    for claim in claims:
        if claim.claim_nature == "civil" and _fee_count(session, claim.invoice_id, "late payment compensation") == 0:
            ledger.post(session, now, claim.invoice_id, "fee", "fee", LATE_PAYMENT_COMPENSATION_ORE, now.date(),
                        ref=letter.id, note="late payment compensation")
            fees.append({"kind": "late_payment_compensation", "amount_ore": LATE_PAYMENT_COMPENSATION_ORE,
                         "basis": "lag (1981:739) om ersättning för inkassokostnader 4 a §"})
    return True


def _basis(kind: str) -> str:
    return {
        "reminder": "policy step: unpaid after the due date (POLICY.md point 3)",
        "collection_demand": "inkassolagen (1974:182) 5 §; unpaid after the reminder (POLICY.md point 11)",
        "objection_acknowledgement": "POLICY.md point 6",
    }.get(kind, "")


def _fee_count(session: Session, claim_id: str, note: str) -> int:
    return int(session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.claim_id == claim_id, LedgerEntry.kind == "fee", LedgerEntry.note == note)) or 0)


def _post_interest(session: Session, app: App, now: datetime, letter: Letter, claims: list[Claim]) -> list[InterestLine]:
    """Dröjsmålsränta (räntelagen 3 §, 6 §; SWEDISH-RULES.md §2) up to today on each claim's
    capital history; what earlier letters already charged is not charged again."""
    interest_cfg = app.policy.file.interest
    lines: list[InterestLine] = []
    for claim in claims:
        if claim.claim_nature == "public_law" and not interest_cfg.charge_public_law:
            continue
        start = interest_start(claim.effective_due_date)
        end = now.date() - timedelta(days=1)
        if end < start:
            continue
        result = penalty_interest(ledger.capital_history(session, claim.invoice_id), start, end,
                                  app.policy.reference_rates, margin_bp=app.policy.interest_margin_bp,
                                  days_in_year=interest_cfg.days_in_year)
        new = result.total_ore - ledger.interest_posted(session, claim.invoice_id)
        if new > 0:
            ledger.post(session, now, claim.invoice_id, "interest", "interest", new, now.date(),
                        ref=letter.id, note=f"räntelagen 6 §, {start}–{end}")
        lines.extend(result.lines)
    return lines


def _advance_claims(session: Session, app: App, now: datetime, letter: Letter, claims: list[Claim], deadline: date | None) -> None:
    for claim in claims:
        steps = app.policy.steps_for(claim.creditor_id, claim.claim_kind)
        if letter.kind == "reminder" and deadline:
            claim.stage, claim.reminder_level, claim.reminder_deadline = "reminded", letter.level, deadline
            timers.schedule(session, now, "demand", claim.invoice_id, demand_due_on(deadline, steps.demand_after_days))
        elif letter.kind == "collection_demand" and deadline:
            claim.stage, claim.demand_level, claim.demand_deadline = "demanded", letter.level, deadline
            timers.schedule(session, now, "handoff", claim.invoice_id, handoff_due_on(deadline, steps.handoff_after_days))
            from likvid.service import suspension

            suspension.demand_sent(session, app, now, claim, deadline)


def _write(directory: Path, name: str, text: str, html: str, pdf: bytes) -> Path:
    """Write the renderings atomically; a retry overwrites the same files, so one letter stays one."""
    for suffix, content in ((".txt", text.encode("utf-8")), (".html", html.encode("utf-8")), (".pdf", pdf)):
        channels.write_atomic(directory / f"{name}{suffix}", content, directory / f".{name}{suffix}.tmp")
    return directory / f"{name}.txt"


def recipient(customer: Customer) -> dict[str, Any]:
    """Name and address lines; a protected identity never gets an address printed (§9); a
    registered representative (guardian, trustee, estate contact) receives the letter."""
    rep = customer.representative or {}
    if rep.get("address") and not customer.protected_identity:
        a = rep["address"]
        lines = [f"för {customer.name}", a.get("street", ""), f"{a.get('postal_code', '')} {a.get('city', '')}".strip()]
        return {"name": rep.get("name") or customer.name, "address_lines": [x for x in lines if x], "protected": False}
    if customer.protected_identity:
        return {"name": customer.name, "address_lines": list(PROTECTED_ADDRESS), "protected": True}
    a = customer.address or {}
    lines = [f"c/o {a['care_of']}"] if a.get("care_of") else []
    lines += [a.get("street", ""), f"{a.get('postal_code', '')} {a.get('city', '')}".strip()]
    if a.get("country") and a["country"] != "SE":
        lines.append(a["country"])
    return {"name": customer.name, "address_lines": [x for x in lines if x], "protected": False}


def build_context(app: App, letter: Letter, case: CollectionCase, customer: Customer, claims: list[Claim],
                  amounts: dict[str, Any], fees: list[dict[str, Any]], interest_lines: list[InterestLine],
                  deadline: date | None, next_step: dict[str, Any], today: date) -> dict[str, Any]:
    creditor = app.policy.creditors[case.creditor_id]
    rows = []
    for c in claims:
        bal, coll = amounts[c.invoice_id]
        rows.append({"invoice_id": c.invoice_id, "invoice_number": c.invoice_number,
                     "description": c.description, "claim_kind": c.claim_kind,
                     "claim_nature": c.claim_nature, "issue_date": c.issue_date, "due_date": c.due_date,
                     "ocr_reference": c.ocr_reference, "capital_ore": bal.capital, "fee_ore": bal.fee,
                     "interest_ore": bal.interest, "total_ore": bal.total, "held_ore": bal.total - coll})
    totals = {k: sum(r[f"{k}_ore"] for r in rows) for k in ("capital", "fee", "interest", "total", "held")}
    totals = {f"{k}_ore": v for k, v in totals.items()}
    payable = totals["total_ore"] - totals["held_ore"]
    ocr = claims[0].ocr_reference if len(claims) == 1 else case.ocr_reference
    handoff_names = {"kronofogden": "Kronofogden", "agency": "inkassoföretag", "indrivning": "Kronofogden (indrivning)"}
    steps = app.policy.steps_for(case.creditor_id, claims[0].claim_kind)
    context: dict[str, Any] = {
        "letter": {"id": letter.id, "kind": letter.kind, "level": letter.level, "sent_on": today,
                   "deadline": deadline or today, "language": customer.language},
        "creditor": {"name": creditor.name, "org_number": f"{creditor.org_number[:6]}-{creditor.org_number[6:]}",
                     "bankgiro": creditor.bankgiro,
                     "address": creditor.address.model_dump(), "contact": creditor.contact.model_dump()},
        "recipient": recipient(customer),
        "claims": rows,
        "fees": fees,
        "interest": {"lines": [vars(line) if not hasattr(line, "_asdict") else line._asdict() for line in interest_lines],
                     "total_ore": sum(line.amount_ore for line in interest_lines),
                     "reference": "räntelagen (1975:635) 6 §"},
        "totals": totals,
        "payment": {"bankgiro": creditor.bankgiro, "ocr": ocr, "amount_ore": payable, "deadline": deadline or today},
        "objection": {"how": app.policy.file.defaults.objection_how, "contact_email": creditor.contact.email,
                      "contact_phone": creditor.contact.phone},
        "next_step": next_step,
        "handoff": {"target": steps.handoff_target, "target_name": handoff_names[steps.handoff_target]},
    }
    from sqlalchemy.orm import object_session

    session = object_session(letter)
    assert session is not None
    context.update(_kind_context(session, app, letter, claims, totals, today))
    return context


def _kind_context(s: Session, app: App, letter: Letter, claims: list[Claim], totals: dict[str, int],
                  today: date) -> dict[str, Any]:
    """What a letter kind says beyond the claims and amounts (see likvid.service.samples)."""
    from likvid.models import Hold, PaymentPlan

    if letter.kind in SUSPENSION_LETTERS:
        from likvid.service import suspension

        return suspension.letter_context(s, app, letter, claims, today)
    d = letter.details or {}
    defaults = app.policy.file.defaults
    public_law = any(c.claim_nature == "public_law" for c in claims)
    if letter.kind == "objection_acknowledgement":
        hold = s.scalar(select(Hold).where(Hold.kind == "objection", Hold.ref == d.get("objection_id")))
        return {"ack": {
            "objection_id": d.get("objection_id"), "received_on": hold.starts_on if hold else today,
            "reason": hold.reason if hold else "",
            "disputed_amount_ore": hold.amount_ore if hold and hold.amount_ore is not None else totals["total_ore"],
            "review_by": today + timedelta(days=defaults.objection_review_days), "public_law": public_law}}
    if letter.kind == "deferral_confirmation":
        hold = s.scalar(select(Hold).where(Hold.kind == "deferral", Hold.ref == d.get("deferral_id")))
        assert hold is not None
        return {"deferral": {"deferral_id": hold.ref, "until": hold.until, "reason": hold.reason,
                             "granted_by": hold.created_by}}
    if letter.kind in ("payment_plan", "payment_plan_broken"):
        plan = s.get(PaymentPlan, d.get("plan_id"))
        assert plan is not None
        installments = [{"due_date": date.fromisoformat(i["due_date"]), "amount_ore": i["amount_ore"]} for i in plan.installments]
        if letter.kind == "payment_plan":
            return {"plan": {"plan_id": plan.id, "installments": installments, "total_ore": plan.total_ore,
                             "sign_by": today + timedelta(days=defaults.plan_sign_days),
                             "return_how": defaults.objection_how, "grace_days": defaults.plan_grace_days}}
        missed = installments[int(d.get("missed", 0))]
        return {"plan": {"plan_id": plan.id, "missed": missed, "paid_ore": d.get("paid_ore", 0),
                         "remaining_ore": d.get("remaining_ore", totals["total_ore"])}}
    if letter.kind == "review_decision":
        return {"review": {"objection_id": d.get("objection_id"), "outcome": d.get("outcome"),
                           "reasons": d.get("reasons", ""), "decided_by": d.get("decided_by", ""),
                           "credited_amount_ore": d.get("credited_ore", 0), "public_law": public_law,
                           "decided_on": today}}
    return {}
