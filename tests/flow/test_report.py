"""The report's figures against a quarter lived through the service (tests/support/scenario.py),
with every expected figure worked out by hand below; the customer view across creditors; the
risk follow-up list; credit decisions through the event contract."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from likvid.cli.main import cli
from likvid.db import read_session
from likvid.models import RejectedEvent, TimelineEntry
from likvid.rules.credit import CreditFacts, decide
from likvid.service import report
from tests.support.pipeline import customer, envelope
from tests.support.scenario import Quarter, run_quarter


@pytest.fixture
def quarter(database_url: str, tmp_path: Path) -> Quarter:
    return run_quarter(tmp_path / "home", database_url)


def _build(q: Quarter, **over: str) -> dict:  # type: ignore[type-arg]
    with read_session(q.app.db) as s:
        return report.build(s, report.ReportFilter(date(2026, 1, 1), date(2026, 3, 31), **over))


def test_report_figures_match_the_hand_computed_quarter(quarter: Quarter) -> None:
    r = _build(quarter)
    # Claims due 2026-01-01..03-31: I1-I10 (I11 fell due in 2025, I13 in April) = 10.
    assert r["claims_due"] == 10
    shares = {o["outcome"]: (o["claims"], o["share_percent"]) for o in r["outcomes"]}
    assert shares == {
        "paid_by_due_date": (2, "20.0"),     # I1 (paid 01-20), I2 (paid on the due date 01-30)
        "paid_after_due_date": (0, "0.0"),
        "paid_after_reminder": (1, "10.0"),  # I3
        "paid_after_demand": (1, "10.0"),    # I4
        "paid_after_handoff": (1, "10.0"),   # I5
        "credited": (1, "10.0"),             # I9
        "written_off": (1, "10.0"),          # I6
        "open": (3, "30.0"),                 # I7, I8, I10
    }
    # Written off: I6's residual 400.00 - 395.00 = 5.00 kr, childcare.
    assert r["written_off"]["total_ore"] == 500
    assert r["written_off"]["by_reason"] == [{"reason": "small residual after payment", "claim_kind": "childcare",
                                              "claims": 1, "amount_ore": 500, "amount": "5.00"}]
    h = r["handling"]
    # Letters sent in the quarter (no SMTP configured: all on paper):
    #   C1/kommun: acknowledgements of O3 and O7, the review decision on O7, I7's reminder,
    #   demand and hand-off notice, one reminder for I3+I4+I5, one demand for I4+I5, the
    #   hand-off notice for I5 = 9; C1/energi: I8's reminder, demand, hand-off notice = 3;
    #   C2: I11's reminder, demand, hand-off notice = 3. Total 15 (I10's reminder is in April).
    # Settled by payment in the quarter: I1..I5 = 5. 15 / 5 = 3.00.
    assert (h["letters"], h["emails"], h["claims_settled"]) == (15, 0, 5)
    assert (h["letters_per_settled_claim"], h["emails_per_settled_claim"]) == ("3.00", "0.00")
    # Manual interventions: objections O3 and O7, the review of O7 = 3; claims issued in the
    # quarter: I1-I10 and I13 = 11. 3 × 1000 / 11 = 272.72… → 272.7.
    assert h["interventions"] == {"objections": 2, "manual_holds": 0, "reviews": 1, "unmatched_payments": 0}
    assert (h["manual_interventions"], h["claims_issued"], h["manual_interventions_per_1000_claims"]) == (3, 11, "272.7")
    # DSO: open capital at 03-31 = I7 700 + I8 300 + I10 500 + I13 250 + I11 900 = 2650.00 kr;
    # invoiced in the quarter = 1000+2000+1500+800+600+400+700+300+200+500+250 = 8250.00 kr;
    # 90 days (31 + 28 + 31). 2650 / 8250 × 90 = 28.909… → 28.9.
    d = r["dso"]
    assert (d["receivable_ore"], d["invoiced_ore"], d["period_days"], d["days"]) == (265000, 825000, 90, "28.9")
    # Ageing at 03-31, days past the due date: I13 due 04-20 (not yet due); I10 03-25 → 6;
    # I8 02-20 → 39; I7 01-15 → 75; I11 2025-12-15 → 106. Shares of 2650 kr.
    assert [(a["bucket"], a["claims"], a["amount_ore"], a["share_percent"]) for a in r["ageing"]] == [
        ("not_due", 1, 25000, "9.4"),    # 250 / 2650 = 9.43 %
        ("0-30", 1, 50000, "18.9"),      # 500 / 2650 = 18.87 %
        ("31-60", 1, 30000, "11.3"),     # 300 / 2650 = 11.32 %
        ("61-90", 1, 70000, "26.4"),     # 700 / 2650 = 26.42 %
        ("over_90", 1, 90000, "34.0"),   # 900 / 2650 = 33.96 %
    ]


def test_report_by_creditor_and_claim_kind(quarter: Quarter) -> None:
    energi = _build(quarter, creditor_id="energi")
    # Only I8 (300 kr, due 02-20, open, handed off): 1 claim, 100 % open; 3 letters, none
    # settled; DSO 300 / 300 × 90 = 90.0; 39 days past due.
    assert energi["claims_due"] == 1
    assert [(o["outcome"], o["claims"]) for o in energi["outcomes"] if o["claims"]] == [("open", 1)]
    assert (energi["handling"]["letters"], energi["handling"]["letters_per_settled_claim"]) == (3, None)
    assert energi["handling"]["unmatched_payments_counted"] is False
    assert energi["dso"]["days"] == "90.0"
    assert [a["bucket"] for a in energi["ageing"] if a["claims"]] == ["31-60"]
    childcare = _build(quarter, claim_kind="childcare")
    # Everything but I8: 9 claims due, 2 paid by the due date = 22.2 %.
    assert childcare["claims_due"] == 9
    assert childcare["outcomes"][0]["share_percent"] == "22.2"
    # Letters about childcare claims: all 15 but I8's 3 = 12.
    assert childcare["handling"]["letters"] == 12


def test_the_cli_prints_the_same_report_as_json_and_table(quarter: Quarter, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in (("LIKVID_HOME", str(quarter.app.settings.home)), ("LIKVID_DATABASE_URL", quarter.app.settings.database_url),
                       ("LIKVID_CLOCK", "simulated"), ("LIKVID_POLICY", str(quarter.app.settings.policy_path))):
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    out = runner.invoke(cli, ["report", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == _build(quarter)
    table = runner.invoke(cli, ["report", "--from", "2026-01-01", "--to", "2026-03-31"])
    assert table.exit_code == 0 and "Days sales outstanding: 28.9" in table.output
    bad = runner.invoke(cli, ["report", "--from", "2026-03-31", "--to", "2026-01-01"])
    assert bad.exit_code != 0 and "--to must not be before --from" in bad.output
    bad = runner.invoke(cli, ["report", "--from", "2026-01-01", "--to", "2026-03-31", "--creditor", "nope"])
    assert bad.exit_code != 0 and "not a configured creditor" in bad.output
    risk = runner.invoke(cli, ["risk", "list", "--json"])
    assert risk.exit_code == 0, risk.output
    assert [(row["customer_id"], row["score"]) for row in json.loads(risk.output)] == [("C1", 121), ("C2", 31)]
    assert "C1" in runner.invoke(cli, ["risk", "list"]).output


def test_one_customer_across_creditors_with_risk_explained(quarter: Quarter) -> None:
    c1 = quarter.customer("C1")
    # One register: both creditors' claims, balances and cases; letters per creditor's case.
    assert {k["creditor_id"]: (k["claims"], k["open_claims"], k["letters_sent"]) for k in c1["cases"]} == {
        "kommun": (10, 3, 10),  # the 9 letters of the quarter and I10's April reminder
        "energi": (1, 1, 3),
    }
    assert set(c1["balance_by_creditor"]) == {"kommun", "energi"}
    assert c1["balance_by_creditor"]["energi"]["capital"] == "300.00"
    # Risk at 2026-04-10 (look-back 730 days), counted by hand from the scenario:
    #   late payments I3, I4, I5 = 3 × 2; reminders (one per claim) I3, I4, I5, I7, I8, I10 = 6 × 3;
    #   demands I4, I5, I7, I8 = 4 × 8; hand-offs I5, I7, I8 = 3 × 20; no plans; O7 upheld = 1 × 5.
    factors = {f["factor"]: (f["count"], f["points"]) for f in c1["risk"]["factors"]}
    assert factors == {"late_payment": (3, 6), "reminder": (6, 18), "collection_demand": (4, 32),
                       "handoff": (3, 60), "broken_plan": (0, 0), "failed_objection": (1, 5)}
    assert c1["risk"]["score"] == 121 == sum(f["points"] for f in c1["risk"]["factors"])


def test_credit_decisions_follow_the_rules_with_reasons_and_are_reproducible(quarter: Quarter) -> None:
    q = quarter
    check = lambda rid, cid, amount: envelope(  # noqa: E731
        "credit-check-requested", {"request_id": rid, "customer_id": cid, "creditor_id": "kommun",
                                   "amount": amount, "purpose": "hyra av lokal"})
    q.publish(customer("C3", identity_number="701063-2391", name="Cai Ek"),
              check("R1", "C1", "1000.00"), check("R3a", "C3", "5000.00"), check("R3b", "C3", "5000.00"),
              check("R3c", "C3", "20000.00"), check("R9", "C9", "100.00"))
    decisions = {d["request_id"]: d for d in q.customer("C1")["credit_decisions"] + q.customer("C3")["credit_decisions"]}
    # C1: open hand-offs (I7, I8), score 121 >= 50 and 60.00 + 700 + ... overdue: refused, every reason listed.
    assert decisions["R1"]["decision"] == "refuse"
    assert any("handed off" in r for r in decisions["R1"]["reasons"])
    assert any("risk score 121 is at least 50" in r for r in decisions["R1"]["reasons"])
    # C3: no history; 5000 kr approved; the same facts twice give the same decision.
    assert decisions["R3a"]["decision"] == decisions["R3b"]["decision"] == "approve"
    assert decisions["R3a"]["reasons"] == decisions["R3b"]["reasons"] and decisions["R3a"]["facts"] == decisions["R3b"]["facts"]
    # 20000 kr is above deposit_above (10000): a deposit of 25 % = 5000.00 kr.
    assert (decisions["R3c"]["decision"], decisions["R3c"]["deposit"]) == ("deposit", "5000.00")
    # The stored facts and rules re-derive every stored decision exactly.
    with read_session(q.app.db) as s:
        rows = list(s.scalars(select(TimelineEntry).where(TimelineEntry.type == "credit-decision-made")))
        rejected = s.scalar(select(RejectedEvent.id))
        stored = [row.details for row in rows]
    assert len(stored) == 4 and rejected is None
    for details in stored:
        again = decide(CreditFacts(**details["facts"]), q.app.policy.credit_rules)
        assert again.as_dict() == {k: details[k] for k in ("decision", "deposit_ore", "reasons")}
        assert details["risk"]["score"] == details["facts"]["risk_score"]
        assert "purpose" not in details  # free text stays in the inbound event
    # C9 is not registered yet: the request waits and is decided when the customer arrives.
    assert "R9" not in decisions
    q.publish(customer("C9", identity_number="811218-9876", name="Dag Dahl"))
    assert [d["decision"] for d in q.customer("C9")["credit_decisions"]] == ["approve"]


def test_a_credit_check_for_an_unknown_creditor_is_refused_naming_the_field(quarter: Quarter) -> None:
    quarter.publish(envelope("credit-check-requested", {
        "request_id": "R1", "customer_id": "C1", "creditor_id": "nope", "amount": "10.00"}, id="cc-nope"))
    with read_session(quarter.app.db) as s:
        row = s.scalar(select(RejectedEvent).where(RejectedEvent.event_id == "cc-nope"))
        assert row is not None and row.reasons[0]["field"] == "data.creditor_id"
        assert "not a configured creditor" in row.reasons[0]["reason"]
        assert s.scalar(select(TimelineEntry.id).where(TimelineEntry.type == "credit-decision-made")) is None
