"""A real quarter through the service (Inline: the actors' own functions, no broker) for the
report, risk and credit tests: invoices paid at every stage, a write-off, a credit, open debt
of every age. The simulated business clock walks from 2026-01-05 to 2026-04-10.

Claims (customer C1 at creditor kommun, childcare, unless noted; amounts in kronor):

| id  | amount | issued     | due        | what happens                                   |
|-----|--------|------------|------------|------------------------------------------------|
| I1  | 1000   | 2026-01-05 | 2026-01-30 | paid 2026-01-20                                |
| I2  | 2000   | 2026-01-05 | 2026-01-30 | paid on the due date itself                    |
| I3  | 1500   | 2026-01-05 | 2026-01-30 | objection filed and withdrawn; paid after the reminder |
| I4  |  800   | 2026-01-05 | 2026-01-30 | paid after the collection demand               |
| I5  |  600   | 2026-01-05 | 2026-01-30 | paid after hand-off                            |
| I6  |  400   | 2026-01-05 | 2026-01-30 | 395 paid 2026-01-20, 5.00 written off          |
| I7  |  700   | 2026-01-05 | 2026-01-15 | objection filed, upheld on review; never paid  |
| I8  |  300   | 2026-01-05 | 2026-02-20 | never paid (creditor energi, claim kind other) |
| I9  |  200   | 2026-01-05 | 2026-01-30 | credited in full 2026-01-10                    |
| I10 |  500   | 2026-03-02 | 2026-03-25 | never paid                                     |
| I13 |  250   | 2026-03-20 | 2026-04-20 | never paid                                     |
| I11 |  900   | 2025-11-15 | 2025-12-15 | customer C2; never paid                        |

Kommun writes off residuals up to
10 kr (``write_off_below``).
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from likvid.clock import STOCKHOLM
from likvid.db import dispose_engines, read_session
from likvid.policy import default_policy_text
from likvid.service import show
from likvid.service.app import App, bootstrap, prepare
from likvid.service.progress import set_clock
from likvid.settings import Settings
from tests.support.inline import Inline
from tests.support.pipeline import customer, envelope, invoice, objection, payment

KOMMUN = 'ocr_prefix = "1"'


def at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(12, 0), tzinfo=STOCKHOLM)


class Quarter:
    def __init__(self, app: App) -> None:
        self.app = app
        self.svc = Inline(app)

    def invoice(self, invoice_id: str) -> dict[str, Any]:
        with read_session(self.app.db) as s:
            data = show.invoice(s, invoice_id)
        assert data is not None
        return data

    def customer(self, customer_id: str) -> dict[str, Any]:
        with read_session(self.app.db) as s:
            data = show.customer(s, customer_id, self.app)
        assert data is not None
        return data

    def today(self) -> date:
        with read_session(self.app.db) as s:
            return self.app.clock.now(s).date()

    def go(self, day: str) -> None:
        self.svc.advance_to(at(day))

    def go_until(self, invoice_id: str, stage: str, last: str) -> str:
        """Walk day by day until the claim reaches ``stage`` (at most to ``last``); the day."""
        day = self.today()
        while self.invoice(invoice_id)["stage"] != stage:
            day = date.fromordinal(day.toordinal() + 1)
            assert day <= date.fromisoformat(last), f"{invoice_id} never reached {stage} by {last}"
            self.go(day.isoformat())
        return day.isoformat()

    def pay_all(self, pid: str, invoice_id: str) -> None:
        """Pay the claim's whole balance (capital, fees, interest) today."""
        total = self.invoice(invoice_id)["balance"]["total"]
        today = self.today().isoformat()
        self.publish(payment(pid, total, invoice_id=invoice_id, paid_on=today))
        assert self.invoice(invoice_id)["status"] == "settled"

    def publish(self, *events: dict[str, Any]) -> None:
        results = self.svc.publish(*events)
        assert all(r["status"] == "accepted" for r in results), results


def _inv(iid: str, amount: str, due: str, issued: str = "2026-01-05", cid: str = "C1", **over: Any) -> dict[str, Any]:
    return invoice(iid, cid, amount, due=due, issue_date=issued, invoice_number=f"7{len(iid)}{iid[1:]}", **over)


def run_quarter(home: Path, database_url: str, *, policy_path: Path | None = None) -> Quarter:
    """Live through the quarter; returns with the clock at 2026-04-10 12:00."""
    dispose_engines()
    if policy_path is None:
        policy_path = home.parent / "policy.toml"
        text = default_policy_text()
        assert KOMMUN in text
        policy_path.write_text(text.replace(KOMMUN, KOMMUN + '\nwrite_off_below = "10.00"', 1), encoding="utf-8")
    app = bootstrap(Settings.from_env({"LIKVID_HOME": str(home), "LIKVID_DATABASE_URL": database_url,
                                       "LIKVID_CLOCK": "simulated", "LIKVID_POLICY": str(policy_path)}), fresh=True)
    prepare(app)
    set_clock(app, at("2026-01-05"))
    q = Quarter(app)
    q.publish(
        customer("C1"), customer("C2", identity_number="121212-1212", name="Bo Berg", email=None),
        _inv("I1", "1000.00", "2026-01-30"), _inv("I2", "2000.00", "2026-01-30"),
        _inv("I3", "1500.00", "2026-01-30"), _inv("I4", "800.00", "2026-01-30"),
        _inv("I5", "600.00", "2026-01-30"), _inv("I6", "400.00", "2026-01-30"),
        _inv("I7", "700.00", "2026-01-15"),
        _inv("I8", "300.00", "2026-02-20", creditor_id="energi", claim_kind="other"),
        _inv("I9", "200.00", "2026-01-30"),
        _inv("I11", "900.00", "2025-12-15", issued="2025-11-15", cid="C2"),
    )
    q.go("2026-01-10")
    q.publish(envelope("invoice-credited", {"invoice_id": "I9", "credit_id": "K9", "amount": "200.00",
                                            "reason": "fel taxa"}))
    q.go("2026-01-20")
    q.publish(payment("P1", "1000.00", invoice_id="I1", paid_on="2026-01-20"),
              payment("P6", "395.00", invoice_id="I6", paid_on="2026-01-20"),
              objection("O3", "I3", received_on="2026-01-20"),
              objection("O7", "I7", received_on="2026-01-20"))
    q.go("2026-01-21")
    q.publish(envelope("objection-withdrawn", {"objection_id": "O3"}),
              envelope("handler-statement-recorded", {"objection_id": "O7", "handler": "Handläggare A",
                                                      "statement": "Platsen var bokad och använd."}),
              envelope("review-decided", {"objection_id": "O7", "decided_by": "Chef B", "outcome": "upheld",
                                          "reasons": "Avgiften följer taxan."}))
    q.go("2026-01-30")
    q.publish(payment("P2", "2000.00", invoice_id="I2", paid_on="2026-01-30"))
    q.go_until("I3", "reminded", "2026-02-28")
    q.go("2026-02-12")
    q.pay_all("P3", "I3")
    q.go_until("I4", "demanded", "2026-03-15")
    q.pay_all("P4", "I4")
    q.go("2026-03-02")
    q.publish(_inv("I10", "500.00", "2026-03-25", issued="2026-03-02"))
    q.go_until("I5", "handed_off", "2026-03-25")
    q.pay_all("P5", "I5")
    q.go("2026-03-20")
    q.publish(_inv("I13", "250.00", "2026-04-20", issued="2026-03-20"))
    q.go("2026-04-10")
    return q
