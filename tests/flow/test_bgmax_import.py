"""`likvid import bgmax`: Bankgirot's own example file imports with every OCR-referenced payment
matched; a file that does not reconcile imports nothing; importing twice changes nothing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from likvid.cli.main import cli
from likvid.db import read_session
from likvid.models import Payment, RejectedEvent
from likvid.policy import default_policy_text
from tests.support.pipeline import Pipeline, customer, invoice, running_pipeline

EXAMPLE_NAME = "bankgirot-example-ocr-check-and-length.bgmax"
CANDIDATES = [Path(__file__).resolve().parents[3] / "shared" / "data" / "bgmax" / EXAMPLE_NAME,
              Path("/work/shared/data/bgmax") / EXAMPLE_NAME]
#: The example's OCR references and amounts (its README): matched to invoices of ours.
OCR_PAYMENTS = {"655969": "1000.00", "650861": "1100.00", "659763": "700.00", "658260": "5000.00"}


def example() -> Path:
    for path in CANDIDATES:
        if path.exists():
            return path
    pytest.skip("Bankgirot's example BgMax file is not beside the repository")


@pytest.fixture
def pipe(sqlite_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    # The example file pays bankgiro 991-2346: make it our creditor's.
    policy = tmp_path / "policy.toml"
    policy.write_text(default_policy_text().replace('bankgiro = "5050-1055"', 'bankgiro = "991-2346"'), encoding="utf-8")
    monkeypatch.setenv("LIKVID_POLICY", str(policy))
    with running_pipeline(sqlite_url, redis_url, tmp_path / "home") as p:
        from likvid.service import app as app_module

        monkeypatch.setattr(app_module, "_APP", p.app)
        yield p


def _import(path: Path, *args: str) -> tuple[int, str]:
    out = CliRunner().invoke(cli, ["import", "bgmax", str(path), "--wait", *args])
    return out.exit_code, out.output


def test_example_file_matches_every_ocr_payment_and_twice_changes_nothing(pipe: Pipeline) -> None:
    assert pipe.app.policy.creditors["kommun"].bankgiro == "991-2346"
    path = example()
    events = [customer("C1")]
    for n, (ocr, _amount) in enumerate(OCR_PAYMENTS.items()):
        events.append(invoice(f"I{n}", "C1", "10000.00", ocr_reference=ocr, invoice_number=f"88{n}"))
    pipe.publish(*events)
    code, output = _import(path)
    assert code == 0, output
    assert "matched by OCR 4" in output and "unmatched" in output
    for n, (_ocr, amount) in enumerate(OCR_PAYMENTS.items()):
        inv = pipe.invoice(f"I{n}")
        paid = 10000_00 - int(inv["balance"]["capital"].replace(".", ""))
        assert paid == int(amount.replace(".", "")), (n, inv["balance"])
    with read_session(pipe.app.db) as s:
        before = s.scalar(select(func.count()).select_from(Payment))
        unmatched = s.scalar(select(func.count()).select_from(Payment).where(Payment.status == "unmatched"))
    assert unmatched and unmatched >= 2  # the free-text payment, the one without reference, the deduction
    # When the same file is imported again, nothing changes
    code, output = _import(path)
    assert code == 0 and "matched by OCR 0" in output
    with read_session(pipe.app.db) as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == before
    assert pipe.invoice("I0")["balance"]["capital"] == "9000.00"
    # Unmatched payments are listed for staff, with the payer's text
    out = CliRunner().invoke(cli, ["payments", "unmatched", "--json"])
    listed = json.loads(out.output)
    assert any(item["payer"] and item["payer"]["name"] for item in listed)


def test_a_file_that_does_not_reconcile_imports_nothing(pipe: Pipeline, tmp_path: Path) -> None:
    path = tmp_path / "bad.bgmax"
    shutil.copy(example(), path)
    raw = path.read_bytes().split(b"\r\n")
    i = next(n for n, line in enumerate(raw) if line.startswith(b"20") and b"655969" in line)
    raw[i] = raw[i][:50] + b"9" + raw[i][51:]  # change one amount digit
    path.write_bytes(b"\r\n".join(raw))
    code, output = _import(path)
    assert code != 0
    assert "nothing imported" in output and "section 1" in output and "line" in output
    with read_session(pipe.app.db) as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 0
        assert s.scalar(select(func.count()).select_from(RejectedEvent)) == 0


def test_an_ocr_payment_the_contract_refuses_is_rejected_and_named(pipe: Pipeline, tmp_path: Path) -> None:
    # The import accepts the events it builds without validating them again only when they
    # are valid as built (bankfile.valid_as_built); an amount of 0 or past the largest
    # accepted is validated, rejected with its field named, and reported, while the file's
    # other payments go in.
    from datetime import date, datetime

    from likvid.bgmax_writer import PaymentSpec, SectionSpec, write_bgmax
    from likvid.clock import STOCKHOLM
    from likvid.rules.money import MAX_AMOUNT_ORE
    from likvid.rules.ocr import generate_ocr

    refs = [generate_ocr(f"7700{n}") for n in range(3)]
    pipe.publish(customer("C1"), *(invoice(f"J{n}", "C1", "500.00", ocr_reference=ref, invoice_number=f"77{n}")
                                   for n, ref in enumerate(refs)))
    path = tmp_path / "odd.bgmax"
    write_bgmax(path, [SectionSpec("9912346", date(2026, 1, 20), 1, [
        PaymentSpec(refs[0], 20000, bgc_serial=1, payer_name="Kund Ett"),
        PaymentSpec(refs[1], 0, bgc_serial=2),
        PaymentSpec(refs[2], MAX_AMOUNT_ORE + 1, bgc_serial=3),
    ])], written_at=datetime(2026, 1, 21, 6, 0, tzinfo=STOCKHOLM))
    code, output = _import(path)
    assert code == 1, output
    assert "payments 3: matched by OCR 1" in output and "rejected 2" in output, output
    assert pipe.invoice("J0")["balance"]["capital"] == "300.00"
    assert pipe.invoice("J1")["balance"]["capital"] == "500.00"
    with read_session(pipe.app.db) as s:
        reasons = [r.reasons for r in s.scalars(select(RejectedEvent).order_by(RejectedEvent.id))]
    assert [[e["field"] for e in r] for r in reasons] == [["data.amount"], ["data.amount"]], reasons
