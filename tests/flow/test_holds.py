"""Given / When / Then for every kind of hold (POLICY.md points 6, 7, 9; SWEDISH-RULES.md §10):
no reminder, demand, fee or hand-off acts on a held amount, and lifting the hold resumes the
chain with fresh time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from likvid.db import read_session, transaction
from likvid.models import RejectedEvent
from likvid.service import holds as holds_service
from tests.support.pipeline import (
    Pipeline,
    customer,
    envelope,
    invoice,
    objection,
    payment,
    running_pipeline,
)

PRESSING = ("reminder-sent", "collection-demand-sent", "collection-handed-off")


@pytest.fixture
def pipe(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[Pipeline]:
    with running_pipeline(database_url, redis_url, tmp_path / "home") as p:
        yield p


def pressed(pipe: Pipeline, invoice_id: str) -> list[tuple[str, str]]:
    return [(t["at"][:10], t["type"]) for t in pipe.invoice(invoice_id)["timeline"] if t["type"] in PRESSING]


def test_deferral_holds_until_its_date_then_a_reminder_gives_fresh_time(pipe: Pipeline) -> None:
    # Given an invoice due 2026-01-30 and a deferral until 2026-03-15, granted before the reminder
    pipe.publish(customer("C1"), invoice("I1", "C1", "900.00", due="2026-01-30"))
    pipe.advance("30d")  # 2026-02-04
    pipe.publish(envelope("deferral-granted", {"deferral_id": "D1", "invoice_id": "I1", "until": "2026-03-15",
                                                "reason": "Väntar på lön", "granted_by": "handläggare A"}))
    # When time passes the reminder and demand dates
    pipe.advance("39d")  # 2026-03-15
    # Then nothing pressed for the money, no fee, and the deferral was confirmed in writing
    assert pressed(pipe, "I1") == []
    inv = pipe.invoice("I1")
    assert inv["balance"]["fees"] == "0.00"
    assert "deferral-confirmed" in pipe.timeline_types("I1")
    assert inv["holds"][0]["kind"] == "deferral"
    # When the deferral ends, a reminder (not a demand) goes out with fresh time
    pipe.advance("20d")
    steps = pressed(pipe, "I1")
    assert steps and steps[0][1] == "reminder-sent" and steps[0][0] >= "2026-03-16"
    assert pipe.invoice("I1")["holds"] == []


def test_a_manual_customer_hold_covers_every_invoice_and_lifting_resumes(pipe: Pipeline) -> None:
    pipe.publish(customer("C1"), invoice("I1", "C1", "100.00", due="2026-01-30"), invoice("I2", "C1", "200.00", due="2026-01-30"))
    with transaction(pipe.app.db) as s:
        holds_service.manual(s, pipe.app, pipe.app.clock.now(s), invoice_id=None, customer_id="C1",
                             reason="Ärendet utreds", by="handläggare B", until=None, ref="M-1")
    pipe.advance("80d")
    assert pressed(pipe, "I1") == [] and pressed(pipe, "I2") == []
    with transaction(pipe.app.db) as s:
        holds_service.lift(s, pipe.app, pipe.app.clock.now(s), "manual", "M-1", "utrett")
    lifted_on = pipe.customer("C1")["timeline"][-1]["at"][:10]
    pipe.advance("10d")
    for invoice_id in ("I1", "I2"):
        steps = pressed(pipe, invoice_id)
        assert steps and steps[0] == (lifted_on, "reminder-sent")


def test_debt_restructuring_freezes_existing_claims_only(pipe: Pipeline) -> None:
    pipe.publish(customer("C1"), invoice("I1", "C1", "500.00", due="2026-01-30"))
    pipe.publish(envelope("debtor-status-changed", {"customer_id": "C1", "status": "debt_restructuring_opened",
                                                    "effective_on": "2026-01-10"}))
    pipe.publish(invoice("I2", "C1", "300.00", due="2026-02-20", issue_date="2026-01-20"))
    pipe.advance("70d")
    assert pressed(pipe, "I1") == []  # existed when the restructuring opened: frozen
    assert ("reminder-sent" in [t for _, t in pressed(pipe, "I2")])  # newer: collected as usual
    assert pipe.customer("C1")["tasks"][0]["kind"] == "debt_restructuring_opened"
    # When the status is cleared, collection of the frozen claim resumes
    pipe.publish(envelope("debtor-status-changed", {"customer_id": "C1", "status": "cleared", "effective_on": "2026-03-20"}))
    pipe.advance("5d")
    assert pressed(pipe, "I1")[0][1] == "reminder-sent"


def test_deceased_customer_is_held_for_the_configured_period(pipe: Pipeline) -> None:
    pipe.publish(customer("C1"), invoice("I1", "C1", "500.00", due="2026-01-30"),
                 envelope("debtor-status-changed", {"customer_id": "C1", "status": "deceased", "effective_on": "2026-01-20"}))
    pipe.advance("100d")
    assert pressed(pipe, "I1") == []
    assert pipe.invoice("I1")["holds"][0]["kind"] == "debtor_status"


def test_review_needs_the_handler_statement_then_applies(pipe: Pipeline) -> None:
    pipe.publish(customer("C1"), invoice("I1", "C1", "700.00", due="2026-01-30"))
    pipe.advance("45d")
    pipe.publish(objection("O1", "I1", received_on="2026-03-01"))
    decide = envelope("review-decided", {"objection_id": "O1", "decided_by": "enhetschef C", "outcome": "upheld",
                                         "reasons": "Platsen var bokad hela januari."}, id="rev-1")
    # Given no handler statement: the decision is refused, whoever decides
    pipe.publish(decide)
    with read_session(pipe.app.db) as s:
        row = s.scalar(select(RejectedEvent).where(RejectedEvent.event_id == "rev-1"))
        assert row is not None and row.reasons[0]["field"] == "data.objection_id"
        assert "handler statement" in row.reasons[0]["reason"]
    assert pipe.invoice("I1")["holds"][0]["kind"] == "objection"
    # Given the statement, the same decision applies: hold lifted, reasoned letter, collection resumes
    pipe.publish(envelope("handler-statement-recorded", {"objection_id": "O1", "handler": "handläggare A",
                                                         "statement": "Fakturan avser januari."}))
    pipe.publish({**decide, "id": "rev-2"})
    types = pipe.timeline_types("I1")
    assert "review-decision-sent" in types and pipe.invoice("I1")["holds"] == []
    pipe.advance("30d")
    assert "collection-demand-sent" in pipe.timeline_types("I1")


def test_review_credited_in_full_closes_the_claim(pipe: Pipeline) -> None:
    pipe.publish(customer("C1"), invoice("I1", "C1", "700.00", due="2026-01-30"), objection("O1", "I1"),
                 envelope("handler-statement-recorded", {"objection_id": "O1", "handler": "A", "statement": "Fel belopp."}),
                 envelope("review-decided", {"objection_id": "O1", "decided_by": "C", "outcome": "credited_in_full",
                                             "reasons": "Fakturan var felaktig."}))
    inv = pipe.invoice("I1")
    assert inv["status"] == "credited" and inv["balance"]["total"] == "0.00"
    pipe.advance("90d")
    assert pressed(pipe, "I1") == []


def test_payment_plan_that_does_not_add_up_is_refused(pipe: Pipeline) -> None:
    pipe.publish(customer("C1"), invoice("I1", "C1", "900.00"))
    pipe.publish(envelope("payment-plan-proposed", {
        "plan_id": "P1", "customer_id": "C1", "creditor_id": "kommun", "invoice_ids": ["I1"],
        "installments": [{"due_date": "2026-02-28", "amount": "300.00"}, {"due_date": "2026-03-31", "amount": "300.00"}]},
        id="plan-1"))
    with read_session(pipe.app.db) as s:
        row = s.scalar(select(RejectedEvent).where(RejectedEvent.event_id == "plan-1"))
        assert row is not None and row.reasons[0]["field"] == "data.installments"


def test_signed_plan_stops_collection_and_a_missed_installment_breaks_it(pipe: Pipeline) -> None:
    pipe.publish(customer("C1"), invoice("I1", "C1", "900.00", due="2026-01-30"))
    pipe.advance("40d")  # reminded on 2026-02-09
    assert pressed(pipe, "I1")[0][1] == "reminder-sent"
    pipe.publish(envelope("payment-plan-proposed", {
        "plan_id": "P1", "customer_id": "C1", "creditor_id": "kommun", "invoice_ids": ["I1"],
        "installments": [{"due_date": "2026-03-15", "amount": "450.00"}, {"due_date": "2026-04-15", "amount": "450.00"}]}))
    assert "payment-plan-sent" in pipe.timeline_types("I1")
    pipe.publish(envelope("payment-plan-signed", {"plan_id": "P1", "signed_on": "2026-02-16"}))
    pipe.publish(payment("PAY1", "450.00", invoice_id="I1", paid_on="2026-03-10"))
    # The first installment is paid; the second (2026-04-15, checked after 7 days' grace) is missed
    pipe.advance("35d")  # 2026-03-21
    assert pipe.customer("C1")["payment_plans"][0]["status"] == "active"
    pipe.advance("65d")
    plan = pipe.customer("C1")["payment_plans"][0]
    assert plan["status"] == "broken"
    demands = [d for d, t in pressed(pipe, "I1") if t == "collection-demand-sent"]
    assert demands and min(demands) > "2026-04-15"  # nothing while the plan held
    assert pipe.invoice("I1")["holds"] == []


def test_a_partial_objection_holds_the_disputed_part_and_the_rest_is_collected(pipe: Pipeline) -> None:
    pipe.publish(customer("C1"), invoice("I1", "C1", "1000.00", due="2026-01-30"),
                 objection("O1", "I1", disputed_amount="400.00"))
    pipe.advance("40d")
    inv = pipe.invoice("I1")
    assert inv["balance"]["on_hold"] == "400.00" and inv["balance"]["collectible"] == "600.00"
    sent = next(t for t in inv["timeline"] if t["type"] == "reminder-sent")
    assert sent["details"]["amount"] == 60000  # only the undisputed part is asked for
    letter = next(x for x in inv["letters"] if x["kind"] == "reminder")
    assert "600,00 kr" in Path(letter["path"]).read_text(encoding="utf-8")
