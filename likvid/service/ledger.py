"""Reading and writing the customer ledger. Balances are always derived from the entries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from likvid.clock import to_db
from likvid.models import Hold, LedgerEntry
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
    ids = list(claim_ids)
    out: dict[str, list[Hold]] = {i: [] for i in ids}
    if ids:
        for hold in session.scalars(
            select(Hold).where(Hold.claim_id.in_(ids), Hold.ended_at.is_(None))
        ):
            out[hold.claim_id or ""].append(hold)
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
