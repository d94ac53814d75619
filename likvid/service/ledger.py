"""Reading and writing the customer ledger. Balances are always derived from the entries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from likvid.clock import to_db
from likvid.models import Claim, Hold, LedgerEntry
from likvid.rules.collection import Balance, collectible


def post(
    session: Session,
    now: datetime,
    claim_id: str,
    kind: str,
    component: str,
    amount_ore: int,
    value_date: date,
    ref: str | None = None,
    note: str | None = None,
) -> None:
    session.add(
        LedgerEntry(
            claim_id=claim_id,
            kind=kind,
            component=component,
            amount_ore=amount_ore,
            booked_at=to_db(now),
            value_date=value_date,
            ref=ref,
            note=note,
        )
    )


def balances(session: Session, claim_ids: Iterable[str]) -> dict[str, Balance]:
    ids = list(claim_ids)
    sums: dict[str, dict[str, int]] = defaultdict(dict)
    if ids:
        session.flush()
        rows = session.execute(
            select(LedgerEntry.claim_id, LedgerEntry.component, func.sum(LedgerEntry.amount_ore))
            .where(LedgerEntry.claim_id.in_(ids))
            .group_by(LedgerEntry.claim_id, LedgerEntry.component)
        )
        for claim_id, component, total in rows:
            sums[claim_id][component] = int(total or 0)
    return {
        i: Balance(
            capital=sums[i].get("capital", 0),
            fee=sums[i].get("fee", 0),
            interest=sums[i].get("interest", 0),
        )
        for i in ids
    }


def balance(session: Session, claim_id: str) -> Balance:
    return balances(session, [claim_id])[claim_id]


def active_holds(session: Session, claim_ids: Iterable[str]) -> dict[str, list[Hold]]:
    """Per claim, the holds in force on it: its own, its case's and its customer's (a case or
    customer hold with ``claims_issued_by`` covers only claims issued by then)."""
    ids = list(claim_ids)
    out: dict[str, list[Hold]] = {i: [] for i in ids}
    if not ids:
        return out
    session.flush()
    claims = session.execute(
        select(Claim.invoice_id, Claim.case_id, Claim.customer_id, Claim.issue_date).where(Claim.invoice_id.in_(ids))
    ).all()
    cases = {c.case_id for c in claims}
    customers = {c.customer_id for c in claims}
    holds = session.scalars(
        select(Hold).where(
            Hold.ended_at.is_(None),
            or_(
                Hold.claim_id.in_(ids),
                and_(Hold.claim_id.is_(None), Hold.case_id.in_(cases)),
                and_(Hold.claim_id.is_(None), Hold.case_id.is_(None), Hold.customer_id.in_(customers)),
            ),
        )
    ).all()
    for c in claims:
        for hold in holds:
            if hold.claim_id is not None:
                applies = hold.claim_id == c.invoice_id
            elif hold.case_id is not None:
                applies = hold.case_id == c.case_id
            else:
                applies = hold.customer_id == c.customer_id
            if applies and (hold.claims_issued_by is None or c.issue_date <= hold.claims_issued_by):
                out[c.invoice_id].append(hold)
    return out


def collectible_amounts(session: Session, claim_ids: Iterable[str]) -> dict[str, tuple[Balance, int]]:
    """Per claim: the balance and what may be pressed for (the balance less holds)."""
    ids = list(claim_ids)
    bals = balances(session, ids)
    holds = active_holds(session, ids)
    return {
        i: (bals[i], collectible(bals[i].total, (h.amount_ore for h in holds[i]))) for i in ids
    }


def capital_history(session: Session, claim_id: str) -> list[tuple[date, int]]:
    """The capital balance as steps (from value date, balance), for interest (räntelagen)."""
    session.flush()
    rows = session.execute(
        select(LedgerEntry.value_date, func.sum(LedgerEntry.amount_ore))
        .where(LedgerEntry.claim_id == claim_id, LedgerEntry.component == "capital")
        .group_by(LedgerEntry.value_date)
        .order_by(LedgerEntry.value_date)
    )
    history: list[tuple[date, int]] = []
    running = 0
    for value_date, total in rows:
        running += int(total or 0)
        history.append((value_date, running))
    return history


def interest_posted(session: Session, claim_id: str) -> int:
    total = session.scalar(
        select(func.sum(LedgerEntry.amount_ore)).where(
            LedgerEntry.claim_id == claim_id, LedgerEntry.kind == "interest"
        )
    )
    return int(total or 0)
