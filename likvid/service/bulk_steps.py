"""Timer firing set-based: a message's ``invoice_due`` and ``reminder`` timers in a few statements.

``fire_many`` leaves what ``steps.fire`` for each timer, in order, would leave, for the timers
it takes, and returns the others for ``steps.fire``. It locks the cases first (in id order),
then the timers, reads every claim, balance and hold of the batch in one go, and writes with
one statement per table.

It takes:

- ``invoice_due`` timers still pending or emitted whose claim exists (``claims.mark_due``);
- ``reminder`` timers of a case where every claim with an open, due reminder timer is at stage
  ``due``, open, owed and free of holds (``steps._chain_step`` with ``_also_due``): one
  consolidated letter per case, the first of the batch's timers leading, the case's other
  due timers finished as consolidated with it.

Everything else (other kinds, skipped steps, holds, a case with both a due date and a reminder
firing in the batch, a timer already done) goes to ``steps.fire``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from likvid.clock import start_of_day, to_db
from likvid.db import among, is_sqlite
from likvid.models import Claim, CollectionCase, Letter, LetterClaim, TimelineEntry, Timer
from likvid.rules.collection import reason_not_to_press, reminder_due_on
from likvid.service import ledger
from likvid.service.app import App
from likvid.service.letters import new_letter_id
from likvid.service.records import dispatch_later, jsonable

OPEN = ("pending", "emitted")


class _Due(NamedTuple):
    """A claim of a candidate case with an open reminder timer due now."""

    invoice_id: str
    case_id: int
    status: str
    stage: str
    effective_due_date: date
    timer_id: int

#: One line per batch, listing its timers and the correlation ids they fired under.
log = logging.getLogger("likvid.steps")


def fire_many(session: Session, app: App, now: datetime, timer_ids: list[Any]) -> list[Any]:
    """Fire what is plain set-based; returns the timer ids left for ``steps.fire``, in order."""
    ids = [int(t) for t in timer_ids]
    if len(set(ids)) != len(ids):
        return list(timer_ids)
    sqlite = is_sqlite(session.get_bind())
    at = to_db(now)
    # Two lookups by primary key rather than a join the planner may get wrong after a burst.
    of_timers = sorted(set(session.scalars(select(Timer.claim_id).where(among(session, Timer.id, ids)))) - {None})
    case_ids = sorted(set(session.scalars(
        select(Claim.case_id).where(among(session, Claim.invoice_id, of_timers))))) if of_timers else []
    if not case_ids:
        return list(timer_ids)
    lock = select(CollectionCase.id, CollectionCase.customer_id).where(CollectionCase.id.in_(case_ids)).order_by(CollectionCase.id)
    timer_q = select(Timer.id, Timer.kind, Timer.status, Timer.claim_id, Timer.correlation_id).where(
        Timer.id.in_(ids)).order_by(Timer.id)
    if not sqlite:
        lock, timer_q = lock.with_for_update(), timer_q.with_for_update()
    customers = {r.id: r.customer_id for r in session.execute(lock)}
    timers = {r.id: r for r in session.execute(timer_q)}
    claim_ids = {t.claim_id for t in timers.values() if t.claim_id}
    claims = {c.invoice_id: c for c in session.execute(select(*Claim.__table__.c).where(Claim.invoice_id.in_(claim_ids)))}

    def cases_of(kind: str) -> set[int]:
        return {claims[t.claim_id].case_id for t in timers.values() if t.kind == kind and t.claim_id in claims}

    # A case with a due date and a reminder firing in one batch goes one by one, in order (a
    # claim that falls due may join the reminder when it catches up on missed days).
    mixed = cases_of("invoice_due") & cases_of("reminder")
    taken: set[int] = set()
    finished: dict[str, list[int]] = defaultdict(list)  # outcome → timer ids
    new_timers: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    now_due: list[str] = []

    # invoice_due: claims.mark_due
    for tid in ids:
        t = timers.get(tid)
        if (t is None or t.kind != "invoice_due" or t.status not in OPEN or t.claim_id not in claims
                or claims[t.claim_id].case_id in mixed):
            continue
        c = claims[t.claim_id]
        if c.stage != "issued":
            outcome = f"already {c.stage}"
        elif c.status != "open":
            outcome = f"claim {c.status}"
        else:
            outcome = "due"
            on = reminder_due_on(c.effective_due_date, app.policy.steps_for(c.creditor_id, c.claim_kind).reminder_after_days)
            now_due.append(c.invoice_id)
            new_timers.append({"kind": "reminder", "claim_id": c.invoice_id, "ref": None,
                               "due_at": to_db(start_of_day(on)), "status": "pending", "created_at": at,
                               "correlation_id": t.correlation_id})
            timeline.append({"at": at, "type": "invoice-due", "claim_id": c.invoice_id, "customer_id": c.customer_id,
                             "case_id": c.case_id, "basis": None, "details": jsonable({"source": "due date", "reminder_on": on})})
        finished[outcome].append(tid)
        taken.add(tid)

    # reminder: steps._chain_step + _also_due, one letter per case
    by_case: dict[int, list[int]] = defaultdict(list)
    for tid in ids:
        t = timers.get(tid)
        if t is not None and t.kind == "reminder" and t.claim_id in claims:
            by_case[claims[t.claim_id].case_id].append(tid)
    candidates = {cid: tids for cid, tids in by_case.items() if cid not in mixed}
    letters: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    if candidates:
        # Every claim of these cases with an open reminder timer due now (what _also_due looks at):
        # the cases' claims, then their timers, each by its own index. (As one join, PostgreSQL
        # with statistics behind a burst scanned every timer and probed claims for each.)
        case_claims = {c.invoice_id: c for c in session.execute(
            select(Claim.invoice_id, Claim.case_id, Claim.status, Claim.stage, Claim.effective_due_date)
            .where(among(session, Claim.case_id, sorted(candidates))))}
        rows = [_Due(*case_claims[t.claim_id], timer_id=t.id) for t in session.execute(
            select(Timer.id, Timer.claim_id).where(among(session, Timer.claim_id, sorted(case_claims)),
                                                   Timer.kind == "reminder", Timer.status.in_(OPEN), Timer.due_at <= at)
            .order_by(Timer.id))] if case_claims else []
        amounts = ledger.collectible_amounts(session, {r.invoice_id for r in rows})
        open_of: dict[int, list[Any]] = defaultdict(list)
        for r in rows:
            open_of[r.case_id].append(r)
        for case_id, tids in candidates.items():
            mine = open_of[case_id]
            per_claim: dict[str, int] = defaultdict(int)
            for r in mine:
                per_claim[r.invoice_id] += 1
            plain = (
                {r.timer_id for r in mine} >= set(tids)
                and all(n == 1 for n in per_claim.values())
                and all(r.stage == "due" and reason_not_to_press(r.status, amounts[r.invoice_id][0].total,
                                                                   amounts[r.invoice_id][1]) is None for r in mine)
            )
            if not plain:
                continue
            lead = timers[tids[0]]
            lead_claim = claims[lead.claim_id]
            others = sorted((r for r in mine if r.invoice_id != lead.claim_id), key=lambda r: (r.effective_due_date, r.invoice_id))
            batch = [lead.claim_id] + [r.invoice_id for r in others]
            level = lead_claim.reminder_level + 1
            letter_id = new_letter_id()
            letters.append({"id": letter_id, "kind": "reminder", "case_id": case_id, "customer_id": customers[case_id],
                            "level": level, "status": "pending", "created_at": at, "details": {},
                            "correlation_id": lead.correlation_id})
            links.extend({"letter_id": letter_id, "claim_id": cl, "kind": "reminder", "level": level,
                          "status": "included"} for cl in batch)
            finished[f"letter {letter_id} for {len(batch)} claim(s)"].append(lead.id)
            finished[f"consolidated with timer {lead.id}"].extend(r.timer_id for r in others)
            taken.update(tids)
            dispatch_later(session, letter_id, lead.correlation_id)

    if now_due:
        session.execute(update(Claim.__table__).where(among(session, Claim.invoice_id, now_due)).values(stage="due"))
    for model, new_rows in ((Timer, new_timers), (TimelineEntry, timeline), (Letter, letters), (LetterClaim, links)):
        if new_rows:
            session.execute(insert(model.__table__), new_rows)
    if finished:
        # Each letter's timers have an outcome of their own ("letter X for 2 claim(s)"): one
        # statement sent for them all (executemany), not one compiled and sent per letter.
        timers_t = Timer.__table__
        session.connection().execute(
            update(timers_t).where(timers_t.c.id == bindparam("t_id"))
            .values(status="done", done_at=at, outcome=bindparam("t_outcome")),
            [{"t_id": tid, "t_outcome": outcome[:500]} for outcome, done in finished.items() for tid in done])
    if taken:
        log.info("timers %s: fired set-based", ", ".join(str(t) for t in sorted(taken)),
                 extra={"correlation_ids": sorted({c for t in taken if (c := timers[t].correlation_id)})})
    return [t for t in timer_ids if int(t) not in taken]
