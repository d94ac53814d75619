"""Gaps left by the suspension track (issue 6), on SQLite and PostgreSQL, walked on the
simulated clock like tests/flow/test_suspension.py:

- the timeline's (type, at) index exists after the migrations and the period scan uses it;
- `likvid suspension list` and `likvid show invoice|customer --json` show the tracks, ids only,
  with the earliest day of the next step, and that day is the day the step happens;
- a demand never served lapses after [suspension] service_wait_days, with its reason, and a
  later demand starts a fresh track with a fresh warning.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import inspect, select, text, update

from likvid.cli.main import cli
from likvid.clock import from_db, to_db
from likvid.db import engine_for, read_session, transaction
from likvid.models import (
    Letter,
    RejectedEvent,
    SuspensionTrack,
    TimelineEntry,
    Timer,
)
from likvid.policy import default_policy_text, load_policy
from likvid.service import show
from likvid.service.app import App
from tests.flow import test_suspension as base
from tests.flow.test_suspension import START, at, entries, firsts
from tests.support.inline import Inline
from tests.support.outbox import outbound
from tests.support.pipeline import customer, envelope, invoice

LAPSE = "suspension-lapsed"
#: The same service fixture as the suspension track's own tests (fresh database per test).
svc = base.svc


def _walk_until(svc: Inline, type_: str, day: date, limit: int = 200) -> date:
    """Advance one business day at a time until ``type_`` is on the timeline; return that day."""
    for _ in range(limit):
        if type_ in firsts(svc.app):
            return day
        day += timedelta(days=1)
        svc.advance_to(at(day))
    raise AssertionError(f"{type_} never happened")


def _list(*args: str) -> list[dict[str, Any]]:
    out = CliRunner().invoke(cli, ["suspension", "list", "--json", *args])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def _track(app: Any, track_id: int | None = None) -> SuspensionTrack:
    with read_session(app.db) as s:
        q = select(SuspensionTrack).order_by(SuspensionTrack.id)
        tracks = list(s.scalars(q if track_id is None else q.where(SuspensionTrack.id == track_id)))
        s.expunge_all()
    return tracks[-1]


def _outbound_types(app: Any) -> list[str]:
    return [e["type"] for e in outbound(app)]


# --- 1. the timeline's (type, at) index ---------------------------------------------------------------

def test_the_period_scan_of_the_timeline_uses_the_type_at_index(svc: Inline) -> None:
    engine = engine_for(svc.app.db)
    assert {"name": "ix_timeline_type_at", "column_names": ["type", "at"]}.items() <= next(
        ix for ix in inspect(engine).get_indexes("timeline") if ix["name"] == "ix_timeline_type_at").items()
    lo, hi = to_db(START), to_db(START + timedelta(days=31))
    scan = (select(TimelineEntry.customer_id, TimelineEntry.details)
            .where(TimelineEntry.type.in_(("reminder-sent", "claim-written-off")), TimelineEntry.at >= lo,
                   TimelineEntry.at < hi))
    sql = str(scan.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        else:
            conn.execute(text("SET enable_seqscan = off"))
            plan = " ".join(r[0] for r in conn.execute(text(f"EXPLAIN {sql}")))
    assert "ix_timeline_type_at" in plan, plan


# --- 2. `likvid suspension list` and the tracks in `likvid show` ------------------------------------------

def test_the_list_and_show_give_each_track_its_step_and_the_day_of_the_next(svc: Inline) -> None:
    app = svc.app
    svc.publish(customer("C1"),
                invoice("E1", "C1", "1500.00", due="2026-01-30", creditor_id="energi", claim_kind="electricity",
                        delivery_point_id="DP-1"),
                invoice("W1", "C1", "1500.00", due="2026-01-30", claim_kind="water", delivery_point_id="DP-2"),
                invoice("X1", "C1", "300.00", due="2026-01-30", claim_kind="waste"))
    assert _list() == []
    # Day by day: what the list says of each track's next step the first day it shows a status.
    said: dict[tuple[str, str], dict[str, Any]] = {}
    day, flagged, served = START.date(), False, False
    while "delivery-suspension-ordered" not in firsts(app) and day < START.date() + timedelta(days=200):
        day += timedelta(days=1)
        svc.advance_to(at(day))
        for t in _list():
            said.setdefault((t["delivery_point_id"], t["status"]), {**t, "seen": day})
        if ("DP-2", "warned") in said and not flagged:
            # A health risk at the water point: blocked at its order, with the reason in the list.
            svc.publish(envelope("delivery-point-flagged", {"delivery_point_id": "DP-2", "flag": "health_risk"}))
            flagged = True
        if ("DP-1", "awaiting_service") in said and not served:
            # Served the day the demand went out, reported on that day.
            notice = said["DP-1", "awaiting_service"]["notice_id"]
            svc.publish(envelope("notice-served", {"notice_id": notice, "served_on": day.isoformat()}))
            served = True
    happened = firsts(app)
    e, w = said["DP-1", "warned"], said["DP-2", "warned"]
    assert (e["customer_id"], e["creditor_id"], e["regime"], e["next_step"], e["invoice_ids"], e["reason"]) == (
        "C1", "energi", "consumer", "demand", ["E1"], None)
    assert (w["customer_id"], w["creditor_id"], w["regime"], w["next_step"], w["invoice_ids"]) == (
        "C1", "kommun", "water", "order", ["W1"])  # the waste invoice has no track and never counts
    assert e["warned_on"] == e["seen"].isoformat()
    # The earliest next day listed is the day the step happened (or was blocked), not a day later.
    # The electricity demand's message (the water point's courtesy copy went with its warning).
    with read_session(app.db) as s:
        notified = min(from_db(row.at).date() for row in s.scalars(
            select(TimelineEntry).where(TimelineEntry.type == "social-services-notified"))
            if row.details["delivery_point_id"] == "DP-1")
    assert date.fromisoformat(e["next_on"]) == notified
    assert date.fromisoformat(w["next_on"]) == happened["delivery-suspension-blocked"]
    waiting = said["DP-1", "awaiting_service"]
    assert waiting["seen"] == notified and waiting["demanded_on"] == notified.isoformat()
    assert waiting["next_step"] == "order" and waiting["lapses_on"] == (notified + timedelta(days=60)).isoformat()
    assert date.fromisoformat(waiting["next_on"]) == happened["delivery-suspension-ordered"] == notified + timedelta(days=22)
    assert said["DP-1", "served"]["next_on"] == waiting["next_on"] and said["DP-1", "served"]["lapses_on"] is None
    assert [(t["delivery_point_id"], t["status"], t["next_step"], t["next_on"]) for t in _list()] == [
        ("DP-1", "ordered", "restoration", None)]
    blocked = _list("--status", "blocked")
    assert [(t["delivery_point_id"], t["next_step"], t["next_on"]) for t in blocked] == [("DP-2", None, None)]
    assert "health risk" in blocked[0]["reason"] and blocked[0]["reason"].startswith("order:")
    assert {t["track_id"] for t in _list("--status", "blocked", "--status", "ordered")} == {
        e["track_id"], w["track_id"]}
    # The human table: ids only, never the customer's name or identity number.
    table = CliRunner().invoke(cli, ["suspension", "list", "--status", "ordered", "--status", "blocked"])
    assert table.exit_code == 0, table.output
    assert "DP-1" in table.output and "DP-2" in table.output and "health risk" in table.output
    assert "Anna" not in table.output and "811218" not in table.output
    # `likvid show invoice|customer --json`: the same tracks under "suspension".
    shown = CliRunner().invoke(cli, ["show", "invoice", "E1", "--json"])
    assert shown.exit_code == 0, shown.output
    inv = json.loads(shown.output)["suspension"]
    assert [(t["track_id"], t["status"], t["delivery_point_id"]) for t in inv] == [(e["track_id"], "ordered", "DP-1")]
    assert json.loads(CliRunner().invoke(cli, ["show", "invoice", "X1", "--json"]).output)["suspension"] == []
    plain = CliRunner().invoke(cli, ["show", "invoice", "E1"])
    assert plain.exit_code == 0 and "suspension: 1" in plain.output and "status=ordered" in plain.output, plain.output
    cust = json.loads(CliRunner().invoke(cli, ["show", "customer", "C1", "--json"]).output)["suspension"]
    assert sorted((t["delivery_point_id"], t["status"]) for t in cust) == [("DP-1", "ordered"), ("DP-2", "blocked")]
    assert all("name" not in t and "identity_number" not in t and "address" not in t for t in cust)
    with read_session(app.db) as s:
        assert show.invoice(s, "E1") is not None and show.invoice(s, "E1")["suspension"] is None  # type: ignore[index]


# --- 3. a demand never served lapses ---------------------------------------------------------------------

def test_a_demand_never_served_lapses_and_a_later_demand_starts_a_fresh_track(svc: Inline) -> None:
    app = svc.app
    svc.publish(customer("C1"), invoice("E1", "C1", "1500.00", due="2026-01-30", creditor_id="energi",
                                       claim_kind="electricity", delivery_point_id="DP-1"))
    notified = _walk_until(svc, "social-services-notified", START.date())
    first = _track(app)
    notice = first.notice_id
    assert first.status == "awaiting_service" and notice
    # Not a day early: still waiting on the 59th day.
    svc.advance_to(at(notified + timedelta(days=59)))
    assert _track(app, first.id).status == "awaiting_service" and not entries(app, LAPSE)
    svc.advance_to(at(notified + timedelta(days=60)))
    lapsed = _track(app, first.id)
    assert lapsed.status == "lapsed"
    assert f"not served within 60 days of being sent on {notified}" in (lapsed.closed_reason or "")
    with read_session(app.db) as s:
        row = s.scalars(select(TimelineEntry).where(TimelineEntry.type == LAPSE)).one()
        assert row.claim_id == "E1" and row.details["track_id"] == first.id and row.details["notice_id"] == notice
        assert from_db(row.at).date() == notified + timedelta(days=60)
        assert row.basis and "§4.1" in row.basis
    assert _list() == [] and [t["reason"] for t in _list("--status", "lapsed")] == [lapsed.closed_reason]
    assert LAPSE not in _outbound_types(app) and "delivery-suspension-ordered" not in _outbound_types(app)
    # A receipt arriving after the lapse is refused, naming why; nothing is ordered.
    svc.publish(envelope("notice-served", {"notice_id": notice, "served_on": (notified + timedelta(days=61)).isoformat()},
                         id="late-served"))
    with read_session(app.db) as s:
        rejected = s.scalars(select(RejectedEvent).where(RejectedEvent.event_id == "late-served")).one()
        assert rejected.reasons[0]["field"] == "data.notice_id"
        assert "the track is lapsed" in rejected.reasons[0]["reason"]
    # A later demand on the same delivery point starts a fresh track with a fresh warning.
    day = notified + timedelta(days=61)
    svc.advance_to(at(day))
    svc.publish(invoice("E2", "C1", "1500.00", due=(day + timedelta(days=20)).isoformat(), creditor_id="energi",
                        claim_kind="electricity", delivery_point_id="DP-1"))
    warned_before = len(entries(app, "delivery-suspension-warned"))
    for _ in range(150):
        if len(entries(app, "delivery-suspension-warned")) > warned_before:
            break
        day += timedelta(days=1)
        svc.advance_to(at(day))
    fresh = entries(app, "delivery-suspension-warned")[-1]
    assert len(entries(app, "delivery-suspension-warned")) == 2 and fresh["track_id"] != first.id
    assert fresh["delivery_point_id"] == "DP-1" and "E2" in fresh["invoice_ids"]
    second = _track(app, fresh["track_id"])
    assert second.status == "warned" and second.warned_on == day and second.notice_id is None
    with read_session(app.db) as s:
        warnings = list(s.scalars(select(Letter.id).where(Letter.kind == "suspension_warning")))
    assert len(warnings) == 2 and fresh["letter_id"] in warnings
    assert [(t["track_id"], t["status"]) for t in _list()] == [(second.id, "warned")]


def test_a_served_demand_does_not_lapse(svc: Inline) -> None:
    app = svc.app
    svc.publish(customer("C1"), invoice("E1", "C1", "1500.00", due="2026-01-30", creditor_id="energi",
                                       claim_kind="electricity", delivery_point_id="DP-1"))
    notified = _walk_until(svc, "social-services-notified", START.date())
    svc.publish(envelope("notice-served", {"notice_id": _track(app).notice_id, "served_on": notified.isoformat()}))
    svc.advance_to(at(notified + timedelta(days=90)))
    assert firsts(app)["delivery-suspension-ordered"] == notified + timedelta(days=22)
    assert _track(app).status == "ordered" and not entries(app, LAPSE)


def _with_wait(app: App, tmp_path: Path, days: int) -> App:
    """The same service (database, clock) with another [suspension] service_wait_days."""
    path = tmp_path / f"policy-{days}.toml"
    path.write_text(default_policy_text().replace("service_wait_days = 60", f"service_wait_days = {days}"),
                    encoding="utf-8")
    return replace(app, policy=load_policy(path))


def _to_demand(svc: Inline) -> date:
    svc.publish(customer("C1"), invoice("E1", "C1", "1500.00", due="2026-01-30", creditor_id="energi",
                                       claim_kind="electricity", delivery_point_id="DP-1"))
    return _walk_until(svc, "social-services-notified", START.date())


def test_the_service_wait_is_read_from_the_policy(svc: Inline, tmp_path: Path) -> None:
    """Configured to 30 days, the track lapses on the 30th day after the demand."""
    short = Inline(_with_wait(svc.app, tmp_path, 30))
    notified = _to_demand(short)
    short.advance_to(at(notified + timedelta(days=29)))
    assert _track(short.app).status == "awaiting_service"
    short.advance_to(at(notified + timedelta(days=30)))
    assert _track(short.app).status == "lapsed" and "within 30 days" in (_track(short.app).closed_reason or "")


def test_a_wait_lengthened_after_the_demand_moves_the_lapse(svc: Inline, tmp_path: Path) -> None:
    """The timer was set under a 30-day wait; the policy now says 60: the track waits 60 days."""
    notified = _to_demand(Inline(_with_wait(svc.app, tmp_path, 30)))
    svc.advance_to(at(notified + timedelta(days=59)))
    assert _track(svc.app).status == "awaiting_service" and not entries(svc.app, LAPSE)
    svc.advance_to(at(notified + timedelta(days=60)))
    assert _track(svc.app).status == "lapsed" and "within 60 days" in (_track(svc.app).closed_reason or "")


def test_a_track_without_a_lapse_timer_lapses_when_the_next_demand_starts(svc: Inline) -> None:
    """A track left awaiting service before the lapse timer existed: the next demand on the point
    closes it, with its reason, and starts afresh the same day."""
    app = svc.app
    notified = _to_demand(svc)
    old = _track(app)
    with transaction(app.db) as s:
        s.execute(update(Timer).where(Timer.ref == f"{old.id}:lapse").values(status="cancelled"))
    day = notified + timedelta(days=70)
    svc.advance_to(at(day))
    assert _track(app, old.id).status == "awaiting_service"
    svc.publish(invoice("E2", "C1", "1500.00", due=(day + timedelta(days=20)).isoformat(), creditor_id="energi",
                        claim_kind="electricity", delivery_point_id="DP-1"))
    while len(entries(app, "delivery-suspension-warned")) < 2 and day < notified + timedelta(days=250):
        day += timedelta(days=1)
        svc.advance_to(at(day))
    lapse = entries(app, LAPSE)
    assert [e["track_id"] for e in lapse] == [old.id] and "not served within 60 days" in lapse[0]["reason"]
    assert _track(app, old.id).status == "lapsed"
    fresh = _track(app)
    assert fresh.id != old.id and fresh.status == "warned" and fresh.warned_on == day
