"""Write valid BgMax files, for tests and benchmarks.

Basis: SWEDISH-RULES.md §7.2. The output is exactly the layout :mod:`likvid.bgmax` reads:
ISO 8859-1, CRLF, every record 80 columns; TK01, then per section TK05, TK20/TK21 each
followed by its TK22/23, TK25 and TK26 records, TK15, and finally TK70.

Streaming: sections and their payments may be generators. Nothing is buffered, because the
records that need totals come last: the TK15 deposit record closes its section, so its amount
(sum of TK20 - sum of TK21) and count (TK20 + TK21 records) are summed while the payments are
written; likewise the TK70 counts. A 100,000-payment file is written in constant memory.

The file is written to a temporary sibling and renamed into place, so a spec that turns out
invalid halfway (ValueError naming the section and payment) leaves no partial file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import date, datetime
from typing import BinaryIO

from likvid.bgmax import ENCODING, LINE_WIDTH, STOCKHOLM, Counts

__all__ = ["PaymentSpec", "SectionSpec", "write_bgmax"]

_CRLF = b"\r\n"


@dataclass(frozen=True, slots=True)
class PaymentSpec:
    """One TK20 payment (or TK21 deduction with ``deduction=True``) to write.

    `reference` is right-aligned for referenskod 2 (OCR), left-aligned otherwise.
    `extra_references` become TK22 (TK23 when negative): (reference, code, amount_ore, negative).
    `information` lines become TK25 records (50 characters each), `payer_name` a TK26.
    """

    reference: str | None
    amount_ore: int
    _: KW_ONLY
    reference_code: int = 2
    sender_bankgiro: str = "0"
    bgc_serial: int
    payer_name: str | None = None
    deduction: bool = False
    information: Sequence[str] = ()
    extra_references: Sequence[tuple[str | None, int, int, bool]] = ()
    channel_code: int = 1
    image_mark: int = 0
    deduction_code: int = 0


@dataclass(frozen=True, slots=True)
class SectionSpec:
    """One deposit section: TK05, its payments, and the TK15 computed from them."""

    recipient_bankgiro: str
    payment_date: date
    deposit_serial: int
    payments: Iterable[PaymentSpec]
    _: KW_ONLY
    bank_account: str = ""
    currency: str = "SEK"
    deposit_type: str = ""


def _text(value: str, width: int, what: str, *, right: bool = False) -> str:
    if len(value) > width:
        raise ValueError(f"{what} is {len(value)} characters long; at most {width} fit")
    try:
        value.encode(ENCODING)
    except UnicodeEncodeError:
        raise ValueError(f"{what} {value!r} is not ISO 8859-1") from None
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise ValueError(f"{what} {value!r} contains a control character")
    return value.rjust(width) if right else value.ljust(width)


def _num(value: int, width: int, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an int, not {type(value).__name__}")
    if not 0 <= value < 10**width:
        raise ValueError(f"{what} {value} does not fit in {width} digits")
    return f"{value:0{width}d}"


def _giro(value: str, what: str) -> str:
    digits = value.replace("-", "")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 10:
        raise ValueError(f"{what} {value!r} must be at most 10 digits")
    return digits.zfill(10)


def _record(*fields: str) -> bytes:
    line = "".join(fields)
    if len(line) > LINE_WIDTH:  # a programming error, not a spec error
        raise AssertionError(f"record of {len(line)} columns: {line!r}")
    return line.ljust(LINE_WIDTH).encode(ENCODING) + _CRLF


def _timestamp(written_at: datetime) -> str:
    if written_at.tzinfo is not None:
        written_at = written_at.astimezone(STOCKHOLM)
    return f"{written_at:%Y%m%d%H%M%S}{written_at.microsecond:06d}"


def _transaction(tk: str, p: PaymentSpec, reference: str | None, code: int, amount: int) -> bytes:
    # TK20/21/22/23 share columns 3-70 (SWEDISH-RULES.md §7.2); TK21 adds column 71.
    return _record(
        tk,
        _giro(p.sender_bankgiro, "sender bankgiro"),
        _text(reference or "", 25, "reference", right=code == 2),
        _num(amount, 18, "amount"),
        _num(code, 1, "reference code"),
        _num(p.channel_code, 1, "channel code"),
        _num(p.bgc_serial, 12, "BGC serial"),
        _num(p.image_mark, 1, "image mark"),
        _num(p.deduction_code, 1, "deduction code") if tk == "21" else "",
    )


def _write_payment(out: BinaryIO, p: PaymentSpec) -> None:
    out.write(
        _transaction("21" if p.deduction else "20", p, p.reference, p.reference_code, p.amount_ore)
    )
    for reference, code, amount, negative in p.extra_references:
        out.write(_transaction("23" if negative else "22", p, reference, code, amount))
    for text in p.information:
        out.write(_record("25", _text(text, 50, "information text")))
    if p.payer_name is not None:
        out.write(_record("26", _text(p.payer_name, 35, "payer name")))


def _write_section(out: BinaryIO, section: SectionSpec, counts: list[int]) -> int:
    """Write one section; return its deposit amount. `counts` is [TK20, TK21, TK22/23]."""
    out.write(
        _record(
            "05",
            _giro(section.recipient_bankgiro, "recipient bankgiro"),
            " " * 10,
            _text(section.currency, 3, "currency"),
        )
    )
    paid = deducted = n_paid = n_deducted = 0
    for number, payment in enumerate(section.payments, start=1):
        try:
            _write_payment(out, payment)
        except ValueError as exc:
            raise ValueError(f"payment {number}: {exc}") from None
        if payment.deduction:
            n_deducted += 1
            deducted += payment.amount_ore
        else:
            n_paid += 1
            paid += payment.amount_ore
        counts[2] += len(payment.extra_references)
    if paid - deducted < 0:
        raise ValueError(
            f"deductions ({deducted} öre) exceed payments ({paid} öre): a deposit cannot be negative"
        )
    out.write(
        _record(
            "15",
            _text(section.bank_account.zfill(35), 35, "bank account"),
            section.payment_date.strftime("%Y%m%d"),
            _num(section.deposit_serial, 5, "deposit serial"),
            _num(paid - deducted, 18, "deposit amount"),
            _text(section.currency, 3, "currency"),
            _num(n_paid + n_deducted, 8, "number of payments"),
            _text(section.deposit_type, 1, "deposit type"),
        )
    )
    counts[0] += n_paid
    counts[1] += n_deducted
    return paid - deducted


def write_bgmax(
    path: str | os.PathLike[str],
    sections: Iterable[SectionSpec],
    *,
    test_mark: str = "P",
    written_at: datetime,
) -> Counts:
    """Write a BgMax file (SWEDISH-RULES.md §7.2) and return the counts its TK70 states.

    `written_at` is the TK01 timestamp (an aware datetime is converted to Stockholm time;
    a naive one is taken as Stockholm time). Raises ValueError for a spec that does not fit
    the layout; then no file is left behind.
    """
    if test_mark not in ("T", "P"):
        raise ValueError(f"test_mark must be 'T' or 'P', not {test_mark!r}")
    target = os.fspath(path)
    temporary = f"{target}.partial"
    counts = [0, 0, 0]  # TK20, TK21, TK22/23
    deposits = 0
    try:
        with open(temporary, "wb") as out:
            out.write(_record("01", "BGMAX".ljust(20), "01", _timestamp(written_at), test_mark))
            for number, section in enumerate(sections, start=1):
                try:
                    _write_section(out, section, counts)
                except ValueError as exc:
                    raise ValueError(f"section {number}: {exc}") from None
                deposits += 1
            result = Counts(counts[0], counts[1], counts[2], deposits)
            out.write(
                _record(
                    "70",
                    _num(result.payments, 8, "number of payment records"),
                    _num(result.deductions, 8, "number of deduction records"),
                    _num(result.extra_references, 8, "number of extra reference records"),
                    _num(result.deposits, 8, "number of deposit records"),
                )
            )
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return result
