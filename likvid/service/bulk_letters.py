"""Letter dispatch set-based: a message's plain reminders decided from a few reads.

``dispatch_many`` locks the batch's cases (in id order), then reads the letters, their claims,
customers, balances, holds and reminder-fee counts for the whole batch in one statement each,
and decides each plain reminder exactly as ``letters.dispatch`` would (the same
``letters.reminder_terms`` and ``letters.send``), without a flush between letters: the
session writes everything at the end. A reminder is plain when it is pending, every claim in
it is still at stage ``due``, open, owed and free of holds, and no late-payment compensation
applies. Everything else, and every letter of a case with more than one letter in the batch,
is left for ``letters.dispatch``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from likvid.correlation import correlated
from likvid.db import is_sqlite
from likvid.models import Claim, CollectionCase, Customer, LedgerEntry, Letter, LetterClaim
from likvid.rules.collection import Balance, reason_not_to_press
from likvid.service import ledger
from likvid.service.app import App
from likvid.service.letters import REMINDER_FEE_NOTE, reminder_terms, send
from likvid.service.records import deferred_rows

#: One line per batch, listing its letters and the correlation ids they were sent under.
log = logging.getLogger("likvid.steps")


def dispatch_many(session: Session, app: App, now: datetime, letter_ids: list[Any]) -> list[Any]:
    """Send the plain reminders; returns the letter ids left for ``letters.dispatch``, in order."""
    ids = [str(i) for i in letter_ids]
    with session.no_autoflush:
        found = session.execute(select(Letter.id, Letter.case_id).where(Letter.id.in_(ids))).all()
        per_case: dict[int, int] = defaultdict(int)
        for _, case_id in found:
            per_case[case_id] += 1
        if not found or len(set(ids)) != len(ids):
            return list(letter_ids)
        lock = select(CollectionCase).where(CollectionCase.id.in_(per_case)).order_by(CollectionCase.id)
        if not is_sqlite(session.get_bind()):
            lock = lock.with_for_update()
        cases = {c.id: c for c in session.scalars(lock.execution_options(populate_existing=True))}
        # Read after the cases are locked: nothing about these letters changes until commit.
        letters = {x.id: x for x in session.scalars(
            select(Letter).where(Letter.id.in_(ids)).execution_options(populate_existing=True))}
        links: dict[str, list[LetterClaim]] = defaultdict(list)
        for link in session.scalars(select(LetterClaim).where(LetterClaim.letter_id.in_(ids))):
            links[link.letter_id].append(link)
        claim_ids = {lc.claim_id for ls in links.values() for lc in ls}
        claims = {c.invoice_id: c for c in session.scalars(
            select(Claim).where(Claim.invoice_id.in_(claim_ids)).execution_options(populate_existing=True))}
        customers = {c.id: c for c in session.scalars(
            select(Customer).where(Customer.id.in_({cases[x.case_id].customer_id for x in letters.values()})))}
        balances = ledger.balances(session, claim_ids)
        holds = ledger.active_holds(session, claim_ids)
        charged: dict[str, int] = defaultdict(int)
        for claim_id, n in session.execute(
            select(LedgerEntry.claim_id, func.count()).where(
                LedgerEntry.claim_id.in_(claim_ids), LedgerEntry.kind == "fee", LedgerEntry.note == REMINDER_FEE_NOTE)
                .group_by(LedgerEntry.claim_id)):
            charged[claim_id] = int(n)

        left: list[Any] = []
        sent: list[Letter] = []
        with deferred_rows(session):  # the letters' timeline, events and timers: one insert each
            for raw in letter_ids:
                letter = letters.get(str(raw))
                if letter is None or per_case[letter.case_id] != 1 or not _plain(app, letter, cases, customers, links,
                                                                                  claims, balances, holds):
                    left.append(raw)
                    continue
                case = cases[letter.case_id]
                customer = customers[case.customer_id]
                keep = sorted((claims[lc.claim_id] for lc in links[letter.id]), key=lambda c: (c.effective_due_date, c.invoice_id))
                steps = app.policy.steps_for(case.creditor_id, keep[0].claim_kind)
                fees: list[dict[str, Any]] = []
                deadline, next_step = reminder_terms(session, now, letter, keep, steps, fees,
                                                     {c.invoice_id: charged[c.invoice_id] for c in keep}, False)
                # The balances after the fees just posted (no holds: collectible is the balance).
                posted: dict[str, int] = defaultdict(int)
                for entry in session.new:
                    if isinstance(entry, LedgerEntry) and entry.ref == letter.id:
                        posted[entry.claim_id] += entry.amount_ore
                amounts = {}
                for c in keep:
                    b = balances[c.invoice_id]
                    after = Balance(capital=b.capital, fee=b.fee + posted[c.invoice_id], interest=b.interest)
                    amounts[c.invoice_id] = (after, after.total)
                with correlated(letter.correlation_id):  # its outbound events follow from its event
                    send(session, app, now, letter, case, customer, keep, amounts, fees, [], deadline, next_step)
                sent.append(letter)
    session.flush()
    if sent:
        log.info("letters %s: sent set-based", ", ".join(x.id for x in sent),
                 extra={"correlation_ids": sorted({x.correlation_id for x in sent if x.correlation_id})})
    return left


def _plain(app: App, letter: Letter, cases: dict[int, CollectionCase], customers: dict[str, Customer],
           links: dict[str, list[LetterClaim]], claims: dict[str, Claim], balances: dict[str, Balance],
           holds: dict[str, list[Any]]) -> bool:
    if letter.kind != "reminder" or letter.status != "pending" or not links[letter.id]:
        return False
    case = cases.get(letter.case_id)
    customer = customers.get(case.customer_id) if case else None
    if case is None or customer is None:
        return False
    creditor = app.policy.creditors[case.creditor_id]
    if creditor.late_payment_compensation and customer.party_type == "organisation" and not customer.consumer:
        return False
    for lc in links[letter.id]:
        c = claims.get(lc.claim_id)
        if c is None or lc.status != "included" or c.stage != "due" or holds[c.invoice_id]:
            return False
        total = balances[c.invoice_id].total
        if reason_not_to_press(c.status, total, total) is not None:
            return False
    return True
