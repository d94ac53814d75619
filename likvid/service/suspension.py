"""The suspension track (POLICY.md point 8; SWEDISH-RULES.md §4): per customer, creditor and
delivery point, the legal sequence of each utility, each step a durable timer.

- A collection demand's deadline passes on a utility claim with a delivery point → a
  ``suspension_start`` timer ``start_after_demand_days`` later (ref: the invoice id).
- start: a substantial breach and no blocker → the track opens, the written request to remedy
  with a warning goes out, ``delivery-suspension-warned``.
- consumer (electricity, district heating): after the remedy deadline the demand to pay within
  three weeks of service and, the same day, the message to the social services
  (``social-services-notified``); then it waits for ``notice-served``; the order is due on the
  service date + 21 days + margin. A demand not served within ``service_wait_days`` closes the
  track as lapsed (the ``lapse`` step), so a later demand starts a fresh track with a fresh warning.
- water, business: the order is due after the request's deadline (+ margin).
- water to a household (a consumer who is a person): when [suspension.water]
  notify_social_services is on (the default), the request to remedy goes, the same day, to the
  social services as a courtesy (``social-services-notified``): LAV 43 § has no such duty
  (SWEDISH-RULES.md §4.3 [I]), but at the warning the social services still have the whole
  remedy period to step in before the order, which follows the deadline by only the margin.
- order: ``delivery-suspension-ordered``.

Every step re-checks every blocker just before it acts (``blocker``); a blocked track is closed
with its reason on the timeline and no outbound event. Restoration is checked on every scheduler
cycle over suspended points only (``restore_due``): once every claim that caused the suspension
is closed, or the social services undertook to pay one, ``delivery-restoration-ordered``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from likvid.clock import to_db
from likvid.models import (
    Claim,
    CollectionCase,
    Customer,
    DeliveryPointFlag,
    Letter,
    SocialServicesUndertaking,
    SuspensionClaim,
    SuspensionTrack,
    Timer,
)
from likvid.models.suspension import ACTIVE_TRACK
from likvid.rules import suspension as rules
from likvid.service import claims as claims_service
from likvid.service import ledger, timers
from likvid.service.app import App
from likvid.service.errors import Rejected
from likvid.service.letters import create_letter
from likvid.service.parking import lock_key
from likvid.service.records import dispatch_later, record

#: Timer kinds (unbound: keyed by ``ref``) handled here.
TIMER_START = "suspension_start"
TIMER_STEP = "suspension_step"
TIMER_KINDS = (TIMER_START, TIMER_STEP)


def cfg(app: App) -> rules.SuspensionSection:
    return app.policy.file.suspension


# --- entry points ---------------------------------------------------------------------------------

def demand_sent(session: Session, app: App, now: datetime, claim: Claim, deadline: date) -> None:
    """A collection demand left with ``deadline``: a utility claim with a delivery point gets a
    start check once the deadline has passed (issue 6: the configurable trigger)."""
    if claim.claim_kind not in rules.UTILITIES or not claim.delivery_point_id:
        return
    on = deadline + timedelta(days=cfg(app).start_after_demand_days)
    timers.schedule(session, now, TIMER_START, None, on, ref=claim.invoice_id)


def fire(session: Session, app: App, now: datetime, timer: Timer) -> str:
    """A suspension timer (called from ``steps._fire_unbound``)."""
    if timer.kind == TIMER_START:
        return start(session, app, now, timer.ref or "")
    track_id, _, step = (timer.ref or "").partition(":")
    return run_step(session, app, now, int(track_id), step)


def start(session: Session, app: App, now: datetime, invoice_id: str) -> str:
    claim = session.get(Claim, invoice_id)
    if claim is None:
        return "claim not found"
    case = claims_service.lock_case(session, claim.case_id)
    customer = session.get(Customer, claim.customer_id)
    assert customer is not None
    regime, why = rules.regime_for(claim.claim_kind, customer.party_type, customer.consumer)
    if claim.status != "open":
        return f"claim {claim.status}"
    if regime is None or not claim.delivery_point_id:
        return _not_started(session, now, claim, why)
    point = claim.delivery_point_id
    active = session.scalar(select(SuspensionTrack).where(
        SuspensionTrack.customer_id == claim.customer_id, SuspensionTrack.creditor_id == claim.creditor_id,
        SuspensionTrack.delivery_point_id == point, SuspensionTrack.status.in_(ACTIVE_TRACK)))
    if active is not None and _service_wait_over(app, active, now.date()):
        # A track awaiting service from before the lapse timer existed (or whose wait the policy
        # has shortened since): closed now, so this demand starts afresh.
        _lapse(session, app, now, active, _track_claims(session, active))
        session.flush()
        active = None
    if active is not None:
        return f"track {active.id} already running for the delivery point"
    claims = _overdue_claims(session, now, claim.customer_id, claim.creditor_id, point, claim.claim_kind)
    reason = _blocker(session, app, regime, customer, point, claims)
    if reason:
        return _not_started(session, now, claim, reason)
    today = now.date()
    deadline = rules.remedy_deadline(today, regime, cfg(app))
    track = SuspensionTrack(customer_id=claim.customer_id, creditor_id=claim.creditor_id, delivery_point_id=point,
                            utility=claim.claim_kind, regime=regime, status="warned", opened_at=to_db(now),
                            warned_on=today, remedy_deadline=deadline)
    session.add(track)
    session.flush()
    session.add_all([SuspensionClaim(track_id=track.id, claim_id=c.invoice_id) for c in claims])
    # A household's water warning says that the social services get a copy, as the consumer
    # warning does (the copy itself follows below).
    copy = regime == "water" and rules.water_courtesy_notice(customer.party_type, customer.consumer, cfg(app))
    letter = create_letter(session, now, "suspension_warning", case, claims,
                           details={"track_id": track.id, **({"social_services_copy": True} if copy else {})})
    dispatch_later(session, letter.id)
    amount = _undisputed(session, claims)
    record(session, now, "delivery-suspension-warned", claim_id=claim.invoice_id, customer_id=claim.customer_id,
           case_id=case.id, track_id=track.id, delivery_point_id=point, utility=track.utility, regime=regime,
           invoice_ids=[c.invoice_id for c in claims], amount=amount, remedy_deadline=deadline,
           letter_id=letter.id, basis=rules.BASIS[regime]["warn"][:300])
    if copy:
        _notify_social_services(session, now, track, case, claims, letter.id, amount)
    if regime == "consumer":
        _schedule(session, now, track, "demand", rules.demand_on(deadline))
    else:
        _schedule(session, now, track, "order", rules.order_after_warning_on(deadline, regime, cfg(app)))
    return f"track {track.id} warned"


def run_step(session: Session, app: App, now: datetime, track_id: int, step: str) -> str:
    track = session.get(SuspensionTrack, track_id)
    if track is None:
        return "no such track"
    claims = _track_claims(session, track)
    if claims:
        claims_service.lock_case(session, claims[0].case_id)
    session.refresh(track)
    expected = {"demand": "warned", "order": "served" if track.regime == "consumer" else "warned",
                "lapse": "awaiting_service"}.get(step)
    if expected is None or track.status != expected:
        return f"skipped: track is {track.status}"
    if step == "lapse":
        if not _service_wait_over(app, track, now.date()):
            # The policy's wait was lengthened after the timer was set: wait for the new day.
            assert track.demanded_on is not None
            _schedule(session, now, track, "lapse", rules.service_lapses_on(track.demanded_on, cfg(app)))
            return f"track {track.id}: service wait extended"
        return _lapse(session, app, now, track, claims)
    customer = session.get(Customer, track.customer_id)
    assert customer is not None
    reason = _blocker(session, app, track.regime, customer, track.delivery_point_id, claims)
    if reason:
        return _block(session, now, track, claims, step, reason)
    if step == "demand":
        return _demand(session, app, now, track, claims)
    return _order(session, app, now, track, claims)


def _demand(session: Session, app: App, now: datetime, track: SuspensionTrack, claims: list[Claim]) -> str:
    """The demand to pay within three weeks of service and, the same day, the social services'
    message (ellagen 11 kap. 4 §; fjärrvärmelagen 28 §)."""
    case = session.get(CollectionCase, claims[0].case_id)
    assert case is not None
    notice = create_letter(session, now, "suspension_notice", case, claims, details={"track_id": track.id})
    dispatch_later(session, notice.id)
    track.status = "awaiting_service"
    track.demanded_on = now.date()
    track.notice_id = notice.id
    amount = _undisputed(session, claims)
    record(session, now, "suspension-notice-sent", claim_id=claims[0].invoice_id, customer_id=track.customer_id,
           case_id=case.id, track_id=track.id, notice_id=notice.id, letter_id=notice.id,
           pay_within_days=cfg(app).consumer.pay_days_after_service, amount=amount,
           basis=rules.BASIS["consumer"]["demand"][:300])
    _notify_social_services(session, now, track, case, claims, notice.id, amount)
    _schedule(session, now, track, "lapse", rules.service_lapses_on(track.demanded_on, cfg(app)))
    return f"track {track.id}: notice {notice.id} awaiting service"


def _notify_social_services(session: Session, now: datetime, track: SuspensionTrack, case: CollectionCase,
                            claims: list[Claim], notice_id: str, amount: int) -> None:
    """The message to the socialnämnd about the letter ``notice_id`` (the consumer's demand, or
    a household's request to remedy water), sent and recorded as ``social-services-notified``
    with the track's regime's basis (``rules.BASIS[regime]["social"]``)."""
    social = create_letter(session, now, "social_services_notice", case, claims,
                           details={"track_id": track.id, "notice_id": notice_id})
    dispatch_later(session, social.id)
    record(session, now, "social-services-notified", claim_id=claims[0].invoice_id, customer_id=track.customer_id,
           case_id=case.id, track_id=track.id, delivery_point_id=track.delivery_point_id, notice_id=notice_id,
           letter_id=social.id, amount=amount, invoice_ids=[c.invoice_id for c in claims],
           basis=rules.BASIS[track.regime]["social"][:300])


def _service_wait_over(app: App, track: SuspensionTrack, today: date) -> bool:
    return (track.status == "awaiting_service" and track.demanded_on is not None
            and rules.service_lapses_on(track.demanded_on, cfg(app)) <= today)


def _lapse(session: Session, app: App, now: datetime, track: SuspensionTrack, claims: list[Claim]) -> str:
    """The demand was never served: no order may follow (ellagen 11 kap. 4 §), and a track left
    waiting would keep every later demand from starting one for the delivery point. Closed with
    its reason on the timeline; no outbound event (nothing happens in the field)."""
    days = cfg(app).service_wait_days
    reason = f"the demand (notice {track.notice_id}) was not served within {days} days of being sent on {track.demanded_on}"
    track.status = "lapsed"
    track.closed_reason = reason[:500]
    record(session, now, "suspension-lapsed", claim_id=claims[0].invoice_id if claims else None,
           customer_id=track.customer_id, case_id=claims[0].case_id if claims else None, track_id=track.id,
           delivery_point_id=track.delivery_point_id, notice_id=track.notice_id, reason=reason,
           service_wait_days=days, basis="no suspension without service of the demand (SWEDISH-RULES.md §4.1, §4.5)")
    return f"track {track.id} lapsed: {reason}"


def _order(session: Session, app: App, now: datetime, track: SuspensionTrack, claims: list[Claim]) -> str:
    track.status = "ordered"
    track.ordered_on = now.date()
    extra: dict[str, Any] = {}
    if track.utility == "water":
        extra["alternative_water"] = cfg(app).water.alternative_water
    record(session, now, "delivery-suspension-ordered", claim_id=claims[0].invoice_id if claims else None,
           customer_id=track.customer_id, case_id=claims[0].case_id if claims else None, track_id=track.id,
           delivery_point_id=track.delivery_point_id, utility=track.utility, regime=track.regime,
           invoice_ids=[c.invoice_id for c in claims], amount=_undisputed(session, claims),
           basis=rules.BASIS[track.regime]["order"][:300], **extra)
    return f"track {track.id}: suspension ordered"


def _block(session: Session, now: datetime, track: SuspensionTrack, claims: list[Claim], step: str, reason: str) -> str:
    track.status = "blocked"
    track.closed_reason = f"{step}: {reason}"[:500]
    record(session, now, "delivery-suspension-blocked", claim_id=claims[0].invoice_id if claims else None,
           customer_id=track.customer_id, case_id=claims[0].case_id if claims else None, track_id=track.id,
           delivery_point_id=track.delivery_point_id, step=step, reason=reason,
           basis="re-checked just before acting (SWEDISH-RULES.md §4.5 7)")
    return f"track {track.id} blocked: {reason}"


def _not_started(session: Session, now: datetime, claim: Claim, reason: str) -> str:
    record(session, now, "suspension-not-started", claim_id=claim.invoice_id, customer_id=claim.customer_id,
           case_id=claim.case_id, delivery_point_id=claim.delivery_point_id, reason=reason)
    return f"not started: {reason}"


def _schedule(session: Session, now: datetime, track: SuspensionTrack, step: str, on: date) -> None:
    track.order_on = on if step == "order" else track.order_on
    timers.schedule(session, now, TIMER_STEP, None, on, ref=f"{track.id}:{step}")


# --- blockers ---------------------------------------------------------------------------------------

def _blocker(session: Session, app: App, regime: str, customer: Customer, point: str, claims: list[Claim]) -> str | None:
    """Why the track must not act now, or None (SWEDISH-RULES.md §4.1, §4.3, §4.5 step 7)."""
    if customer.party_type == "estate":
        return "the customer is now an estate (dödsbo): ellagen 11 kap. does not apply; a handler decides"
    if regime == "consumer" and not (customer.consumer and customer.party_type == "person"):
        return "the customer is no longer a consumer: different rules apply; a handler decides"
    flag = session.get(DeliveryPointFlag, point)
    if flag is not None and flag.flag == "health_risk":
        return "the delivery point is flagged with a health risk (risk of personskada or harm to health)"
    ids = [c.invoice_id for c in claims]
    if ids and session.scalar(select(SocialServicesUndertaking.invoice_id)
                              .where(SocialServicesUndertaking.invoice_id.in_(ids)).limit(1)):
        return "the social services have undertaken to pay"
    holds = ledger.active_holds(session, ids)
    kinds = sorted({h.kind for hs in holds.values() for h in hs})
    if "objection" in kinds:
        return "an objection is open (a disputed claim is never a ground for suspension)"
    if kinds:
        return f"a hold is in force ({', '.join(kinds)})"
    open_claims = [c for c in claims if c.status == "open"]
    if not open_claims:
        return "paid: the debt is settled"
    amounts = ledger.collectible_amounts(session, ids)
    items = [rules.Unpaid(c.effective_due_date, rules.undisputed_capital(amounts[c.invoice_id][0].capital,
                                                                          amounts[c.invoice_id][1]))
             for c in open_claims]
    return rules.breach_reason(items, cfg(app).materiality)


def _overdue_claims(session: Session, now: datetime, customer_id: str, creditor_id: str, point: str, kind: str) -> list[Claim]:
    return list(session.scalars(
        select(Claim).where(
            Claim.customer_id == customer_id, Claim.creditor_id == creditor_id, Claim.delivery_point_id == point,
            Claim.claim_kind.in_(rules.COUNTS_TOWARD[kind]), Claim.status == "open",
            Claim.effective_due_date < now.date(),
        ).order_by(Claim.effective_due_date, Claim.invoice_id)))


def _track_claims(session: Session, track: SuspensionTrack) -> list[Claim]:
    return list(session.scalars(
        select(Claim).join(SuspensionClaim, SuspensionClaim.claim_id == Claim.invoice_id)
        .where(SuspensionClaim.track_id == track.id).order_by(Claim.effective_due_date, Claim.invoice_id)))


def _undisputed(session: Session, claims: list[Claim]) -> int:
    amounts = ledger.collectible_amounts(session, [c.invoice_id for c in claims])
    return sum(rules.undisputed_capital(b.capital, coll) for b, coll in amounts.values())


# --- inbound events -----------------------------------------------------------------------------------

def notice_served(session: Session, app: App, now: datetime, event_id: str, data: Any) -> None:
    """``notice-served``: the demand was served (delgivning); the order is due 21 days (+ margin) later."""
    lock_key(session, f"notice:{data.notice_id}")
    track = session.scalar(select(SuspensionTrack).where(SuspensionTrack.notice_id == data.notice_id))
    if track is None:
        raise Rejected("data.notice_id", "is not a suspension notice sent by this service")
    if track.status != "awaiting_service":
        raise Rejected("data.notice_id", f"is not awaiting service (the track is {track.status})")
    assert track.demanded_on is not None
    if data.served_on < track.demanded_on:
        raise Rejected("data.served_on", f"is before the notice was sent ({track.demanded_on})")
    if data.served_on > now.date():
        raise Rejected("data.served_on", "is in the future")
    track.status = "served"
    track.served_on = data.served_on
    on = rules.order_after_service_on(data.served_on, cfg(app))
    _schedule(session, now, track, "order", max(on, now.date()))
    record(session, now, "suspension-notice-served", customer_id=track.customer_id, track_id=track.id,
           notice_id=data.notice_id, served_on=data.served_on, pay_by=rules.pay_by_after_service(data.served_on, cfg(app)),
           order_on=track.order_on, basis=rules.BASIS["consumer"]["order"][:300])


def social_services_undertaking(session: Session, app: App, now: datetime, event_id: str, data: Any) -> None:
    """``social-services-undertaking``: blocks every later step; a suspended point is restored on
    the next scheduler cycle (the debt is covered)."""
    lock_key(session, f"undertaking:{data.invoice_id}")
    row = session.get(SocialServicesUndertaking, data.invoice_id)
    if row is None:
        session.add(SocialServicesUndertaking(invoice_id=data.invoice_id, decided_on=data.decided_on,
                                              received_at=to_db(now), event_id=event_id))
    else:
        row.decided_on, row.event_id = data.decided_on, event_id
    claim = session.get(Claim, data.invoice_id)
    record(session, now, "social-services-undertaking", claim_id=data.invoice_id,
           customer_id=claim.customer_id if claim else None, decided_on=data.decided_on)


def delivery_point_flagged(session: Session, app: App, now: datetime, event_id: str, data: Any) -> None:
    """``delivery-point-flagged``: a known health risk blocks suspension until ``cleared``."""
    lock_key(session, f"delivery_point:{data.delivery_point_id}")
    row = session.get(DeliveryPointFlag, data.delivery_point_id)
    if row is None:
        session.add(DeliveryPointFlag(delivery_point_id=data.delivery_point_id, flag=data.flag,
                                      changed_at=to_db(now), event_id=event_id))
    else:
        row.flag, row.changed_at, row.event_id = data.flag, to_db(now), event_id
    record(session, now, "delivery-point-flagged", delivery_point_id=data.delivery_point_id, flag=data.flag)


# --- what staff see: `likvid suspension list`, `likvid show` --------------------------------------------

def describe_track(session: Session, app: App, track: SuspensionTrack, today: date) -> dict[str, Any]:
    """One track for staff: ids only (no name, no address), its step and the earliest day of the next."""
    step, on = rules.next_step(track.status, track.regime, track.remedy_deadline, track.demanded_on, track.order_on,
                               today, cfg(app))
    lapses = (rules.service_lapses_on(track.demanded_on, cfg(app))
              if track.status == "awaiting_service" and track.demanded_on else None)
    claim_ids = session.scalars(select(SuspensionClaim.claim_id).where(SuspensionClaim.track_id == track.id)
                                .order_by(SuspensionClaim.claim_id))
    return {
        "track_id": track.id, "customer_id": track.customer_id, "creditor_id": track.creditor_id,
        "delivery_point_id": track.delivery_point_id, "utility": track.utility, "regime": track.regime,
        "status": track.status, "next_step": step, "next_on": on.isoformat() if on else None,
        "lapses_on": lapses.isoformat() if lapses else None,
        "reason": track.closed_reason if track.status in ("blocked", "lapsed") else None,
        "invoice_ids": list(claim_ids), "warned_on": track.warned_on.isoformat(),
        "notice_id": track.notice_id,
        **{k: (v.isoformat() if v else None) for k, v in (
            ("remedy_deadline", track.remedy_deadline), ("demanded_on", track.demanded_on),
            ("served_on", track.served_on), ("ordered_on", track.ordered_on), ("restored_on", track.restored_on))},
    }


def listing(session: Session, app: App, statuses: tuple[str, ...], today: date) -> list[dict[str, Any]]:
    """Tracks in ``statuses``, by creditor, delivery point and id (``likvid suspension list``)."""
    q = select(SuspensionTrack).where(SuspensionTrack.status.in_(statuses)).order_by(
        SuspensionTrack.creditor_id, SuspensionTrack.delivery_point_id, SuspensionTrack.id)
    return [describe_track(session, app, t, today) for t in session.scalars(q)]


def for_claim(session: Session, app: App, invoice_id: str, today: date) -> list[dict[str, Any]]:
    """The tracks a claim is part of (``likvid show invoice``)."""
    q = select(SuspensionTrack).join(SuspensionClaim, SuspensionClaim.track_id == SuspensionTrack.id).where(
        SuspensionClaim.claim_id == invoice_id).order_by(SuspensionTrack.id)
    return [describe_track(session, app, t, today) for t in session.scalars(q)]


def for_customer(session: Session, app: App, customer_id: str, today: date) -> list[dict[str, Any]]:
    """The customer's tracks at every creditor (``likvid show customer``)."""
    q = select(SuspensionTrack).where(SuspensionTrack.customer_id == customer_id).order_by(SuspensionTrack.id)
    return [describe_track(session, app, t, today) for t in session.scalars(q)]


# --- restoration (every scheduler cycle) ----------------------------------------------------------------

def restore_due(session: Session, now: datetime) -> int:
    """Order restoration for every suspended point whose debt is paid or covered. Set-based and
    over suspended tracks only (partial index); returns how many were restored."""
    still_open = exists().where(SuspensionClaim.track_id == SuspensionTrack.id,
                                SuspensionClaim.claim_id == Claim.invoice_id, Claim.status == "open")
    covered = exists().where(SuspensionClaim.track_id == SuspensionTrack.id,
                             SuspensionClaim.claim_id == SocialServicesUndertaking.invoice_id)
    q = select(SuspensionTrack).where(SuspensionTrack.status == "ordered", (~still_open) | covered)
    q = q.order_by(SuspensionTrack.id).limit(500)
    from likvid.db import is_sqlite

    if not is_sqlite(session.get_bind()):
        q = q.with_for_update(skip_locked=True)
    tracks = list(session.scalars(q))
    for track in tracks:
        claims = _track_claims(session, track)
        track.status = "restored"
        track.restored_on = now.date()
        why = "covered by the social services" if any(
            session.get(SocialServicesUndertaking, c.invoice_id) for c in claims) else "paid"
        record(session, now, "delivery-restoration-ordered", claim_id=claims[0].invoice_id if claims else None,
               customer_id=track.customer_id, case_id=claims[0].case_id if claims else None, track_id=track.id,
               delivery_point_id=track.delivery_point_id, utility=track.utility, why=why, priority=True,
               invoice_ids=[c.invoice_id for c in claims], basis=rules.BASIS_RESTORE)
    return len(tracks)


# --- letters ----------------------------------------------------------------------------------------------

def letter_context(session: Session, app: App, letter: Letter, claims: list[Claim], today: date) -> dict[str, Any]:
    """What the track's letters say beyond the claims and amounts (``letters._kind_context``)."""
    from likvid.service.letters import recipient

    d = letter.details or {}
    track = session.get(SuspensionTrack, d.get("track_id"))
    assert track is not None
    c = cfg(app)
    customer = session.get(Customer, track.customer_id)
    assert customer is not None
    out: dict[str, Any] = {"suspension": {
        "track_id": track.id, "utility": track.utility, "regime": track.regime,
        "delivery_point_id": track.delivery_point_id, "remedy_deadline": track.remedy_deadline,
        "pay_within_days": c.consumer.pay_days_after_service, "notice_id": d.get("notice_id", letter.id),
        "earliest_pay_by": today + timedelta(days=c.consumer.pay_days_after_service),
        "alternative_water": c.water.alternative_water,
        "social_services_copy": bool(d.get("social_services_copy")),
        "consumer": {"name": customer.name, **_consumer_address(customer, recipient)},
    }}
    if letter.kind == "social_services_notice":
        s = c.social_services
        out["recipient"] = {"name": s.name, "address_lines": [s.street, f"{s.postal_code} {s.city}"], "protected": False}
    return out


def letter_deadline(session: Session, app: App, letter: Letter) -> date | None:
    """The request to remedy states its deadline; the demand's three weeks count from service,
    not yet known, so its letters name the earliest possible last day (three weeks from today)."""
    track = session.get(SuspensionTrack, (letter.details or {}).get("track_id"))
    if track is None:
        return None
    if letter.kind == "suspension_warning" or track.regime == "water":
        # Water: the social services' copy names the day by which payment prevents the cut-off.
        return track.remedy_deadline
    sent = track.demanded_on or letter.created_at.date()
    return rules.pay_by_after_service(sent, cfg(app))


def _consumer_address(customer: Customer, recipient: Any) -> dict[str, Any]:
    """The consumer's postal address for the social services; never for a protected identity
    (SWEDISH-RULES.md §9: no socialnämnd message with the address without checking)."""
    r = recipient(customer)
    if r["protected"]:
        return {"address_lines": [], "protected": True}
    return {"address_lines": r["address_lines"], "protected": False}
