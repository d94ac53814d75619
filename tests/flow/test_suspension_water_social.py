"""Water (VA) suspension tracks tell the social services too, by policy (SWEDISH-RULES.md §4.3,
§4.5 [I]: LAV 43 § has no duty to notify socialnämnden, but it is recommended when a household is
affected; [suspension.water] notify_social_services, default on). Walked day by day on the
simulated clock like tests/flow/test_suspension.py, on SQLite and PostgreSQL:

- a household's water track: on the warning day a ``social_services_notice`` to the socialnämnd,
  citing LAV 43 § as a courtesy by policy, and ``social-services-notified`` once on the timeline,
  in the outbox and (through the real broker and relay) in the ``likvid:outbound`` stream; the
  order still comes on its day;
- switched off: no notice, no event, the rest of the track unchanged;
- a business or non-consumer owner: no notice;
- a protected identity: no address of the consumer in the notice;
- a social services' undertaking blocks the water order.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select

from likvid.clock import STOCKHOLM, from_db
from likvid.db import read_session
from likvid.models import Letter, SuspensionTrack, TimelineEntry
from likvid.policy import default_policy_text, load_policy
from likvid.service.app import App
from likvid.service.records import OUTBOUND_STREAM
from tests.flow import test_suspension as base
from tests.flow.test_suspension import ORG, START, at, entries, firsts
from tests.support.inline import Inline
from tests.support.outbox import outbound
from tests.support.pipeline import customer, envelope, invoice, running_pipeline

NOTIFIED = "social-services-notified"
#: The household's own address: nothing like the socialnämnd's (Stadshuset, Storgatan 1, 123 45 Exempelby).
HOME = {"street": "Kvarngatan 3", "postal_code": "457 30", "city": "Tanumshede"}
#: The same service fixture as the suspension track's own tests (fresh database per test).
svc = base.svc


def _off(app: App, tmp_path: Path) -> App:
    """The same service (database, clock) with [suspension.water] notify_social_services = false."""
    text = default_policy_text()
    assert text.count("notify_social_services = true") == 1
    path = tmp_path / "policy-no-social.toml"
    path.write_text(text.replace("notify_social_services = true", "notify_social_services = false"), encoding="utf-8")
    app = replace(app, policy=load_policy(path))
    assert app.policy.file.suspension.water.notify_social_services is False
    return app


def _issue(svc: Inline, **who: Any) -> None:
    svc.publish(customer("C1", **{"address": HOME, **who}),
                invoice("W1", "C1", "1200.00", due="2026-01-30", claim_kind="water", delivery_point_id="DP-1"),
                invoice("S1", "C1", "900.00", due="2026-01-30", claim_kind="waste", delivery_point_id="DP-1"))


def _walk(svc: Inline, notify: bool) -> dict[str, date]:
    """Day by day until two days past the order: each step on its earliest day, none a day early.
    Warned 7 days after the demand's deadline; the social services the same day (when
    ``notify``); the order 14 days' remedy + 1 day's margin after the warning."""
    app, day = svc.app, START.date()
    expected: dict[str, date] = {}
    while day < START.date() + timedelta(days=170):
        day += timedelta(days=1)
        svc.advance_to(at(day))
        happened = firsts(app)
        deadline = base.demand_deadline(app, "W1")
        if deadline:
            expected["delivery-suspension-warned"] = deadline + timedelta(days=7)
        warned = happened.get("delivery-suspension-warned")
        if warned:
            expected["delivery-suspension-ordered"] = warned + timedelta(days=15)
            if notify:
                expected[NOTIFIED] = warned
        for step in base.STEPS:
            if step in happened:
                assert step in expected and happened[step] == expected[step], (day, step, happened, expected)
            elif step in expected:
                assert day < expected[step], (day, step, expected)
        if "delivery-suspension-ordered" in happened and day > happened["delivery-suspension-ordered"] + timedelta(days=1):
            break
    happened = firsts(app)
    assert "delivery-suspension-blocked" not in happened
    assert set(expected) <= set(happened), (expected, happened)
    return happened


def _outbound(app: App, type_: str) -> list[dict[str, Any]]:
    return [e["data"] for e in outbound(app, type_)]


#: What a household's water warning says when the social services are told too.
COPY_SAID = "Socialnämnden i din kommun får samtidigt ett meddelande om den uteblivna betalningen"


def _letters(app: App, kind: str) -> list[Letter]:
    with read_session(app.db) as s:
        rows = list(s.scalars(select(Letter).where(Letter.kind == kind).order_by(Letter.id)))
        s.expunge_all()
    return rows


def _text(letter: Letter) -> str:
    return " ".join(Path(letter.path or "").read_text(encoding="utf-8").split())


def test_a_household_water_track_tells_the_social_services_on_the_warning_day(svc: Inline) -> None:
    app = svc.app
    _issue(svc)
    happened = _walk(svc, notify=True)
    warned = happened["delivery-suspension-warned"]
    assert happened[NOTIFIED] == warned
    assert happened["delivery-suspension-ordered"] == warned + timedelta(days=15)  # the order on its day

    # Exactly once on the timeline and in the outbox, with the consumer path's fields.
    timeline, outbox = entries(app, NOTIFIED), _outbound(app, NOTIFIED)
    assert len(timeline) == 1 and len(outbox) == 1
    event = timeline[0]
    (warning,) = _letters(app, "suspension_warning")
    (social,) = _letters(app, "social_services_notice")
    with read_session(app.db) as s:
        track = s.scalars(select(SuspensionTrack)).one()
        entry = s.scalars(select(TimelineEntry).where(TimelineEntry.type == NOTIFIED)).one()
        assert (entry.claim_id, entry.customer_id, entry.case_id) == ("W1", "C1", warning.case_id)
        assert from_db(entry.at).date() == warned
        basis = entry.basis or ""
        s.expunge_all()
    assert {k: event[k] for k in ("track_id", "delivery_point_id", "notice_id", "letter_id", "amount", "invoice_ids")} == {
        "track_id": track.id, "delivery_point_id": "DP-1", "notice_id": warning.id, "letter_id": social.id,
        "amount": 120000, "invoice_ids": ["W1"]}  # the waste invoice never counts
    assert outbox[0]["letter_id"] == social.id and outbox[0]["notice_id"] == warning.id
    assert "LAV" in basis and "43 §" in basis and "§4.3 [I]" in basis and "policy" in basis
    assert "inte en rättslig plikt" in basis and "ellagen" not in basis
    assert track.regime == "water" and track.notice_id is None  # nothing to serve: no delgivning under LAV

    # The letter: sent to the configured socialnämnd the warning day, citing LAV 43 §, not ellagen.
    assert social.status == "sent" and social.sent_on == warned
    assert social.address_used == {"channel": "letter", "lines": ["Stadshuset, Storgatan 1", "123 45 Exempelby"]}
    text = _text(social)
    assert text.startswith("Exempelby kommun") and "Socialnämnden Stadshuset, Storgatan 1 123 45 Exempelby" in text
    assert "LAV 43 §" in text and "lagen (2006:412) om allmänna vattentjänster" in text.lower()
    assert "kommunens riktlinjer" in text and "ingen skyldighet att meddela socialnämnden" in text
    assert "ellagen" not in text and "11 kap" not in text and "delgivning" not in text
    # The prescribed fields stay: supplier, consumer name and address, amount with the day, how to pay.
    assert "Anna Andersson, Kvarngatan 3, 457 30 Tanumshede" in text
    assert f"senast {track.remedy_deadline.isoformat()}" in text
    assert "Exempelby kommun" in text and "Bankgiro 5050-1055" in text
    assert social.pdf_path is None or Path(social.pdf_path).read_bytes().startswith(b"%PDF-")
    # The household's own warning says so, as the consumer warning does.
    assert COPY_SAID in _text(warning)


def test_switched_off_no_notice_no_event_and_the_track_unchanged(svc: Inline, tmp_path: Path) -> None:
    off = Inline(_off(svc.app, tmp_path))
    _issue(off)
    happened = _walk(off, notify=False)
    assert NOTIFIED not in happened and not _outbound(off.app, NOTIFIED)
    assert _letters(off.app, "social_services_notice") == []
    assert happened["delivery-suspension-ordered"] == happened["delivery-suspension-warned"] + timedelta(days=15)
    assert [x.status for x in _letters(off.app, "suspension_warning")] == ["sent"]
    assert COPY_SAID not in _text(_letters(off.app, "suspension_warning")[0])
    assert len(_outbound(off.app, "delivery-suspension-ordered")) == 1


@pytest.mark.parametrize("who", [
    pytest.param(ORG, id="business"),
    # A person who is not a consumer (e.g. an enskild firma's property): not a household.
    pytest.param({"consumer": False}, id="person-not-consumer"),
])
def test_a_business_or_non_consumer_owner_gets_no_notice(svc: Inline, who: dict[str, Any]) -> None:
    _issue(svc, **who)
    happened = _walk(svc, notify=False)
    assert NOTIFIED not in happened and not _outbound(svc.app, NOTIFIED)
    assert _letters(svc.app, "social_services_notice") == []
    assert "delivery-suspension-ordered" in happened
    assert COPY_SAID not in _text(_letters(svc.app, "suspension_warning")[0])


def test_a_protected_identity_gets_no_address_in_the_notice(svc: Inline) -> None:
    hidden = {"street": "Hemlighetsgatan 7", "postal_code": "452 91", "city": "Strömstad"}
    _issue(svc, protected_identity=True, address=hidden)
    happened = _walk(svc, notify=True)
    assert happened[NOTIFIED] == happened["delivery-suspension-warned"]
    (social,) = _letters(svc.app, "social_services_notice")
    assert social.address_used == {"channel": "letter", "lines": ["Stadshuset, Storgatan 1", "123 45 Exempelby"]}
    text = _text(social)
    assert "Hemlighetsgatan" not in text and "452 91" not in text and "Strömstad" not in text
    assert "Skyddade personuppgifter" in text and "Anna Andersson" in text and "LAV 43 §" in text
    assert "Hemlighetsgatan" not in json.dumps(entries(svc.app, NOTIFIED))


def test_a_social_services_undertaking_blocks_the_water_order(svc: Inline) -> None:
    _issue(svc)
    order_on = base.to_day_before_water_order(svc)
    assert NOTIFIED in firsts(svc.app)  # told with the warning; the undertaking comes before the order
    svc.publish(envelope("social-services-undertaking", {"invoice_id": "W1", "decided_on": order_on.isoformat()}))
    svc.advance_to(at(order_on + timedelta(days=2)))
    happened = firsts(svc.app)
    assert "delivery-suspension-ordered" not in happened and happened["delivery-suspension-blocked"] == order_on
    blocked = entries(svc.app, "delivery-suspension-blocked")[0]
    assert blocked["step"] == "order" and "social services" in blocked["reason"]
    assert not _outbound(svc.app, "delivery-suspension-ordered")


def test_the_notice_reaches_the_outbound_stream_once_through_the_real_pipeline(
        database_url: str, redis_url: str, tmp_path: Path) -> None:
    """The real broker, workers, relay and scheduler: the warning and the social services'
    message on the same day, each once on ``likvid:outbound``; the order on its day."""
    with running_pipeline(database_url, redis_url, tmp_path / "home") as pipe:
        pipe.publish(customer("C1", address=HOME),
                     invoice("W1", "C1", "1200.00", due="2026-01-30", claim_kind="water", delivery_point_id="DP-1"))
        pipe.advance("150d")
        types = [t["type"] for t in pipe.invoice("W1")["timeline"]]
        assert types.count(NOTIFIED) == 1 and types.count("delivery-suspension-ordered") == 1
        client = redis.Redis.from_url(redis_url)
        try:
            stream = [json.loads(fields[b"event"]) for _, fields in client.xrange(OUTBOUND_STREAM)]
        finally:
            client.close()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in stream:
        by_type.setdefault(event["type"], []).append(event)
    assert len(by_type[NOTIFIED]) == 1 and len(by_type["delivery-suspension-warned"]) == 1
    notified, warned = by_type[NOTIFIED][0], by_type["delivery-suspension-warned"][0]
    assert notified["data"]["notice_id"] == warned["data"]["letter_id"]
    assert notified["data"]["delivery_point_id"] == "DP-1" and notified["data"]["invoice_ids"] == ["W1"]
    day = {t: datetime.fromisoformat(e["occurred_at"]).astimezone(STOCKHOLM).date() for t, e in
           ((NOTIFIED, notified), ("warned", warned), ("ordered", by_type["delivery-suspension-ordered"][0]))}
    assert day[NOTIFIED] == day["warned"] and day["ordered"] == day["warned"] + timedelta(days=15)
