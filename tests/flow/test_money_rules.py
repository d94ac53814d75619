"""Money rules through the whole service: write-off of a small residual, late-payment
compensation between businesses, the configured allocation order, reversals."""

from __future__ import annotations

from pathlib import Path

import pytest

from likvid.policy import default_policy_text
from tests.support.pipeline import customer, envelope, invoice, payment, running_pipeline


def _policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *replacements: tuple[str, str]) -> None:
    text = default_policy_text()
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("LIKVID_POLICY", str(path))


KOMMUN = 'ocr_prefix = "1"'


@pytest.fixture
def pipe_factory(sqlite_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def make(*replacements: tuple[str, str]):  # type: ignore[no-untyped-def]
        _policy(tmp_path, monkeypatch, *replacements)
        return running_pipeline(sqlite_url, redis_url, tmp_path / "home")
    return make


def test_a_small_residual_is_written_off_when_the_creditor_enables_it(pipe_factory) -> None:  # type: ignore[no-untyped-def]
    with pipe_factory((KOMMUN, KOMMUN + '\nwrite_off_below = "10.00"')) as pipe:
        pipe.publish(customer("C1"), invoice("I1", "C1", "500.00"), payment("P1", "495.00", invoice_id="I1"))
        inv = pipe.invoice("I1")
        assert inv["status"] == "written_off" and inv["balance"]["total"] == "0.00"
        assert "claim-written-off" in pipe.timeline_types("I1") and inv["pending_steps"] == []
        # a larger residual stays open
        pipe.publish(invoice("I2", "C1", "500.00", invoice_number="777"), payment("P2", "450.00", invoice_id="I2"))
        assert pipe.invoice("I2")["status"] == "open"


def test_late_payment_compensation_replaces_the_fees_for_a_business(pipe_factory) -> None:  # type: ignore[no-untyped-def]
    with pipe_factory((KOMMUN, KOMMUN + "\nlate_payment_compensation = true")) as pipe:
        pipe.publish(customer("F1", party_type="organisation", identity_number="556036-0793", name="Företaget AB"),
                     invoice("I1", "F1", "2000.00", due="2026-01-30", reminder_fee_agreed=True),
                     customer("P1", identity_number="800101-0019"),
                     invoice("I2", "P1", "2000.00", due="2026-01-30", reminder_fee_agreed=True, invoice_number="555"))
        pipe.advance("60d")
        business, person = pipe.invoice("I1"), pipe.invoice("I2")
        assert business["balance"]["fees"] == "450.00"  # instead of 60 + 180
        assert person["balance"]["fees"] == "240.00"  # a consumer: the ordinary fees
        demand = next(x for x in business["letters"] if x["kind"] == "reminder")
        assert "förseningsersättning på 450,00 kr" in Path(demand["path"]).read_text(encoding="utf-8").replace("\n", " ")


def test_allocation_order_is_configuration(pipe_factory) -> None:  # type: ignore[no-untyped-def]
    with pipe_factory(("# Channel order per letter kind", 'allocation_order = ["capital", "interest", "fee"]\n# Channel order per letter kind')) as pipe:
        pipe.publish(customer("C1"), invoice("I1", "C1", "1000.00", due="2026-01-30"))
        pipe.advance("55d")  # demanded: 180 kr fee and interest
        pipe.publish(payment("P1", "1000.00", invoice_id="I1", paid_on="2026-03-26"))
        bal = pipe.invoice("I1")["balance"]
        assert bal["capital"] == "0.00" and bal["fees"] == "180.00"


def test_a_reversed_payment_reopens_the_claim_and_the_chain_resumes(pipe_factory) -> None:  # type: ignore[no-untyped-def]
    with pipe_factory() as pipe:
        pipe.publish(customer("C1"), invoice("I1", "C1", "300.00", due="2026-01-30"),
                     payment("P1", "300.00", invoice_id="I1"))
        assert pipe.invoice("I1")["status"] == "settled"
        pipe.publish(envelope("payment-reversed", {"payment_id": "P1", "reason": "täckning saknades"}))
        inv = pipe.invoice("I1")
        assert inv["status"] == "open" and inv["balance"]["total"] == "300.00"
        pipe.advance("40d")
        assert "reminder-sent" in pipe.timeline_types("I1")


def test_demand_interest_and_fees_match_the_rules_to_the_ore(pipe_factory) -> None:  # type: ignore[no-untyped-def]
    """Räntelagen 3 § and 6 § (SWEDISH-RULES.md §2): from the day after the due date, reference
    rate 2.00 % (2026-01-01, from the shipped table) + 8, actual/365; the collection fee 180 kr
    (§1); the letter's breakdown adds up."""
    from datetime import date

    with pipe_factory() as pipe:
        pipe.publish(customer("C1"), invoice("I1", "C1", "10000.00", due="2026-01-30"))
        pipe.advance("55d")
        inv = pipe.invoice("I1")
        sent = next(t for t in inv["timeline"] if t["type"] == "collection-demand-sent")
        sent_on = date.fromisoformat(sent["at"][:10])
        days = (sent_on - date(2026, 1, 31)).days  # 2026-01-31 .. the day before the letter
        expected = (1_000_000 * 1000 * days * 2 + 10000 * 365) // (10000 * 365 * 2)  # half-up
        assert int(inv["balance"]["interest"].replace(".", "")) == expected
        assert inv["balance"]["fees"] == "180.00"
        text = Path(next(x for x in inv["letters"] if x["kind"] == "collection_demand")["path"]).read_text(encoding="utf-8")
        flat = " ".join(text.split())
        assert "10,00 %" in flat and f"({days} dagar)" in flat.replace("(1 dag)", "")
        from likvid.rules.money import format_kronor

        total = 1_000_000 + 18000 + expected
        assert format_kronor(total) in flat and format_kronor(expected) in flat
