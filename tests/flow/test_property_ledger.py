"""Property: over random sequences of invoices, payments, credits, reversals and clock advances
the ledger stays right to the öre (issue "money", item 8)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from likvid.clock import STOCKHOLM
from likvid.db import dispose_engines, read_session
from likvid.models import Claim, Handoff, LedgerEntry, Payment, Timer
from likvid.service import ledger
from likvid.service.app import bootstrap, prepare
from likvid.service.progress import set_clock
from likvid.settings import Settings
from tests.support.inline import Inline
from tests.support.pipeline import customer, envelope, invoice, payment

INVOICES = ("A", "B", "C")
step = st.one_of(
    st.tuples(st.just("advance"), st.integers(min_value=1, max_value=30)),
    st.tuples(st.just("pay"), st.sampled_from(INVOICES), st.integers(min_value=1, max_value=150_000)),
    st.tuples(st.just("pay_exact"), st.sampled_from(INVOICES)),
    st.tuples(st.just("credit"), st.sampled_from(INVOICES), st.integers(min_value=1, max_value=60_000)),
    st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=10)),
)
_run = itertools.count()


def kr(ore: int) -> str:
    return f"{ore // 100}.{ore % 100:02d}"


def check_invariants(app) -> None:  # type: ignore[no-untyped-def]
    with read_session(app.db) as s:
        claims = s.scalars(select(Claim)).all()
        bals = ledger.balances(s, [c.invoice_id for c in claims])
        for c in claims:
            b = bals[c.invoice_id]
            # no component is ever negative, and a claim is open exactly when something is owed
            assert b.capital >= 0 and b.fee >= 0 and b.interest >= 0, (c.invoice_id, b)
            assert (c.status == "open") == (b.total > 0), (c.invoice_id, c.status, b)
        # no open claim is stuck: something is scheduled for it (a step, or a letter to send), or
        # it is queued for the next hand-off file, whose export timer is pending
        export_pending = s.scalar(select(func.count()).select_from(Timer).where(
            Timer.kind == "handoff_export", Timer.status.in_(("pending", "emitted"))))
        for c in claims:
            if c.status == "open" and c.stage != "handed_off":
                waiting = s.scalar(select(func.count()).select_from(Timer).where(
                    Timer.claim_id == c.invoice_id, Timer.status.in_(("pending", "emitted"))))
                queued = s.scalar(select(Handoff.id).where(Handoff.claim_id == c.invoice_id, Handoff.status == "queued"))
                assert waiting or (queued and export_pending), (c.invoice_id, c.stage, "open claim with nothing scheduled")
        # every applied payment is fully accounted for: allocations plus overpayment
        for p in s.scalars(select(Payment)).all():
            allocated = -int(s.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_ore), 0)).where(
                LedgerEntry.ref == p.payment_id, LedgerEntry.kind == "payment")) or 0)
            if p.status == "applied":
                assert allocated + p.overpayment_ore == p.amount_ore, (p.payment_id, allocated, p.overpayment_ore)
            elif p.status in ("reversed", "parked"):
                assert allocated == 0, (p.payment_id, p.status, allocated)
        # issued + fees + interest - payments - credits = open balances
        sums = dict(s.execute(select(LedgerEntry.kind, func.sum(LedgerEntry.amount_ore)).group_by(LedgerEntry.kind)).all())
        total_open = sum(b.total for b in bals.values())
        assert sum(int(v) for v in sums.values()) == total_open


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(step, min_size=2, max_size=12))
def test_ledger_stays_right_to_the_ore(tmp_path: Path, script: list[tuple]) -> None:  # type: ignore[type-arg]
    dispose_engines()
    app = bootstrap(Settings.from_env({"LIKVID_HOME": str(tmp_path / f"r{next(_run)}"), "LIKVID_CLOCK": "simulated"}), fresh=True)
    prepare(app)
    now = datetime(2026, 1, 5, 8, 0, tzinfo=STOCKHOLM)
    set_clock(app, now)
    svc = Inline(app)
    svc.publish(customer("C1"), *[invoice(i, "C1", kr(100_000 + 10_000 * n), due="2026-01-30", invoice_number=f"7{n}")
                                  for n, i in enumerate(INVOICES)])
    payments: list[str] = []
    for n, action in enumerate(script):
        if action[0] == "advance":
            now += timedelta(days=action[1])
            svc.advance_to(now)
        elif action[0] == "pay":
            svc.publish(payment(f"P{n}", kr(action[2]), invoice_id=action[1], paid_on=now.date().isoformat()))
            payments.append(f"P{n}")
        elif action[0] == "pay_exact":
            with read_session(app.db) as s:
                claim = s.get(Claim, action[1])
                is_open = claim is not None and claim.status == "open"
                owed = ledger.balance(s, action[1]).total
            if is_open and owed > 0:
                svc.publish(payment(f"P{n}", kr(owed), invoice_id=action[1], paid_on=now.date().isoformat()))
                payments.append(f"P{n}")
                with read_session(app.db) as s:
                    settled = s.get(Claim, action[1])
                    assert settled is not None and settled.status == "settled"  # paying exactly the balance settles
        elif action[0] == "credit":
            svc.publish(envelope("invoice-credited", {"invoice_id": action[1], "credit_id": f"K{n}", "amount": kr(action[2])}))
        elif action[0] == "reverse" and payments:
            svc.publish(envelope("payment-reversed", {"payment_id": payments[action[1] % len(payments)], "reason": "återförd"}))
        check_invariants(app)
    dispose_engines()
