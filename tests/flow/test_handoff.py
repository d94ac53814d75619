"""Given / When / Then: hand-off routing, the fixed-width file, adjustments after hand-off and
surveillance (issue 7; POLICY.md point 11; SWEDISH-RULES.md §§5, 6, 9), on SQLite and PostgreSQL.

Driven inline (tests.support.inline: the same service functions the actors call, without a
broker) so months and years of business time pass in seconds."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from likvid.cli.main import cli
from likvid.clock import STOCKHOLM
from likvid.db import dispose_engines, read_session, transaction
from likvid.models import Handoff, HandoffFile, RejectedEvent
from likvid.policy import default_policy_text
from likvid.service import handoff as handoff_service
from likvid.service import handoff_file, show
from likvid.service import surveillance as surveillance_service
from likvid.service.app import bootstrap, prepare
from likvid.service.progress import set_clock
from likvid.settings import Settings
from tests.support.inline import Inline
from tests.support.outbox import outbound
from tests.support.pipeline import customer, envelope, invoice, objection, payment

START = datetime(2026, 1, 5, 8, 0, tzinfo=STOCKHOLM)
PROTECTED_STREET = "Hemliga vägen 7"


class Svc(Inline):
    def now(self) -> datetime:
        with read_session(self.app.db) as s:
            return self.app.clock.now(s)

    def invoice(self, invoice_id: str) -> dict[str, Any]:
        with read_session(self.app.db) as s:
            data = show.invoice(s, invoice_id)
        assert data is not None
        return data

    def types(self, invoice_id: str) -> list[str]:
        return [t["type"] for t in self.invoice(invoice_id)["timeline"]]

    def advance(self, days: int) -> None:
        self.advance_to(self.now() + timedelta(days=days))

    def advance_until(self, done: Callable[[], bool], limit_days: int = 400) -> None:
        for _ in range(limit_days):
            if done():
                return
            self.advance(1)
        raise AssertionError("the condition never came true")

    def handoff(self, invoice_id: str) -> dict[str, Any] | None:
        return self.invoice(invoice_id)["handoff"]

    def files(self) -> list[tuple[SimpleNamespace, list[dict[str, str]]]]:
        with read_session(self.app.db) as s:
            rows = [SimpleNamespace(creditor_id=f.creditor_id, target=f.target, claims=f.claims, path=f.path)
                    for f in s.scalars(select(HandoffFile).order_by(HandoffFile.id))]
        return [(f, handoff_file.parse(Path(f.path).read_bytes().decode(handoff_file.ENCODING))) for f in rows]

    def outbound(self, type_: str, invoice_id: str) -> list[dict[str, Any]]:
        return [e["data"] for e in outbound(self.app, type_) if e["data"].get("invoice_id") == invoice_id]


@pytest.fixture
def make(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Svc]]:
    def build(**policy: str) -> Svc:
        dispose_engines()
        env = {"LIKVID_HOME": str(tmp_path / "home"), "LIKVID_DATABASE_URL": database_url, "LIKVID_CLOCK": "simulated"}
        if policy:
            text = default_policy_text()
            for old, new in policy.items():
                assert old in text
                text = text.replace(old, new)
            path = tmp_path / "policy.toml"
            path.write_text(text, encoding="utf-8")
            env["LIKVID_POLICY"] = str(path)
        app = bootstrap(Settings.from_env(env), fresh=True)
        prepare(app)
        set_clock(app, START)
        return Svc(app)

    yield build
    dispose_engines()


def claim_records(records: list[dict[str, str]], kind: str) -> dict[str, dict[str, str]]:
    return {r["handoff_id"]: r for r in records if r["type"] == kind}


def test_only_undisputed_unheld_nonzero_claims_are_in_the_file(make: Callable[..., Svc]) -> None:
    svc = make()
    # Given a customer with eight invoices, a customer with a protected identity and one invoice
    svc.publish(
        customer("C1"),
        customer("C2", name="Skyddad Person", identity_number="19121212-1212", protected_identity=True,
                 address={"street": PROTECTED_STREET, "postal_code": "999 99", "city": "Hemlig"}),
        invoice("OK", "C1", "1000.00", invoice_number="1001"),
        invoice("OBJ", "C1", "500.00", invoice_number="1002"),
        invoice("PART", "C1", "600.00", invoice_number="1003"),
        invoice("DEF", "C1", "400.00", invoice_number="1004"),
        invoice("PAID", "C1", "300.00", invoice_number="1005"),
        invoice("LATEOBJ", "C1", "700.00", invoice_number="1006"),
        invoice("PL", "C1", "900.00", invoice_number="1007", claim_kind="permit_fee", claim_nature="public_law",
                decision_final_on="2026-06-30"),
        invoice("PROT", "C2", "800.00", invoice_number="2001"),
    )
    # When the collection demand has gone out, one claim is disputed in full, one in part, one deferred
    svc.advance_until(lambda: svc.invoice("OK")["stage"] == "demanded")
    today = svc.now().date().isoformat()
    svc.publish(objection("O-1", "OBJ", received_on=today),
                objection("O-2", "PART", received_on=today, disputed_amount="100.00"),
                envelope("deferral-granted", {"deferral_id": "D-1", "invoice_id": "DEF", "until": "2026-12-31",
                                              "reason": "Väntar på försäkring", "granted_by": "handläggare A"}))
    # and once the claims are queued for the next file, one is paid in full and one is disputed
    svc.advance_until(lambda: (svc.handoff("OK") or {}).get("status") == "queued")
    assert svc.handoff("PAID")["status"] == "queued" and svc.handoff("LATEOBJ")["status"] == "queued"
    assert svc.handoff("OBJ") is None and svc.handoff("PART") is None and svc.handoff("DEF") is None
    svc.publish(payment("P-1", svc.invoice("PAID")["balance"]["total"], invoice_id="PAID", paid_on=today),
                objection("O-3", "LATEOBJ", received_on=today))
    svc.advance(2)

    # Then one Kronofogden file holds exactly the undisputed, unheld, non-zero claims
    files = svc.files()
    assert [(f.creditor_id, f.target, f.claims) for f, _ in files] == [("kommun", "kronofogden", 2)]
    f, records = files[0]
    claims = claim_records(records, "20")
    debtors = claim_records(records, "10")
    assert sorted(r["invoice_number"] for r in claims.values()) == ["1001", "2001"]
    content = Path(f.path).read_bytes().decode(handoff_file.ENCODING)
    for number in ("1002", "1003", "1004", "1005", "1006", "1007"):
        assert number not in content
    # with the amounts of the ledger, the 300 kr application fee and the basis in words
    ok = svc.invoice("OK")
    ok_id = ok["handoff"]["handoff_id"]
    rec = claims[ok_id]
    capital, fees, interest = (int(ok["balance"][k].replace(".", "")) for k in ("capital", "fees", "interest"))
    assert (int(rec["capital"]), int(rec["fees"]), int(rec["interest"])) == (capital, fees, interest)
    assert int(rec["application_fee"]) == 30000 and int(rec["own_work"]) == 0
    assert int(rec["total"]) == capital + fees + interest + 30000
    assert int(rec["interest_rate_bp"]) == 1000 and rec["interest_from"] == "20260131"
    basis = " ".join(r["text"] for r in records if r["type"] == "30" and r["handoff_id"] == ok_id)
    assert "Obetald faktura 1001 avseende förskoleavgift" in basis and "Inkassokrav skickad" in basis
    assert debtors[ok_id]["street"] == "Storgatan 1" and debtors[ok_id]["protected"] == "N"
    assert debtors[ok_id]["identity_number"] == "198112189876"
    # a protected identity is flagged and has no address (SWEDISH-RULES.md §9)
    prot_id = svc.invoice("PROT")["handoff"]["handoff_id"]
    assert debtors[prot_id]["protected"] == "J"
    assert debtors[prot_id]["street"] == debtors[prot_id]["city"] == debtors[prot_id]["postal_code"] == ""
    assert PROTECTED_STREET not in content and "Hemlig " not in content
    trailer = records[-1]
    assert trailer["type"] == "99" and int(trailer["claims"]) == 2
    assert int(trailer["total"]) == sum(int(r["total"]) for r in claims.values())
    # and each handed-off claim is marked, recorded and its customer told
    for invoice_id in ("OK", "PROT"):
        inv = svc.invoice(invoice_id)
        assert inv["stage"] == "handed_off" and inv["handoff"]["status"] == "exported"
        assert svc.types(invoice_id).count("collection-handed-off") == 1
        assert [x["status"] for x in inv["letters"] if x["kind"] == "handoff_notice"] == ["sent"]
    # the others are not, and say why
    assert svc.handoff("PAID")["status"] == "cancelled" and svc.invoice("PAID")["status"] == "settled"
    assert svc.handoff("LATEOBJ")["status"] == "cancelled" and "hold" in svc.handoff("LATEOBJ")["reason"]
    for invoice_id in ("OBJ", "PART", "DEF", "PAID", "LATEOBJ"):
        assert "collection-handed-off" not in svc.types(invoice_id)
        assert svc.invoice(invoice_id)["stage"] != "handed_off"
    # the public-law claim waits, visibly, until its decision is final
    assert svc.handoff("PL")["status"] == "waiting"
    with read_session(svc.app.db) as s:
        assert [w["invoice_id"] for w in handoff_service.listing(s, ("waiting",))] == ["PL"]
    listed = CliRunner().invoke(cli, ["handoff", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [(w["invoice_id"], w["status"], w["decision_final_on"]) for w in json.loads(listed.output)] == [
        ("PL", "waiting", "2026-06-30")]
    # When the export runs again the same day, nothing is written twice
    with transaction(svc.app.db) as s:
        assert handoff_service.export(s, svc.app, svc.app.clock.now(s)) == []
    again = CliRunner().invoke(cli, ["handoff", "export"])
    assert again.exit_code == 0 and "nothing to hand off" in again.output, again.output
    assert len(svc.files()) == 1
    # When the decision has become final, the claim goes to indrivning in a file of its own
    svc.advance_to(datetime(2026, 7, 3, 8, 0, tzinfo=STOCKHOLM))
    files = svc.files()
    assert [(f.target, f.claims) for f, _ in files] == [("kronofogden", 2), ("indrivning", 1)]
    indr = claim_records(files[1][1], "20")
    assert [r["invoice_number"] for r in indr.values()] == ["1007"]
    assert next(iter(indr.values()))["nature"] == "P" and int(next(iter(indr.values()))["application_fee"]) == 0
    assert svc.invoice("PL")["stage"] == "handed_off"
    # and is tracked under lag (1982:188): five years after the end of the year it fell due
    watch = svc.invoice("PL")["surveillance"]
    assert (watch["rule"], watch["limitation_date"], watch["demand_on"]) == ("indrivning", "2031-12-31", None)
    # every exported claim is in exactly one file
    ids = [hid for _, recs in files for hid in claim_records(recs, "20")]
    assert len(ids) == len(set(ids)) == 3


def test_payments_after_hand_off_reduce_then_withdraw(make: Callable[..., Svc]) -> None:
    svc = make(**{'own_work_compensation = "0.00"': 'own_work_compensation = "380.00"'})
    svc.publish(customer("C1"), invoice("I1", "C1", "1000.00", invoice_number="1001"))
    svc.advance_until(lambda: svc.invoice("I1")["stage"] == "handed_off")
    inv = svc.invoice("I1")
    owed = int(inv["balance"]["total"].replace(".", ""))
    (_, records), = svc.files()
    assert int(claim_records(records, "20")[inv["handoff"]["handoff_id"]]["own_work"]) == 38000
    assert svc.outbound("handoff-adjusted", "I1") == []
    # When 200 kr is paid after the hand-off
    svc.publish(payment("P1", "200.00", invoice_id="I1", paid_on=svc.now().date().isoformat()))
    # Then the receiver is told the claim is reduced to what remains
    (first,) = svc.outbound("handoff-adjusted", "I1")
    assert first["adjustment"] == "reduction"
    assert first["previous"] == owed and first["remaining"] == owed - 20000 and first["reduced_by"] == 20000
    assert first["handoff_id"] == inv["handoff"]["handoff_id"]
    # When the rest is paid
    svc.publish(payment("P2", svc.invoice("I1")["balance"]["total"], invoice_id="I1",
                        paid_on=svc.now().date().isoformat()))
    # Then the hand-off is withdrawn
    adjustments = svc.outbound("handoff-adjusted", "I1")
    assert [a["adjustment"] for a in adjustments] == ["reduction", "withdrawal"]
    assert adjustments[1]["remaining"] == 0 and adjustments[1]["previous"] == owed - 20000
    assert svc.invoice("I1")["status"] == "settled" and svc.handoff("I1")["status"] == "withdrawn"


def test_payments_in_one_batch_still_adjust_a_handed_off_claim(make: Callable[..., Svc]) -> None:
    """Two payments in one ingest message go the set-based way (payment_batch); the one for a
    handed-off claim must still be reported to the receiver."""
    svc = make()
    svc.publish(customer("C1"), invoice("I1", "C1", "1000.00", invoice_number="1001"))
    svc.advance_until(lambda: svc.invoice("I1")["stage"] == "handed_off")
    owed = int(svc.invoice("I1")["balance"]["total"].replace(".", ""))
    svc.publish(customer("C2", identity_number="19121212-1212"), invoice("I2", "C2", "500.00", invoice_number="2001"))
    today = svc.now().date().isoformat()
    svc.publish(payment("P1", "500.00", invoice_id="I2", paid_on=today), payment("P2", "200.00", invoice_id="I1", paid_on=today))
    assert svc.invoice("I2")["status"] == "settled"
    (adjusted,) = svc.outbound("handoff-adjusted", "I1")
    assert (adjusted["adjustment"], adjusted["remaining"]) == ("reduction", owed - 20000)


def test_credit_and_objection_after_hand_off_adjust(make: Callable[..., Svc]) -> None:
    svc = make()
    svc.publish(customer("C1"), invoice("I1", "C1", "1000.00", invoice_number="1001"),
                customer("C2", identity_number="19121212-1212"), invoice("I2", "C2", "800.00", invoice_number="2001"))
    svc.advance_until(lambda: svc.invoice("I1")["stage"] == "handed_off" and svc.invoice("I2")["stage"] == "handed_off")
    owed = int(svc.invoice("I1")["balance"]["total"].replace(".", ""))
    svc.publish(envelope("invoice-credited", {"invoice_id": "I1", "credit_id": "K1", "amount": "250.00"}))
    (credit,) = svc.outbound("handoff-adjusted", "I1")
    assert (credit["adjustment"], credit["remaining"], credit["why"]) == ("reduction", owed - 25000, "credit K1")
    # an objection to all of it withdraws the hand-off; the chain resumes from the facts later
    svc.publish(objection("O1", "I2", received_on=svc.now().date().isoformat()))
    (withdrawal,) = svc.outbound("handoff-adjusted", "I2")
    assert (withdrawal["adjustment"], withdrawal["remaining"]) == ("withdrawal", 0)
    assert svc.invoice("I2")["stage"] == "demanded"


def test_closing_outcomes_and_surveillance_after_a_title(make: Callable[..., Svc]) -> None:
    svc = make()
    svc.publish(customer("C1"), invoice("I1", "C1", "1000.00", invoice_number="1001"),
                customer("C2", identity_number="19121212-1212"), invoice("I2", "C2", "800.00", invoice_number="2001"))
    svc.advance_until(lambda: svc.invoice("I1")["stage"] == "handed_off" and svc.invoice("I2")["stage"] == "handed_off")
    h1, h2 = svc.handoff("I1")["handoff_id"], svc.handoff("I2")["handoff_id"]
    # uncollectable: written off with its reason
    svc.publish(envelope("handoff-closed", {"handoff_id": h2, "outcome": "uncollectable"}))
    inv2 = svc.invoice("I2")
    assert inv2["status"] == "written_off" and inv2["balance"]["total"] == "0.00"
    (written,) = svc.outbound("claim-written-off", "I2")
    assert "uncollectable" in written["reason"]
    # an unknown hand-off is refused, naming the field
    svc.publish(envelope("handoff-closed", {"handoff_id": "H-nope", "outcome": "paid"}, id="ev-unknown-handoff"))
    with read_session(svc.app.db) as s:
        (rejected,) = s.scalars(select(RejectedEvent).where(RejectedEvent.event_id == "ev-unknown-handoff"))
        assert rejected.reasons[0]["field"] == "data.handoff_id"
    # a title starts surveillance: a consumer claim keeps three years (NJA 2022 s. 150)
    svc.publish(envelope("enforcement-title-obtained", {"handoff_id": h1, "title_reference": "BFÖ-2026-1",
                                                        "obtained_on": "2026-05-04"}))
    watch = svc.invoice("I1")["surveillance"]
    assert watch["rule"] == "consumer" and watch["limitation_date"] == "2029-05-04"
    assert watch["last_interruption"] == "title" and watch["demand_on"] == "2028-11-04"
    # a payment interrupts again
    svc.advance_to(datetime(2026, 9, 1, 8, 0, tzinfo=STOCKHOLM))
    svc.publish(payment("P1", "100.00", invoice_id="I1", paid_on="2026-09-01"))
    watch = svc.invoice("I1")["surveillance"]
    assert (watch["limitation_date"], watch["last_interruption"]) == ("2029-09-01", "payment")
    with read_session(svc.app.db) as s:
        (row,) = surveillance_service.listing(s, svc.app, date(2029, 2, 10))
    assert row["state"] == "due" and row["invoice_id"] == "I1"
    table = CliRunner().invoke(cli, ["surveillance", "list"])
    assert table.exit_code == 0 and "I1" in table.output and "2029-09-01" in table.output, table.output
    listed = json.loads(CliRunner().invoke(cli, ["surveillance", "list", "--json"]).output)
    assert [(r["invoice_id"], r["state"], r["limitation_date"]) for r in listed] == [("I1", "watching", "2029-09-01")]
    # When the lead time before the limitation date comes, an interrupting demand goes out
    svc.advance_to(datetime(2029, 3, 2, 8, 0, tzinfo=STOCKHOLM))
    inv = svc.invoice("I1")
    demand = [x for x in inv["letters"] if x["kind"] == "limitation_demand"]
    assert [x["status"] for x in demand] == ["sent"] and demand[0]["sent_on"] == "2029-03-01"
    (interrupted,) = svc.outbound("limitation-interrupted", "I1")
    assert interrupted["previous_limitation_date"] == "2029-09-01" and interrupted["limitation_date"] == "2032-03-01"
    assert inv["surveillance"]["limitation_date"] == "2032-03-01"
    assert "Krav på betalning" in Path(demand[0]["path"]).read_text(encoding="utf-8")
    with read_session(svc.app.db) as s:
        states = {r["invoice_id"]: r["state"] for r in surveillance_service.listing(s, svc.app, date(2032, 3, 1))}
    assert states == {"I1": "expired"}


@pytest.mark.parametrize("action", ["surveillance", "write_off"])
def test_claims_below_the_minimum_are_kept_or_written_off(make: Callable[..., Svc], action: str) -> None:
    svc = make(**{'min_amount = "0.00"': 'min_amount = "500.00"',
                  'small_claims = "surveillance"': f'small_claims = "{action}"'})
    svc.publish(customer("C1"), invoice("S1", "C1", "200.00", invoice_number="1001"))
    svc.advance(120)
    inv = svc.invoice("S1")
    assert svc.files() == [] and "collection-handed-off" not in svc.types("S1")
    if action == "surveillance":
        assert inv["status"] == "open" and inv["stage"] == "surveillance"
        watch = inv["surveillance"]
        assert watch["rule"] == "consumer" and watch["status"] == "watching"
        # the collection demand the customer got is the last interruption (5 § 2 p.)
        (demand,) = [x for x in inv["letters"] if x["kind"] == "collection_demand"]
        assert (watch["last_interruption"], watch["last_interruption_on"]) == ("demand", demand["sent_on"])
        sent = date.fromisoformat(demand["sent_on"])
        assert watch["limitation_date"] == sent.replace(year=sent.year + 3).isoformat()
        # a signed payment plan is an acknowledgement (5 § 1 p.): a new period from the signing
        svc.publish(envelope("payment-plan-proposed", {
            "plan_id": "AP-1", "customer_id": "C1", "creditor_id": "kommun", "invoice_ids": ["S1"],
            "installments": [{"due_date": "2026-06-30", "amount": inv["balance"]["total"]}]}))
        svc.publish(envelope("payment-plan-signed", {"plan_id": "AP-1", "signed_on": "2026-05-20"}))
        watch = svc.invoice("S1")["surveillance"]
        assert (watch["last_interruption"], watch["limitation_date"]) == ("acknowledgement", "2029-05-20")
    else:
        assert inv["status"] == "written_off"
        (written,) = svc.outbound("claim-written-off", "S1")
        assert "below the hand-off minimum" in written["reason"]
    with read_session(svc.app.db) as s:
        assert s.scalar(select(Handoff.id)) is None
