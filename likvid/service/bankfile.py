"""`likvid import bgmax`: Bankgirot's BgMax file of incoming payments into the ledger
(SWEDISH-RULES.md §7.2).

The file is verified in a first streaming pass (sections reconcile, end counts match, no test
file unless allowed); a file that does not is refused whole, naming the line and the reason.
The second pass builds the payments, each section's only once its bytes are found to be those
the first pass verified (``bgmax.payments(path, verified)``): a file changed in between is
refused from the changed section on.
Then each payment with a correct OCR reference (reference code 2) becomes a
`payment-received` event whose id is the payment's stable id, so importing the same file
twice adds nothing; everything else (free-text references, no reference, deductions) goes to
the unmatched list with what the bank said about the payer, for staff to match by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from likvid.bgmax import BgMaxError, Payment, Summary, payments, verify
from likvid.clock import to_db
from likvid.db import transaction
from likvid.models import Payment as PaymentRow
from likvid.rules.money import MAX_AMOUNT_ORE, kronor_str
from likvid.service.app import App
from likvid.service.publish import publish_lines
from likvid.service.records import record

#: Events published per database transaction, and per ingest message: one message is one
#: set-based run of payments (payment_batch.receive_batch).
CHUNK = 1000


@dataclass
class ImportSummary:
    payments: int = 0
    matched: int = 0
    duplicates: int = 0
    unmatched: int = 0
    rejected: int = 0
    per_section: list[dict[str, Any]] = field(default_factory=list)
    accepted_ids: list[str] = field(default_factory=list)


def _digits(bankgiro: str) -> str:
    return bankgiro.replace("-", "").lstrip("0")


def import_bgmax(app: App, path: Path, *, allow_test: bool = False,
                 progress: Callable[[int], None] | None = None, verified: Summary | None = None) -> ImportSummary:
    """``verified``: ``verify(path)``'s summary when the caller has it already
    (``bgmax.verify_ahead``); the payments are read against its digests all the same."""
    summary = verified if verified is not None else verify(path)  # raises BgMaxError naming the line and the reason
    if summary.test_mark == "T" and not allow_test:
        raise BgMaxError(1, "is a test file (test mark T): refused unless --allow-test")
    ours = {_digits(c.bankgiro) for c in app.policy.creditors.values()}
    for n, section in enumerate(summary.sections, start=1):
        if _digits(section.recipient_bankgiro) not in ours:
            raise BgMaxError(None, f"section {n}: bankgiro {section.recipient_bankgiro} is not a configured creditor's")
    result = ImportSummary(per_section=[
        {"section": n, "bankgiro": s.recipient_bankgiro, "payment_date": s.payment_date.isoformat(),
         "amount": kronor_str(s.deposit_amount_ore)} for n, s in enumerate(summary.sections, start=1)])
    batch: list[dict[str, Any]] = []
    known: set[str] = set()  # ids of events in `batch` that are valid as built
    unmatched: list[Payment] = []
    occurred_at = summary.written_at.isoformat()
    for p in payments(path, verified=summary):  # (each section's bytes: those verified)
        result.payments += 1
        if p.kind == "payment" and p.ocr_matchable:
            event = _event(p, occurred_at)
            batch.append(event)
            if valid_as_built(p):
                known.add(event["id"])
        else:
            unmatched.append(p)
        if len(batch) >= CHUNK or len(unmatched) >= CHUNK:
            _flush(app, batch, known, unmatched, result)
        if progress:
            progress(1)
    _flush(app, batch, known, unmatched, result)
    return result


def valid_as_built(p: Payment) -> bool:
    """Whether the `payment-received` that `_event` builds for ``p``, an OCR-matchable TK20 of
    a verified file, meets the event contract without being validated again. The file's checks
    already guarantee the rest: an id of digits and colons, an ISO date, a reference that
    passed the OCR check, a payer's name of at most 35 printable characters, stripped, and no
    lone surrogate (ISO 8859-1 text has none). Only the amount can break the contract: 0, or
    more than the largest amount accepted (an 18-digit field). The import validates the other
    events as `likvid publish` does. tests/unit/test_bankfile_events.py shows, over generated
    files, that this is True exactly when the event models accept the event."""
    return 0 < p.amount_ore <= MAX_AMOUNT_ORE


def _event(p: Payment, occurred_at: str) -> dict[str, Any]:
    payment_id = p.payment_id  # a property that formats: once
    data: dict[str, Any] = {"payment_id": payment_id, "amount": kronor_str(p.amount_ore),
                            "paid_on": p.payment_date.isoformat(), "reference": p.reference, "channel": "bankgiro"}
    name = (p.payer_name or "")[:200]
    if name:
        data["payer"] = {"name": name}
    return {"id": payment_id, "type": "payment-received", "version": 1, "occurred_at": occurred_at,
            "source": "bgmax-import", "data": data}


def _flush(app: App, batch: list[dict[str, Any]], known: set[str], unmatched: list[Payment],
           result: ImportSummary) -> None:
    if batch:
        # (_event: JSON types only.) The workers validate every event again, as every message.
        results, accepted = publish_lines(app, batch, batch=CHUNK, json_types=True, known_valid=known)
        known.clear()
        result.accepted_ids += accepted
        for r in results:
            key = {"accepted": "matched", "duplicate": "duplicates"}.get(r["status"], "rejected")
            setattr(result, key, getattr(result, key) + 1)
        batch.clear()
    if unmatched:
        with transaction(app.db) as s:
            now = app.clock.now(s)
            for p in unmatched:
                if s.get(PaymentRow, p.payment_id) is not None:
                    result.duplicates += 1
                    continue
                s.add(PaymentRow(payment_id=p.payment_id, amount_ore=p.signed_amount_ore, paid_on=p.payment_date,
                                 reference=(p.reference or "")[:25] or None, invoice_id=None, channel="bankgiro",
                                 status="unmatched", event_id="bgmax-import", received_at=to_db(now),
                                 payer={"name": p.payer_name, "reference_code": p.reference_code, "kind": p.kind,
                                        "information": list(p.information),
                                        "extra_references": [r.reference for r in p.extra_references if r.reference],
                                        "sender_bankgiro": p.sender_bankgiro}))
                record(s, now, "payment-unmatched", payment_id=p.payment_id, amount=p.signed_amount_ore,
                       paid_on=p.payment_date, reason=_why(p))
                result.unmatched += 1
        unmatched.clear()


def _why(p: Payment) -> str:
    if p.kind == "deduction":
        return "a deduction (TK21)"
    if p.reference_code == 2:
        return "the OCR reference does not pass the check"
    return f"reference code {p.reference_code}: no OCR reference to match by"
