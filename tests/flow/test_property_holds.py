"""Property: over random interleavings of objections (holds), withdrawals, payments and clock
advances, no step ever presses for a held or paid amount."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from likvid.clock import STOCKHOLM
from likvid.db import dispose_engines, read_session
from likvid.models import LetterClaim, TimelineEntry
from likvid.service.app import bootstrap, prepare
from likvid.service.progress import set_clock
from likvid.settings import Settings
from tests.support.inline import Inline
from tests.support.pipeline import customer, envelope, invoice, objection, payment

INVOICES = ("A", "B")
AMOUNT = 100_000  # öre per invoice
#: Pays an invoice in full whatever fees (at most 180 kr) and interest were added: the model
#: then knows for certain that nothing is owed on it.
FULL = 130_000
PRESSING = ("reminder-sent", "collection-demand-sent", "collection-handed-off")

actions = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(min_value=1, max_value=25)),
        st.tuples(st.just("object"), st.sampled_from(INVOICES)),
        st.tuples(st.just("withdraw"), st.sampled_from(INVOICES)),
        st.tuples(st.just("pay"), st.sampled_from(INVOICES), st.sampled_from([20_000, 50_000, FULL])),
    ),
    min_size=3, max_size=10,
)
_run = itertools.count()


def _last_timeline_id(app) -> int:  # type: ignore[no-untyped-def]
    with read_session(app.db) as s:
        return int(s.scalar(select(func.max(TimelineEntry.id))) or 0)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=actions)
def test_no_step_presses_for_a_held_or_paid_amount(tmp_path: Path, script: list[tuple]) -> None:  # type: ignore[type-arg]
    home = tmp_path / f"run{next(_run)}"
    dispose_engines()
    app = bootstrap(Settings.from_env({"LIKVID_HOME": str(home), "LIKVID_CLOCK": "simulated"}), fresh=True)
    prepare(app)
    start = datetime(2026, 1, 5, 8, 0, tzinfo=STOCKHOLM)
    set_clock(app, start)
    svc = Inline(app)
    svc.publish(customer("C1"), *[invoice(i, "C1", f"{AMOUNT // 100}.00", due="2026-01-30", invoice_number=f"9{n}")
                                  for n, i in enumerate(INVOICES)])
    now = start
    # The oracle's own model: per invoice, the timeline ids during which it was held, and
    # the timeline id from which it was fully paid.
    held_since: dict[str, int | None] = dict.fromkeys(INVOICES)
    held_spans: dict[str, list[tuple[int, int]]] = {i: [] for i in INVOICES}
    paid: dict[str, int] = dict.fromkeys(INVOICES, 0)
    paid_from: dict[str, int] = {}
    objections = itertools.count()
    open_objection: dict[str, str] = {}
    for n, step in enumerate(script):
        mark = _last_timeline_id(app)
        if step[0] == "advance":
            now += timedelta(days=step[1])
            svc.advance_to(now)
        elif step[0] == "object" and step[1] not in open_objection:
            oid = f"O{next(objections)}"
            svc.publish(objection(oid, step[1], received_on=now.date().isoformat()))
            open_objection[step[1]] = oid
            held_since[step[1]] = mark
        elif step[0] == "withdraw" and step[1] in open_objection:
            svc.publish(envelope("objection-withdrawn", {"objection_id": open_objection.pop(step[1])}))
            held_spans[step[1]].append((held_since[step[1]] or 0, _last_timeline_id(app)))
            held_since[step[1]] = None
        elif step[0] == "pay":
            svc.publish(payment(f"P{n}", f"{step[2] // 100}.00", invoice_id=step[1], paid_on=now.date().isoformat()))
            paid[step[1]] += step[2]
            if step[2] == FULL and step[1] not in paid_from:
                paid_from[step[1]] = _last_timeline_id(app)
    svc.advance_to(now + timedelta(days=60))
    for i in INVOICES:
        if held_since[i] is not None:
            held_spans[i].append((held_since[i] or 0, 10**12))
    with read_session(app.db) as s:
        entries = s.scalars(select(TimelineEntry).where(TimelineEntry.type.in_(PRESSING))).all()
        for e in entries:
            assert e.claim_id in INVOICES
            # Then no pressing step falls inside a hold of the whole claim...
            for start_id, end_id in held_spans[e.claim_id]:
                assert not (start_id < e.id < end_id), f"{e.type} on held {e.claim_id}: {script}"
            # ...or after the claim was paid in full.
            if e.claim_id in paid_from:
                assert e.id < paid_from[e.claim_id], f"{e.type} on paid {e.claim_id}: {script}"
        # and no claim ever got two reminders or two demands of one level
        dup = s.execute(select(LetterClaim.claim_id, LetterClaim.kind, LetterClaim.level, func.count())
                        .group_by(LetterClaim.claim_id, LetterClaim.kind, LetterClaim.level)
                        .having(func.count() > 1)).all()
        assert dup == []
    dispose_engines()
