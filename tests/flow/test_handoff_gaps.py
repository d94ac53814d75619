"""Given / When / Then: a hand-off withdrawn by hand, a claim re-opened after its hand-off was
withdrawn routed again, and handler tasks marked done (issue 7 follow-ups; POLICY.md point 11),
on SQLite and PostgreSQL. Driven inline like tests/flow/test_handoff.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from click.testing import CliRunner

from likvid.cli.main import cli
from likvid.db import read_session
from likvid.service import show
from tests.flow import test_handoff
from tests.flow.test_handoff import Svc
from tests.support.pipeline import customer, envelope, invoice, payment

#: The keys of a handoff-adjusted message, whatever caused it (handoff.after_change's shape).
ADJUSTED_KEYS = {"invoice_id", "customer_id", "handoff_id", "target", "adjustment", "why", "previous", "remaining",
                 "reduced_by", "capital", "fees", "interest"}

make = test_handoff.make  # the fixture: a service on a fresh database at 2026-01-05


def entries(svc: Svc, invoice_id: str, type_: str) -> list[dict[str, Any]]:
    return [t for t in svc.invoice(invoice_id)["timeline"] if t["type"] == type_]


def notice_levels(svc: Svc, invoice_id: str) -> list[int]:
    return sorted(x["level"] for x in svc.invoice(invoice_id)["letters"] if x["kind"] == "handoff_notice")


def test_a_handler_withdraws_a_hand_off_and_the_claim_is_routed_again(make: Callable[..., Svc]) -> None:
    svc = make()
    svc.publish(customer("C1"), invoice("I1", "C1", "1000.00", invoice_number="1001"))
    svc.advance_until(lambda: svc.invoice("I1")["stage"] == "handed_off")
    first = svc.handoff("I1")
    owed = int(svc.invoice("I1")["balance"]["total"].replace(".", ""))
    runner = CliRunner()
    # A claim that is not handed off, or not known, is refused, naming the argument
    svc.publish(invoice("I2", "C1", "500.00", invoice_number="1002"))
    refused = runner.invoke(cli, ["handoff", "withdraw", "I2", "--reason", "fel", "--by", "handläggare A"])
    assert refused.exit_code != 0 and "INVOICE_ID I2" in refused.output and "never handed off" in refused.output
    unknown = runner.invoke(cli, ["handoff", "withdraw", "NOPE", "--reason", "fel", "--by", "handläggare A"])
    assert unknown.exit_code != 0 and "INVOICE_ID NOPE: is not a known invoice" in unknown.output
    empty = runner.invoke(cli, ["handoff", "withdraw", "I1", "--reason", " ", "--by", "handläggare A"])
    assert empty.exit_code != 0 and "--reason" in empty.output
    assert svc.handoff("I1")["status"] == "exported" and svc.outbound("handoff-adjusted", "I1") == []
    # When a handler withdraws the hand-off of I1
    done = runner.invoke(cli, ["handoff", "withdraw", "I1", "--reason", "Fel belopp i ansökan", "--by", "handläggare A"])
    assert done.exit_code == 0, done.output
    # Then the receiver is told, in the shape a payment's withdrawal has, without the free text
    (adjusted,) = svc.outbound("handoff-adjusted", "I1")
    assert set(adjusted) == ADJUSTED_KEYS
    assert (adjusted["adjustment"], adjusted["previous"], adjusted["remaining"], adjusted["reduced_by"]) == (
        "withdrawal", owed, 0, owed)
    assert adjusted["handoff_id"] == first["handoff_id"] and adjusted["target"] == "kronofogden"
    assert "Fel belopp" not in json.dumps(adjusted) and "handläggare" not in json.dumps(adjusted)
    # the timeline says who and why, the hand-off is withdrawn, the claim is back at "demanded"
    (withdrawn,) = entries(svc, "I1", "handoff-withdrawn")
    assert (withdrawn["details"]["by"], withdrawn["details"]["reason"]) == ("handläggare A", "Fel belopp i ansökan")
    inv = svc.invoice("I1")
    assert inv["handoff"]["status"] == "withdrawn" and inv["handoff"]["reported"] == "0.00"
    assert (inv["status"], inv["stage"]) == ("open", "demanded")
    # with the hand-off step re-scheduled with fresh time
    (rescheduled,) = entries(svc, "I1", "step-rescheduled")
    today = svc.now().date()
    assert rescheduled["details"]["step"] == "handoff" and rescheduled["details"]["on"] == (today + timedelta(days=14)).isoformat()
    # a second withdrawal is refused: nothing is exported any more
    again = runner.invoke(cli, ["handoff", "withdraw", "I1", "--reason", "igen", "--by", "handläggare A"])
    assert again.exit_code != 0 and "latest hand-off is withdrawn" in again.output
    # When the fresh time has passed, the claim is routed and handed off again, as a new application
    svc.advance_until(lambda: len(entries(svc, "I1", "collection-handed-off")) == 2, limit_days=30)
    second = svc.handoff("I1")
    assert second["handoff_id"] != first["handoff_id"] and second["status"] == "exported"
    assert date.fromisoformat(second["exported_at"][:10]) > today + timedelta(days=14)
    assert notice_levels(svc, "I1") == [1, 2]
    assert [a["adjustment"] for a in svc.outbound("handoff-adjusted", "I1")] == ["withdrawal"]


def test_a_withdrawal_by_hand_under_a_hold_waits_for_the_hold(make: Callable[..., Svc]) -> None:
    svc = make()
    svc.publish(customer("C1"), invoice("I1", "C1", "1000.00", invoice_number="1001"))
    svc.advance_until(lambda: svc.invoice("I1")["stage"] == "handed_off")
    added = CliRunner().invoke(cli, ["holds", "add", "--invoice", "I1", "--reason", "utredning", "--by", "handläggare A"])
    assert added.exit_code == 0, added.output
    withdrawn = CliRunner().invoke(cli, ["handoff", "withdraw", "I1", "--reason", "utredning", "--by", "handläggare A"])
    assert withdrawn.exit_code == 0, withdrawn.output
    svc.advance(60)
    # Then no new hand-off while the hold applies
    assert len(entries(svc, "I1", "collection-handed-off")) == 1 and svc.invoice("I1")["stage"] == "demanded"
    assert svc.handoff("I1")["status"] == "withdrawn"
    # When the hold is lifted, the chain resumes from the facts: handed off again after fresh time
    ref = added.output.split()[1]
    lifted = CliRunner().invoke(cli, ["holds", "lift", ref])
    assert lifted.exit_code == 0, lifted.output
    svc.advance(13)
    assert len(entries(svc, "I1", "collection-handed-off")) == 1
    svc.advance_until(lambda: len(entries(svc, "I1", "collection-handed-off")) == 2, limit_days=10)
    assert svc.handoff("I1")["status"] == "exported" and notice_levels(svc, "I1") == [1, 2]


def test_a_reversed_payment_after_a_withdrawal_routes_the_claim_again(make: Callable[..., Svc]) -> None:
    svc = make()
    svc.publish(customer("C1"), invoice("I1", "C1", "1000.00", invoice_number="1001"))
    svc.advance_until(lambda: svc.invoice("I1")["stage"] == "handed_off")
    first = svc.handoff("I1")
    # Given the claim is paid in full after the hand-off: the receiver is told of the withdrawal
    svc.publish(payment("P1", svc.invoice("I1")["balance"]["total"], invoice_id="I1",
                        paid_on=svc.now().date().isoformat()))
    assert svc.invoice("I1")["status"] == "settled" and svc.handoff("I1")["status"] == "withdrawn"
    # When the payment is reversed
    svc.advance(3)
    reversed_on = svc.now().date()
    svc.publish(envelope("payment-reversed", {"payment_id": "P1", "reason": "återkallad"}))
    # Then the claim is open again, back at "demanded", with its hand-off step scheduled with fresh time
    inv = svc.invoice("I1")
    assert (inv["status"], inv["stage"]) == ("open", "demanded")
    assert len(entries(svc, "I1", "handoff-routing-resumed")) == 1
    (rescheduled,) = entries(svc, "I1", "step-rescheduled")
    assert rescheduled["details"] == {"step": "handoff", "on": (reversed_on + timedelta(days=14)).isoformat()}
    # and is not handed off again before it
    svc.advance(13)
    assert len(entries(svc, "I1", "collection-handed-off")) == 1
    # When the fresh time has passed, it is handed off again as a new application with a new notice
    svc.advance_until(lambda: len(entries(svc, "I1", "collection-handed-off")) == 2, limit_days=10)
    second = svc.handoff("I1")
    assert second["handoff_id"] != first["handoff_id"] and second["status"] == "exported"
    assert notice_levels(svc, "I1") == [1, 2]
    # the receiver heard of exactly one withdrawal between the two applications
    types = [t for t in svc.types("I1") if t in ("collection-handed-off", "handoff-adjusted")]
    assert types == ["collection-handed-off", "handoff-adjusted", "collection-handed-off"]
    assert len([f for f, _ in svc.files()]) == 2


def test_a_reversed_payment_on_a_claim_still_handed_off_is_left_with_its_receiver(make: Callable[..., Svc]) -> None:
    svc = make()
    svc.publish(customer("C1"), invoice("I1", "C1", "1000.00", invoice_number="1001"))
    svc.advance_until(lambda: svc.invoice("I1")["stage"] == "handed_off")
    svc.publish(payment("P1", "100.00", invoice_id="I1", paid_on=svc.now().date().isoformat()))
    svc.publish(envelope("payment-reversed", {"payment_id": "P1"}))
    inv = svc.invoice("I1")
    assert (inv["status"], inv["stage"], inv["handoff"]["status"]) == ("open", "handed_off", "exported")
    assert entries(svc, "I1", "handoff-routing-resumed") == []


def test_a_reversed_payment_after_a_reported_reduction_gives_a_handler_task(make: Callable[..., Svc]) -> None:
    svc = make()
    runner = CliRunner()
    svc.publish(customer("C1"), invoice("I1", "C1", "1000.00", invoice_number="1001"))
    svc.advance_until(lambda: svc.invoice("I1")["stage"] == "handed_off")
    today = svc.now().date().isoformat()
    svc.publish(customer("C2", identity_number="19121212-1212"),
                invoice("I2", "C2", "500.00", (svc.now().date() + timedelta(days=30)).isoformat(),
                        invoice_number="1002", issue_date=today))
    # Given a payment after the hand-off, reported to the receiver as a reduction
    svc.publish(payment("P1", "100.00", invoice_id="I1", paid_on=today))
    (reduction,) = svc.outbound("handoff-adjusted", "I1")
    assert reduction["adjustment"] == "reduction" and reduction["reduced_by"] == 10000
    # and a payment on a claim that was never handed off
    svc.publish(payment("P2", "100.00", invoice_id="I2", paid_on=today))
    assert svc.invoice("I2")["stage"] != "handed_off"
    assert runner.invoke(cli, ["tasks", "list"]).output.strip() == "no tasks"
    # When both payments are reversed
    svc.publish(envelope("payment-reversed", {"payment_id": "P1"}), envelope("payment-reversed", {"payment_id": "P2"}))
    # Then the receiver of I1 still collects what it was told, and nothing goes to it on its own
    assert len(svc.outbound("handoff-adjusted", "I1")) == 1
    assert (svc.invoice("I1")["status"], svc.handoff("I1")["status"]) == ("open", "exported")
    # but the timeline names the 100 kr nobody is collecting, and a handler gets one task for it
    (entry,) = entries(svc, "I1", "handoff-reinstatement-needed")
    assert {k: entry["details"][k] for k in ("payment_id", "amount", "reported", "handoff_id")} == {
        "payment_id": "P1", "amount": 10000, "reported": reduction["remaining"],
        "handoff_id": reduction["handoff_id"]}
    listed = json.loads(runner.invoke(cli, ["tasks", "list", "--open", "--json"]).output)
    assert [(t["customer_id"], t["kind"]) for t in listed] == [("C1", "handoff_reinstatement")]
    text = listed[0]["text"]
    assert "P1" in text and "I1" in text and "100,00 kr" in text and reduction["handoff_id"] in text
    assert entries(svc, "I2", "handoff-reinstatement-needed") == []


def customer_timeline(svc: Svc, customer_id: str) -> list[dict[str, Any]]:
    with read_session(svc.app.db) as s:
        data = show.customer(s, customer_id)
    assert data is not None
    return data["timeline"]


def test_handler_tasks_are_listed_and_marked_done(make: Callable[..., Svc]) -> None:
    svc = make()
    runner = CliRunner()
    assert runner.invoke(cli, ["tasks", "list"]).output.strip() == "no tasks"
    # Given a customer in bankruptcy and another deceased: one task each
    svc.publish(customer("C1"), customer("C2", identity_number="19121212-1212"),
                envelope("debtor-status-changed", {"customer_id": "C1", "status": "bankruptcy", "effective_on": "2026-01-10"}),
                envelope("debtor-status-changed", {"customer_id": "C2", "status": "deceased", "effective_on": "2026-01-02"}))
    listed = json.loads(runner.invoke(cli, ["tasks", "list", "--open", "--json"]).output)
    assert [(t["customer_id"], t["kind"], t["due_on"], t["done_at"]) for t in listed] == [
        ("C2", "deceased", "2026-02-01", None), ("C1", "bankruptcy", "2026-02-09", None)]
    assert "bevakning" in listed[1]["text"] and not any(t["overdue"] for t in listed)
    estate, bankruptcy = listed[0]["task_id"], listed[1]["task_id"]
    svc.advance(30)  # 2026-02-04: the estate's task is overdue
    table = runner.invoke(cli, ["tasks", "list"])
    assert table.exit_code == 0 and "OVERDUE" in table.output and "C1" in table.output, table.output
    # When a handler marks the bankruptcy task done
    done = runner.invoke(cli, ["tasks", "done", str(bankruptcy), "--by", "handläggare B", "--note", "Bevakad hos förvaltaren"])
    assert done.exit_code == 0, done.output
    # Then it is no longer open, and the customer's timeline says who did it and the note
    assert [t["task_id"] for t in json.loads(runner.invoke(cli, ["tasks", "list", "--open", "--json"]).output)] == [estate]
    everything = json.loads(runner.invoke(cli, ["tasks", "list", "--json"]).output)
    assert [(t["task_id"], t["done_at"] is not None) for t in everything] == [(estate, False), (bankruptcy, True)]
    assert everything[1]["done_at"][:10] == svc.now().date().isoformat() and not everything[1]["overdue"]
    (entry,) = [t for t in customer_timeline(svc, "C1") if t["type"] == "task-done"]
    assert entry["details"] == {"task_id": bankruptcy, "kind": "bankruptcy", "by": "handläggare B",
                                "note": "Bevakad hos förvaltaren", "due_on": "2026-02-09"}
    assert [t for t in customer_timeline(svc, "C2") if t["type"] == "task-done"] == []
    # A task done twice, an unknown task, or no one named, is refused and changes nothing
    twice = runner.invoke(cli, ["tasks", "done", str(bankruptcy), "--by", "handläggare C"])
    assert twice.exit_code != 0 and f"TASK_ID {bankruptcy}: is already done" in twice.output
    unknown = runner.invoke(cli, ["tasks", "done", "999999", "--by", "handläggare C"])
    assert unknown.exit_code != 0 and "TASK_ID 999999: is not a known task" in unknown.output
    nobody = runner.invoke(cli, ["tasks", "done", str(estate), "--by", " "])
    assert nobody.exit_code != 0 and "--by" in nobody.output
    assert len([t for t in customer_timeline(svc, "C1") if t["type"] == "task-done"]) == 1
    assert [t["task_id"] for t in json.loads(runner.invoke(cli, ["tasks", "list", "--open", "--json"]).output)] == [estate]
