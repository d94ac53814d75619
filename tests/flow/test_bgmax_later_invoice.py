"""A BgMax payment whose OCR reference belongs to no invoice yet waits, is listed for staff, and is
matched automatically when an invoice with that reference arrives (issue "money", item 4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from likvid.bgmax_writer import PaymentSpec, SectionSpec, write_bgmax
from likvid.cli.main import cli
from likvid.rules.ocr import generate_ocr
from tests.support.pipeline import Pipeline, customer, invoice, running_pipeline


@pytest.fixture
def pipe(sqlite_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    monkeypatch.delenv("LIKVID_POLICY", raising=False)
    with running_pipeline(sqlite_url, redis_url, tmp_path / "home") as p:
        from likvid.service import app as app_module

        monkeypatch.setattr(app_module, "_APP", p.app)
        yield p


def test_a_payment_before_its_invoice_is_applied_when_the_invoice_with_its_reference_arrives(
    pipe: Pipeline, tmp_path: Path
) -> None:
    kommun = pipe.app.policy.creditors["kommun"]
    early, other = generate_ocr("1770001", kommun.ocr_length_digit), generate_ocr("1770002", kommun.ocr_length_digit)
    path = tmp_path / "early.bgmax"
    write_bgmax(path, [SectionSpec(kommun.bankgiro, date(2026, 1, 20), 1, [
        PaymentSpec(early, 1000_00, bgc_serial=1, payer_name="Anna Andersson"),
        PaymentSpec(other, 250_00, bgc_serial=2),
    ])], written_at=datetime(2026, 1, 21, 6, 0))
    out = CliRunner().invoke(cli, ["import", "bgmax", str(path), "--wait"])
    assert out.exit_code == 0, out.output
    assert "matched by OCR 2" in out.output
    # Nothing to pay yet: both wait, and staff see them
    listed = json.loads(CliRunner().invoke(cli, ["payments", "unmatched", "--json"]).output)
    assert sorted(item["status"] for item in listed) == ["parked", "parked"]
    # The invoice with the first reference arrives: the payment settles it at once
    pipe.publish(customer("C1"), invoice("I1", "C1", "1000.00", ocr_reference=early),
                 invoice("I2", "C1", "600.00", ocr_reference=other, invoice_number="4711"))
    first, second = pipe.invoice("I1"), pipe.invoice("I2")
    assert first["status"] == "settled" and first["pending_steps"] == [], first
    assert second["status"] == "open" and second["balance"]["capital"] == "350.00", second
    listed = json.loads(CliRunner().invoke(cli, ["payments", "unmatched", "--json"]).output)
    assert listed == []
    # and the chain never reminds the paid invoice
    pipe.advance("60d")
    assert "reminder-sent" not in pipe.timeline_types("I1")
