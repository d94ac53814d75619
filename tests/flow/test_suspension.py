"""Suspension of delivery (POLICY.md point 8; SWEDISH-RULES.md §4), walked day by day on the
simulated clock: per utility the earliest day of each step, no step a day earlier; every blocker
arriving the day before the order stops it; restoration within one scheduler cycle of the
payment that clears the debt. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from likvid.clock import STOCKHOLM, from_db
from likvid.db import dispose_engines, read_session
from likvid.models import (
    Claim,
    Letter,
    RejectedEvent,
    SuspensionTrack,
    TimelineEntry,
)
from likvid.service import ledger
from likvid.service.app import App
from likvid.workers import scheduler
from tests.support.inline import Inline
from tests.support.outbox import outbound
from tests.support.pipeline import customer, envelope, invoice, objection, payment

STEPS = ("delivery-suspension-warned", "social-services-notified", "delivery-suspension-ordered")
TRACKED = (*STEPS, "delivery-suspension-blocked", "suspension-not-started", "delivery-restoration-ordered")
START = datetime(2026, 1, 5, 8, 0, tzinfo=STOCKHOLM)
ORG = {"party_type": "organisation", "identity_number": "556036-0793", "name": "Bageriet AB", "consumer": False}


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Inline]:
    yield Inline.fresh(database_url, tmp_path / "home", START)
    dispose_engines()


def at(day: date) -> datetime:
    return datetime.combine(day, time(8, 0), tzinfo=STOCKHOLM)


def firsts(app: App) -> dict[str, date]:
    """The first business day each suspension event happened."""
    out: dict[str, date] = {}
    with read_session(app.db) as s:
        for type_, when in s.execute(select(TimelineEntry.type, TimelineEntry.at)
                                     .where(TimelineEntry.type.in_(TRACKED)).order_by(TimelineEntry.id)):
            out.setdefault(type_, from_db(when).date())
    return out


def entries(app: App, type_: str) -> list[dict[str, Any]]:
    with read_session(app.db) as s:
        return [e.details for e in s.scalars(select(TimelineEntry).where(TimelineEntry.type == type_))]


def demand_deadline(app: App, invoice_id: str) -> date | None:
    with read_session(app.db) as s:
        claim = s.get(Claim, invoice_id)
        assert claim is not None
        return claim.demand_deadline


@dataclass
class Case:
    """One utility's sequence as offsets in days from the step it follows (SWEDISH-RULES.md §4)."""

    name: str
    creditor: str
    kind: str
    invoices: list[tuple[str, str, str]]  # (invoice id, amount, claim kind)
    customer: dict[str, Any] = field(default_factory=dict)
    #: warned: days after the demand's deadline (policy start_after_demand_days = 7)
    warn_after_deadline: int | None = 7
    #: consumer: demand + social services this many days after the warning (14 days to remedy + 1)
    demand_after_warn: int | None = None
    #: consumer: days after service (delgivning) before the order: 21 + margin 1; else after the warning
    order_after: int | None = None
    regime: str | None = None
    #: water to a household: the social services are told the day of the warning, by policy
    #: ([suspension.water] notify_social_services; tests/flow/test_suspension_water_social.py)
    social_with_warning: bool = False


CASES = [
    Case("electricity", "energi", "electricity", [("E1", "1500.00", "electricity")],
         demand_after_warn=15, order_after=22, regime="consumer"),
    Case("district_heating", "energi", "district_heating",
         [("F1", "600.00", "district_heating"), ("F2", "600.00", "district_heating")],
         demand_after_warn=15, order_after=22, regime="consumer"),
    # Water: to the property owner, 14 days' reasonable time + 1; the waste invoice never counts.
    # A household: the social services get a courtesy copy with the warning.
    Case("water", "kommun", "water", [("W1", "1200.00", "water"), ("S1", "900.00", "waste")],
         order_after=15, regime="water", social_with_warning=True),
    # A business customer: the agreement's notice period (14 days) + 1, no service, no social services.
    Case("business", "energi", "electricity", [("B1", "1500.00", "electricity")], customer=ORG,
         order_after=15, regime="business"),
    # No track: waste (and likewise childcare, rent, public-law fees).
    Case("waste", "kommun", "waste", [("X1", "5000.00", "waste")], warn_after_deadline=None),
]


def _issue(svc: Inline, case: Case) -> None:
    svc.publish(customer("C1", **case.customer),
                *[invoice(iid, "C1", amount, due="2026-01-30", creditor_id=case.creditor, claim_kind=kind,
                          delivery_point_id="DP-1") for iid, amount, kind in case.invoices])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_step_on_its_earliest_day_and_not_a_day_earlier(svc: Inline, case: Case) -> None:
    app = svc.app
    _issue(svc, case)
    first = case.invoices[0][0]
    expected: dict[str, date] = {}
    served_on: date | None = None
    day = START.date()
    end = START.date() + timedelta(days=170)
    while day < end:
        day += timedelta(days=1)
        svc.advance_to(at(day))
        happened = firsts(app)
        deadline = demand_deadline(app, first)
        if deadline and case.warn_after_deadline is not None:
            expected["delivery-suspension-warned"] = deadline + timedelta(days=case.warn_after_deadline)
        warned = happened.get("delivery-suspension-warned")
        if warned and case.regime == "consumer":
            assert case.demand_after_warn is not None
            expected["social-services-notified"] = warned + timedelta(days=case.demand_after_warn)
        elif warned and case.order_after is not None:
            expected["delivery-suspension-ordered"] = warned + timedelta(days=case.order_after)
            if case.social_with_warning:
                expected["social-services-notified"] = warned
        notified = happened.get("social-services-notified")
        if notified and served_on is None and day == notified + timedelta(days=3) and case.regime == "consumer":
            # The receipt comes back: served the day before it is reported.
            served_on = day - timedelta(days=1)
            notice = entries(app, "social-services-notified")[0]["notice_id"]
            svc.publish(envelope("notice-served", {"notice_id": notice, "served_on": served_on.isoformat()}))
        if served_on is not None and case.order_after is not None:
            expected["delivery-suspension-ordered"] = served_on + timedelta(days=case.order_after)
        # Every day: what is due has happened on its day, nothing has happened before its day.
        for step in STEPS:
            if step in happened:
                assert step in expected and happened[step] == expected[step], (day, step, happened, expected)
            elif step in expected:
                assert day < expected[step], (day, step, expected)
        if deadline and day > deadline + timedelta(days=30) and case.warn_after_deadline is None:
            break  # no track: a month past the demand's deadline, nothing has started
        if "delivery-suspension-ordered" in happened and day > happened["delivery-suspension-ordered"] + timedelta(days=2):
            break
    happened = firsts(app)
    assert "delivery-suspension-blocked" not in happened
    if case.warn_after_deadline is None:
        assert not any(step in happened for step in STEPS)
        return
    assert set(expected) == ({*STEPS} if case.regime == "consumer" or case.social_with_warning
                             else {"delivery-suspension-warned", "delivery-suspension-ordered"})
    assert all(step in happened for step in expected)
    if case.regime == "consumer":
        # The demand and the social services' message on the same day.
        assert entries(app, "suspension-notice-sent")
        assert happened["social-services-notified"] == firsts(app).get("social-services-notified")
    order = entries(app, "delivery-suspension-ordered")[0]
    assert order["delivery_point_id"] == "DP-1" and order["regime"] == case.regime
    if case.kind == "water":
        assert order["invoice_ids"] == ["W1"]  # the waste invoice never counts
        assert order["amount"] == 120000
        assert "alternative_water" in order and len(order["alternative_water"]) > 10
    with read_session(app.db) as s:
        kinds = sorted(s.scalars(select(Letter.kind).where(Letter.kind.like("s%"), Letter.status == "sent")))
    assert kinds == (["social_services_notice", "suspension_notice", "suspension_warning"]
                     if case.regime == "consumer" else
                     ["social_services_notice", "suspension_warning"] if case.social_with_warning
                     else ["suspension_warning"])


def test_water_below_threshold_when_only_waste_fees_would_make_it_substantial(svc: Inline) -> None:
    svc.publish(customer("C1"), *[invoice(iid, "C1", amount, due="2026-01-30", claim_kind=kind, delivery_point_id="DP-1")
                                  for iid, amount, kind in (("W1", "600.00", "water"), ("S1", "3000.00", "waste"))])
    svc.advance_to(at(date(2026, 5, 1)))
    happened = firsts(svc.app)
    assert "delivery-suspension-warned" not in happened
    assert "below the threshold" in entries(svc.app, "suspension-not-started")[0]["reason"]


# --- blockers: each arrives the day before the order, and stops it ---------------------------------

def _to_day_before_order(svc: Inline) -> date:
    """Walk a consumer's electricity track to the day before its order; return the order day."""
    day = START.date()
    while "social-services-notified" not in firsts(svc.app):
        day += timedelta(days=1)
        svc.advance_to(at(day))
    notice = entries(svc.app, "social-services-notified")[0]["notice_id"]
    svc.publish(envelope("notice-served", {"notice_id": notice, "served_on": day.isoformat()}))
    with read_session(svc.app.db) as s:
        track = s.scalars(select(SuspensionTrack)).one()
        order_on = track.order_on
    assert order_on is not None
    svc.advance_to(at(order_on - timedelta(days=1)))
    assert "delivery-suspension-ordered" not in firsts(svc.app)
    return order_on


def _balance(app: App, invoice_id: str) -> int:
    with read_session(app.db) as s:
        return ledger.balance(s, invoice_id).total


BLOCKERS = {
    "paid": (lambda app: payment("P1", f"{_balance(app, 'E1') // 100 + 1}.00", invoice_id="E1", paid_on="2026-03-01"),
             "paid"),
    "paid_below_threshold": (lambda app: payment("P1", "1000.00", invoice_id="E1", paid_on="2026-03-01"),
                             "below the threshold"),
    "social_services": (lambda app: envelope("social-services-undertaking",
                                             {"invoice_id": "E1", "decided_on": "2026-03-01"}), "social services"),
    "objection": (lambda app: objection("O1", "E1", received_on="2026-03-01"), "objection"),
    "health_risk": (lambda app: envelope("delivery-point-flagged", {"delivery_point_id": "DP-1", "flag": "health_risk"}),
                    "health risk"),
    "estate": (lambda app: envelope("customer-updated", {"customer_id": "C1", "party_type": "estate"}), "estate"),
    "not_consumer": (lambda app: envelope("customer-updated", {"customer_id": "C1", "consumer": False}),
                     "no longer a consumer"),
    "deferral": (lambda app: envelope("deferral-granted", {"deferral_id": "D1", "invoice_id": "E1", "until": "2026-12-31",
                                                           "reason": "Väntar på lön", "granted_by": "handläggare A"}),
                 "hold is in force (deferral)"),
}


@pytest.mark.parametrize("blocker", sorted(BLOCKERS))
def test_a_blocker_the_day_before_stops_the_order(svc: Inline, blocker: str) -> None:
    svc.publish(customer("C1"), invoice("E1", "C1", "1500.00", due="2026-01-30", creditor_id="energi",
                                       claim_kind="electricity", delivery_point_id="DP-1"))
    order_on = _to_day_before_order(svc)
    make, reason = BLOCKERS[blocker]
    svc.publish(make(svc.app))
    svc.advance_to(at(order_on + timedelta(days=3)))
    happened = firsts(svc.app)
    assert "delivery-suspension-ordered" not in happened
    assert happened["delivery-suspension-blocked"] == order_on
    blocked = entries(svc.app, "delivery-suspension-blocked")[0]
    assert blocked["step"] == "order" and reason in blocked["reason"], blocked
    assert not outbound(svc.app, "delivery-suspension-ordered")


def to_day_before_water_order(svc: Inline) -> date:
    """Walk a water track (its invoices published) to the day before its order; return the order day."""
    day = START.date()
    while "delivery-suspension-warned" not in firsts(svc.app):
        day += timedelta(days=1)
        svc.advance_to(at(day))
    with read_session(svc.app.db) as s:
        order_on = s.scalars(select(SuspensionTrack)).one().order_on
    assert order_on is not None
    svc.advance_to(at(order_on - timedelta(days=1)))
    return order_on


def test_a_health_risk_stops_a_water_order_and_the_blocked_track_says_why(svc: Inline) -> None:
    svc.publish(customer("C1"), invoice("W1", "C1", "1500.00", due="2026-01-30", claim_kind="water",
                                       delivery_point_id="DP-1"))
    order_on = to_day_before_water_order(svc)
    svc.publish(envelope("delivery-point-flagged", {"delivery_point_id": "DP-1", "flag": "health_risk"}))
    svc.advance_to(at(order_on + timedelta(days=2)))
    assert "delivery-suspension-ordered" not in firsts(svc.app)
    assert "health risk" in entries(svc.app, "delivery-suspension-blocked")[0]["reason"]
    with read_session(svc.app.db) as s:
        track = s.scalars(select(SuspensionTrack)).one()
        assert track.status == "blocked" and "health risk" in (track.closed_reason or "")


# --- restoration ----------------------------------------------------------------------------------

def _restorations(app: App) -> list[dict[str, Any]]:
    return outbound(app, "delivery-restoration-ordered")


def test_restoration_is_ordered_within_one_scheduler_cycle_of_the_clearing_payment(svc: Inline) -> None:
    app = svc.app
    svc.publish(customer("C1"), invoice("E1", "C1", "1500.00", due="2026-01-30", creditor_id="energi",
                                       claim_kind="electricity", delivery_point_id="DP-1"))
    order_on = _to_day_before_order(svc)
    svc.advance_to(at(order_on))
    assert firsts(app)["delivery-suspension-ordered"] == order_on
    # A part payment does not clear the debt: no restoration, whatever the cycles.
    svc.publish(payment("P1", "200.00", invoice_id="E1", paid_on=order_on.isoformat()))
    scheduler.tick(app)
    assert _restorations(app) == []
    # The payment that clears it: restored on the next cycle, not before.
    svc.publish(payment("P2", f"{_balance(app, 'E1') // 100 + 1}.00", invoice_id="E1", paid_on=order_on.isoformat()))
    assert _restorations(app) == []
    scheduler.tick(app)
    restored = _restorations(app)
    assert len(restored) == 1
    data = restored[0]["data"]
    assert data["delivery_point_id"] == "DP-1" and data["invoice_ids"] == ["E1"] and data["priority"] is True
    scheduler.tick(app)
    assert len(_restorations(app)) == 1  # once
    with read_session(app.db) as s:
        track = s.scalars(select(SuspensionTrack)).one()
        assert track.status == "restored" and track.restored_on == order_on


def test_social_services_undertaking_after_suspension_restores_on_the_next_cycle(svc: Inline) -> None:
    app = svc.app
    svc.publish(customer("C1"), invoice("E1", "C1", "1500.00", due="2026-01-30", creditor_id="energi",
                                       claim_kind="electricity", delivery_point_id="DP-1"))
    order_on = _to_day_before_order(svc)
    svc.advance_to(at(order_on))
    svc.publish(envelope("social-services-undertaking", {"invoice_id": "E1", "decided_on": order_on.isoformat()}))
    scheduler.tick(app)
    assert [r["data"]["why"] for r in _restorations(app)] == ["covered by the social services"]


def test_notice_served_is_checked(svc: Inline) -> None:
    svc.publish(customer("C1"), invoice("E1", "C1", "1500.00", due="2026-01-30", creditor_id="energi",
                                       claim_kind="electricity", delivery_point_id="DP-1"))
    svc.publish(envelope("notice-served", {"notice_id": "L-unknown", "served_on": "2026-01-05"}, id="served-1"))
    with read_session(svc.app.db) as s:
        rejected = s.scalars(select(RejectedEvent).where(RejectedEvent.event_id == "served-1")).one()
        assert rejected.reasons[0]["field"] == "data.notice_id"
        assert "not a suspension notice" in rejected.reasons[0]["reason"]


def test_protected_identity_gets_no_address_in_the_social_services_message(svc: Inline) -> None:
    app = svc.app
    hidden = {"street": "Hemlighetsgatan 7", "postal_code": "452 91", "city": "Strömstad"}
    svc.publish(customer("C1", protected_identity=True, address=hidden),
                invoice("E1", "C1", "1500.00", due="2026-01-30", creditor_id="energi", claim_kind="electricity",
                        delivery_point_id="DP-1"))
    day = START.date()
    while "social-services-notified" not in firsts(app):
        day += timedelta(days=1)
        svc.advance_to(at(day))
    with read_session(app.db) as s:
        letters = {letter.kind: letter.path for letter in s.scalars(select(Letter).where(Letter.kind.like("s%")))}
    text = Path(letters["social_services_notice"] or "").read_text(encoding="utf-8")
    assert "Hemlighetsgatan" not in text and "Strömstad" not in text and "Skyddade personuppgifter" in text
    assert "Socialnämnden" in text and "Anna Andersson" in text
    notice = Path(letters["suspension_notice"] or "").read_text(encoding="utf-8")
    assert "Hemlighetsgatan" not in notice and "Box 2820" in notice
    assert "inom tre veckor från det att du har fått del av detta meddelande" in " ".join(notice.split())
