"""A pure, streaming reader for Bankgirot BgMax files (Bankgiro Inbetalningar).

Basis: SWEDISH-RULES.md §7.2 (record layout with 1-based inclusive columns, code tables,
structure, reconciliation) and §7.1 (OCR references). No database, no clock.

Layers, each streaming line by line (a 100,000-payment file runs in constant memory):

* :func:`read` turns lines (bytes in ISO 8859-1, or str) into typed records. It checks the line
  (at most 80 columns after right-stripping, no control characters; shorter lines are padded)
  and the fields of each record (digits where the layout has digits, valid dates). Blank lines
  are skipped. A transaktionskod (TK) this module does not know becomes an
  :class:`UnknownRecord`: the format says readers must ignore such records.
* :func:`verify` makes one pass over a file and checks the structure
  (``01``, then sections ``05`` ... ``15``, then ``70``), reconciles every section and the
  end record, and returns a :class:`Summary`, or raises :class:`BgMaxError` with the line.
* :func:`payments` makes a second pass and yields one :class:`Payment` per TK20/TK21, with its
  TK22/23/25/26/27/28/29 records folded in. Run it after :func:`verify` succeeded: it repeats
  every check, and yields a section's payments only after that section's TK15 reconciled, but
  the TK70 end record is only checked after the last payment was yielded.

Reconciliation (SWEDISH-RULES.md §7.2, "Reconciliation checks"):

* per section, sum(TK20 amounts) - sum(TK21 amounts) == the TK15 insättningsbelopp;
* the TK15 "antal betalningar" counts the TK20 *and* TK21 records of its section. Checked
  against Bankgirot's example file: its first deposit says 3 (two TK20 and one TK21, 1,900.00 =
  2,400.00 - 500.00), its second 4 (four TK20, 8,000.00). TK22/23 records are not counted;
* the TK70 counts equal the TK20, TK21, TK22+TK23 and TK15 records read;
* within one file no two sections share (recipient bankgiro, payment date, deposit serial),
  the key the payment ids are built on (see :attr:`Payment.payment_id`).

Amounts are integer öre throughout. Bankgiro numbers are given without leading zeros
("0009912346" -> "9912346"; an unknown sender "0000000000" -> "0").
"""

from __future__ import annotations

import hashlib
import itertools
import os
import pickle
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import BinaryIO, NamedTuple
from zoneinfo import ZoneInfo

from likvid.rules.money import kronor_str
from likvid.rules.ocr import is_valid_ocr

__all__ = [
    "ENCODING",
    "LINE_WIDTH",
    "AddressRecord",
    "BgMaxError",
    "BgMaxFile",
    "CityRecord",
    "Counts",
    "DepositRecord",
    "EndRecord",
    "ExtraReference",
    "ExtraReferenceRecord",
    "InformationRecord",
    "NameRecord",
    "OpeningRecord",
    "OrgNumberRecord",
    "Payment",
    "PaymentRecord",
    "Record",
    "SectionSummary",
    "StartRecord",
    "Summary",
    "Totals",
    "UnknownRecord",
    "parse_file",
    "payments",
    "payments_from_lines",
    "read",
    "verify",
    "verify_lines",
]

#: Every BgMax record is 80 characters wide. SWEDISH-RULES.md §7.2.
LINE_WIDTH = 80
#: BgMax character set. SWEDISH-RULES.md §7.2.
ENCODING = "iso-8859-1"
#: The TK01 timestamp is Swedish local time.
STOCKHOLM = ZoneInfo("Europe/Stockholm")

# A raw line is read with this limit, so a file without line breaks cannot exhaust memory.
_READ_LIMIT = 4096
_DIGITS = re.compile(r"[0-9]+")
# C0 and C1 control characters (a tab where the layout has blanks would shift every column).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class BgMaxError(ValueError):
    """A BgMax file that cannot be trusted: ``str()`` is "line N: reason".

    ``line`` is the 1-based line number (None when no single line is to blame).
    """

    def __init__(self, line: int | None, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(reason if line is None else f"line {line}: {reason}")

    def __reduce__(self) -> tuple[type[BgMaxError], tuple[int | None, str]]:
        return (type(self), (self.line, self.reason))


# --------------------------------------------------------------------------- records

# The records are plain (not frozen) dataclasses: a file of 100,000 payments makes about a
# million of them over its passes, and a frozen dataclass sets each field through
# object.__setattr__ (five times the cost of the whole parse of a field). Nothing changes
# a record after it was read.


@dataclass(slots=True)
class StartRecord:
    """TK01 startpost: layout name (always "BGMAX"), version, written at, test mark T/P."""

    line_number: int
    layout: str
    version: int
    written_at: datetime
    test_mark: str
    tk: str = "01"


@dataclass(slots=True)
class OpeningRecord:
    """TK05 öppningspost: opens a deposit section."""

    line_number: int
    recipient_bankgiro: str
    recipient_plusgiro: str | None
    currency: str
    tk: str = "05"


@dataclass(slots=True)
class PaymentRecord:
    """TK20 betalningspost or TK21 avdragspost (deduction_code only on TK21, column 71)."""

    line_number: int
    tk: str
    sender_bankgiro: str
    reference: str | None
    amount_ore: int
    reference_code: int
    channel_code: int
    bgc_serial: str
    image_mark: int
    deduction_code: int | None


@dataclass(slots=True)
class ExtraReferenceRecord:
    """TK22 (positive) or TK23 (negative) extra referensnummerpost."""

    line_number: int
    tk: str
    reference: str | None
    reference_code: int
    amount_ore: int

    @property
    def negative(self) -> bool:
        return self.tk == "23"


@dataclass(slots=True)
class InformationRecord:
    """TK25 informationspost: 50 characters of free text."""

    line_number: int
    text: str
    tk: str = "25"


@dataclass(slots=True)
class NameRecord:
    """TK26 namnpost."""

    line_number: int
    name: str
    extra_name: str
    tk: str = "26"


@dataclass(slots=True)
class AddressRecord:
    """TK27 adresspost 1: address and postal code."""

    line_number: int
    address: str
    postal_code: str
    tk: str = "27"


@dataclass(slots=True)
class CityRecord:
    """TK28 adresspost 2: city, country, country code."""

    line_number: int
    city: str
    country: str
    country_code: str
    tk: str = "28"


@dataclass(slots=True)
class OrgNumberRecord:
    """TK29 organisationsnummerpost: the payer's organisation or personal number (12, zero-padded)."""

    line_number: int
    org_number: str | None
    tk: str = "29"


@dataclass(slots=True)
class DepositRecord:
    """TK15 insättningspost: closes a section with the deposit's date, serial, amount and count."""

    line_number: int
    bank_account: str
    payment_date: date
    deposit_serial: int
    amount_ore: int
    currency: str
    payment_count: int
    deposit_type: str | None
    tk: str = "15"


@dataclass(slots=True)
class EndRecord:
    """TK70 slutpost: counts of TK20, TK21, TK22+TK23 and TK15 records in the file."""

    line_number: int
    payments: int
    deductions: int
    extra_references: int
    deposits: int
    tk: str = "70"


@dataclass(slots=True)
class UnknownRecord:
    """A record with a transaktionskod this reader does not know: ignored, but counted."""

    line_number: int
    tk: str
    text: str


Record = (
    StartRecord
    | OpeningRecord
    | PaymentRecord
    | ExtraReferenceRecord
    | InformationRecord
    | NameRecord
    | AddressRecord
    | CityRecord
    | OrgNumberRecord
    | DepositRecord
    | EndRecord
    | UnknownRecord
)


# --------------------------------------------------------------------------- line reading


def _file_lines(handle: BinaryIO) -> Iterator[bytes]:
    """Raw lines of a binary file, each read with a size limit (constant memory)."""
    while True:
        chunk = handle.readline(_READ_LIMIT)
        if not chunk:
            return
        if len(chunk) == _READ_LIMIT and not chunk.endswith(b"\n"):
            # A very long line: keep the start (it fails the width check unless the rest is
            # blank) and drain the remainder without holding it.
            tail_blank = True
            while True:
                more = handle.readline(_READ_LIMIT)
                tail_blank = tail_blank and not more.strip()
                if not more or more.endswith(b"\n"):
                    break
            if not tail_blank:
                chunk += b"X"  # over 80 columns whatever the start held
        yield chunk


def _clean_lines(lines: Iterable[bytes | str]) -> Iterator[tuple[int, str]]:
    """(line number, 80-column text) for every non-blank line."""
    for line_number, raw in enumerate(lines, start=1):
        text = raw.decode(ENCODING) if isinstance(raw, bytes) else raw
        text = text.rstrip("\r\n").rstrip(" ")
        if not text or text == "\x1a":  # blank, or a DOS end-of-file mark
            continue
        if len(text) > LINE_WIDTH:
            raise BgMaxError(
                line_number,
                f"record is {len(text)} characters long; a BgMax record has at most {LINE_WIDTH}",
            )
        control = None if text.isprintable() else _CONTROL.search(text)  # printable: no control
        if control:
            raise BgMaxError(
                line_number,
                f"control character {control.group()!r} in column {control.start() + 1}",
            )
        yield line_number, text.ljust(LINE_WIDTH)


# --------------------------------------------------------------------------- field parsing


def _field(text: str, start: int, end: int) -> str:
    """Columns start..end, 1-based inclusive as in SWEDISH-RULES.md §7.2."""
    return text[start - 1 : end]


def _number(line: int, text: str, start: int, end: int, what: str) -> int:
    raw = text[start - 1 : end]
    if not (raw.isascii() and raw.isdigit()):  # isdigit alone accepts "²" and other digits
        where = f"column {start}" if start == end else f"columns {start}-{end}"
        raise BgMaxError(line, f"TK{text[:2]} {what} ({where}) must be digits, found {raw!r}")
    return int(raw)


def _giro(line: int, text: str, start: int, end: int, what: str) -> str:
    return str(_number(line, text, start, end, what))


def _date(line: int, text: str, start: int, end: int, what: str) -> date:
    raw = _field(text, start, end)
    _number(line, text, start, end, what)
    try:
        return date(int(raw[0:4]), int(raw[4:6]), int(raw[6:8]))
    except ValueError:
        raise BgMaxError(
            line, f"TK{text[:2]} {what} (columns {start}-{end}) is not a date: {raw!r}"
        ) from None


def _parse_start(line: int, text: str) -> StartRecord:
    layout = _field(text, 3, 22).strip()
    if layout != "BGMAX":
        raise BgMaxError(line, f"TK01 layout name (columns 3-22) is {layout!r}, expected 'BGMAX'")
    version = _number(line, text, 23, 24, "version")
    _number(line, text, 25, 44, "timestamp")
    raw = _field(text, 25, 44)
    try:
        written_at = datetime(
            int(raw[0:4]),
            int(raw[4:6]),
            int(raw[6:8]),
            int(raw[8:10]),
            int(raw[10:12]),
            int(raw[12:14]),
            int(raw[14:20]),
            tzinfo=STOCKHOLM,
        )
    except ValueError:
        raise BgMaxError(line, f"TK01 timestamp (columns 25-44) is not valid: {raw!r}") from None
    test_mark = _field(text, 45, 45)
    if test_mark not in ("T", "P"):
        raise BgMaxError(line, f"TK01 test mark (column 45) must be T or P, found {test_mark!r}")
    return StartRecord(line, layout, version, written_at, test_mark)


def _parse_opening(line: int, text: str) -> OpeningRecord:
    recipient = _giro(line, text, 3, 12, "recipient bankgiro")
    if recipient == "0":
        raise BgMaxError(line, "TK05 recipient bankgiro (columns 3-12) is zero")
    plusgiro = None
    if _field(text, 13, 22).strip():
        plusgiro = _giro(line, text, 13, 22, "recipient plusgiro")
    return OpeningRecord(line, recipient, plusgiro, _field(text, 23, 25).strip())


def _numeric_fields_plain(text: str) -> bool:
    """Whether every numeric field of a TK20/TK21 (columns 3-12 and 38-70) is digits."""
    numeric = text[2:12] + text[37:70]
    return numeric.isascii() and numeric.isdigit()


def _parse_payment(line: int, text: str) -> PaymentRecord:
    tk = text[:2]
    # The usual record: every numeric field digits, no deduction code. Anything else goes
    # field by field below, so an error names its columns.
    if _numeric_fields_plain(text) and (tk == "20" or text[70] == " "):
        return PaymentRecord(
            line_number=line,
            tk=tk,
            sender_bankgiro=str(int(text[2:12])),
            reference=text[12:37].strip() or None,
            amount_ore=int(text[37:55]),
            reference_code=int(text[55]),
            channel_code=int(text[56]),
            bgc_serial=text[57:69],
            image_mark=int(text[69]),
            deduction_code=None,
        )
    return _parse_payment_fields(line, text)


def _parse_payment_fields(line: int, text: str) -> PaymentRecord:
    tk = text[:2]
    deduction_code = None
    if tk == "21" and _field(text, 71, 71).strip():
        deduction_code = _number(line, text, 71, 71, "deduction code")
    _number(line, text, 58, 69, "BGC serial number")
    return PaymentRecord(
        line_number=line,
        tk=tk,
        sender_bankgiro=_giro(line, text, 3, 12, "sender bankgiro"),
        reference=_field(text, 13, 37).strip() or None,
        amount_ore=_number(line, text, 38, 55, "amount"),
        reference_code=_number(line, text, 56, 56, "reference code"),
        channel_code=_number(line, text, 57, 57, "payment channel code"),
        bgc_serial=_field(text, 58, 69),
        image_mark=_number(line, text, 70, 70, "image mark"),
        deduction_code=deduction_code,
    )


def _parse_extra_reference(line: int, text: str) -> ExtraReferenceRecord:
    return ExtraReferenceRecord(
        line_number=line,
        tk=text[:2],
        reference=_field(text, 13, 37).strip() or None,
        reference_code=_number(line, text, 56, 56, "reference code"),
        amount_ore=_number(line, text, 38, 55, "amount"),
    )


def _parse_information(line: int, text: str) -> InformationRecord:
    return InformationRecord(line, _field(text, 3, 52).strip())


def _parse_name(line: int, text: str) -> NameRecord:
    return NameRecord(line, _field(text, 3, 37).strip(), _field(text, 38, 72).strip())


def _parse_address(line: int, text: str) -> AddressRecord:
    return AddressRecord(line, _field(text, 3, 37).strip(), _field(text, 38, 46).strip())


def _parse_city(line: int, text: str) -> CityRecord:
    return CityRecord(
        line,
        _field(text, 3, 37).strip(),
        _field(text, 38, 72).strip(),
        _field(text, 73, 74).strip(),
    )


def _parse_org_number(line: int, text: str) -> OrgNumberRecord:
    return OrgNumberRecord(line, _field(text, 3, 14).strip() or None)


def _parse_deposit(line: int, text: str) -> DepositRecord:
    return DepositRecord(
        line_number=line,
        bank_account=_field(text, 3, 37).strip(),
        payment_date=_date(line, text, 38, 45, "payment date"),
        deposit_serial=_number(line, text, 46, 50, "deposit serial number"),
        amount_ore=_number(line, text, 51, 68, "deposit amount"),
        currency=_field(text, 69, 71).strip(),
        payment_count=_number(line, text, 72, 79, "number of payments"),
        deposit_type=_field(text, 80, 80).strip() or None,
    )


def _parse_end(line: int, text: str) -> EndRecord:
    return EndRecord(
        line,
        payments=_number(line, text, 3, 10, "number of payment records"),
        deductions=_number(line, text, 11, 18, "number of deduction records"),
        extra_references=_number(line, text, 19, 26, "number of extra reference records"),
        deposits=_number(line, text, 27, 34, "number of deposit records"),
    )


_PARSERS: dict[str, Callable[[int, str], Record]] = {
    "01": _parse_start,
    "05": _parse_opening,
    "20": _parse_payment,
    "21": _parse_payment,
    "22": _parse_extra_reference,
    "23": _parse_extra_reference,
    "25": _parse_information,
    "26": _parse_name,
    "27": _parse_address,
    "28": _parse_city,
    "29": _parse_org_number,
    "15": _parse_deposit,
    "70": _parse_end,
}


def read(lines: Iterable[bytes | str]) -> Iterator[Record]:
    """Typed records from BgMax lines, one at a time (SWEDISH-RULES.md §7.2).

    `lines` may be bytes (decoded as ISO 8859-1) or str, ending in CRLF, LF or nothing.
    Lines are right-stripped; a shorter line is padded to 80 columns, a longer one (or one
    with a control character) raises :class:`BgMaxError` with its line number. Blank lines are
    skipped (line numbers still count them). Unknown TKs become :class:`UnknownRecord`.
    This checks fields, not the order of records: see :func:`verify`.
    """
    for line_number, text in _clean_lines(lines):
        yield _record(line_number, text)


def _record(line_number: int, text: str) -> Record:
    tk = text[:2]
    parser = _PARSERS.get(tk)
    if parser is not None:
        return parser(line_number, text)
    if _DIGITS.fullmatch(tk):
        return UnknownRecord(line_number, tk, text.rstrip())
    raise BgMaxError(line_number, f"transaktionskod (columns 1-2) must be digits: {tk!r}")


#: The payer's records: text only, so that nothing in them can be malformed.
_TEXT_ONLY_TKS = frozenset(("25", "26", "27", "28", "29"))


def _checked(lines: Iterable[bytes | str], checker: _Checker) -> Iterator[Record]:
    """``read(lines)`` with ``checker`` checking on the way: the file's usual records (a TK20
    whose fields are all well formed, the payer's text records TK25-29) are checked here as
    ``checker.feed`` would check them, without a record built for each (two fifths of the
    verifying pass's time); every other record is returned, for the caller to ``feed``.
    Those usual records are the ones whose parsing cannot fail, so each line still meets its
    checks in the same order, and an error is the one ``read`` and ``feed`` would raise."""
    for line_number, text in _clean_lines(lines):
        tk = text[:2]
        if tk == "20":
            if _numeric_fields_plain(text):  # _parse_payment's usual record: it cannot fail
                checker.usual_payment(line_number, int(text[37:55]))
                continue
        elif tk in _TEXT_ONLY_TKS:
            checker.usual_trailing(line_number, tk)
            continue
        yield _record(line_number, text)


# --------------------------------------------------------------------------- results


class Counts(NamedTuple):
    """Record counts as the TK70 end record gives them."""

    payments: int  # TK20
    deductions: int  # TK21
    extra_references: int  # TK22 + TK23
    deposits: int  # TK15


class Totals(NamedTuple):
    """File totals in öre: deposits == payments - deductions once every section reconciled."""

    payments_ore: int
    deductions_ore: int
    deposits_ore: int


class SectionSummary(NamedTuple):
    """One reconciled deposit section (TK05 ... TK15). `payments`/`deductions` are counts."""

    recipient_bankgiro: str
    payment_date: date
    deposit_amount_ore: int
    payments: int
    deductions: int
    deposit_serial: int
    payments_amount_ore: int
    deductions_amount_ore: int
    number: int  # 1-based section number in the file
    opening_line: int
    deposit_line: int
    currency: str


@dataclass(frozen=True, slots=True)
class Summary:
    """What :func:`verify` found in a file that passed every check."""

    test_mark: str  # "T" test file, "P" production
    version: int
    written_at: datetime
    sections: tuple[SectionSummary, ...]
    totals: Totals
    counts: Counts
    unknown_records: int
    #: BLAKE2b of the file's bytes up to and including each section's TK15, each from where the
    #: one before ended, and last of the rest: what :func:`payments` compares instead of
    #: checking the file a second time. Empty unless the summary is :func:`verify`'s of a file.
    digests: tuple[bytes, ...] = field(default=(), compare=False, repr=False)

    @property
    def is_test(self) -> bool:
        """A test file: production must reject it (SWEDISH-RULES.md §7.2)."""
        return self.test_mark == "T"


class ExtraReference(NamedTuple):
    """A TK22/TK23 extra reference of a payment: (reference, code, amount_ore, negative)."""

    reference: str | None
    code: int
    amount_ore: int
    negative: bool


@dataclass(slots=True)
class Payment:
    """One TK20 payment or TK21 deduction with its trailing records folded in.

    Plain, not frozen, like the records above, and for the same reason: one per payment of a
    file, and a frozen dataclass of 25 fields cost 7 µs to build, against under 2 plain.

    `extra_references` and `information` are tuples, in file order. Payer fields come from
    TK26-29 (None when absent; a second record of the same kind replaces the first).
    Section fields come from the section's TK05 and the TK15 that closed it.
    """

    kind: str  # "payment" (TK20) | "deduction" (TK21)
    sender_bankgiro: str
    reference: str | None
    reference_code: int
    amount_ore: int
    channel_code: int
    bgc_serial: str
    image_mark: int
    deduction_code: int | None
    extra_references: tuple[ExtraReference, ...]
    information: tuple[str, ...]
    payer_name: str | None
    payer_address: str | None
    payer_postal_code: str | None
    payer_city: str | None
    payer_country: str | None
    payer_country_code: str | None
    payer_org_number: str | None
    section_index: int
    index_in_section: int  # 1-based position among the section's TK20/TK21 records
    line_number: int
    recipient_bankgiro: str
    payment_date: date
    deposit_serial: int
    currency: str

    @property
    def payment_id(self) -> str:
        """Stable id: "bgmax:<recipient bg>:<YYYYMMDD>:<deposit serial>:<BGC serial>:<n>".

        E.g. "bgmax:9912346:20040525:00074:000000000010:1". Reasoning: (recipient bankgiro,
        payment date, deposit serial) names one deposit, and :func:`verify` rejects a file in
        which two sections share it. Within the deposit, the BGC serial alone is not unique
        (Bankgirot's own example file has 000000000016 twice in one section), so the 1-based
        position n among the section's TK20/TK21 records is appended; it is fixed by the
        deposit's content. Nothing depends on the file as a whole (not the section's position
        in it, nor line numbers), so importing the same file twice, or the same deposit in a
        re-delivered file, gives the same ids.
        """
        day = self.payment_date
        return (
            f"bgmax:{self.recipient_bankgiro}:{day.year:04d}{day.month:02d}{day.day:02d}:"
            f"{self.deposit_serial:05d}:{self.bgc_serial}:{self.index_in_section}"
        )

    @property
    def ocr_matchable(self) -> bool:
        """Referenskod 2 and a valid OCR reference (SWEDISH-RULES.md §7.1, §7.2: auto-match only code 2).

        True for deductions too: check `kind` before matching money to an invoice.
        """
        return (
            self.reference_code == 2 and self.reference is not None and is_valid_ocr(self.reference)
        )

    @property
    def signed_amount_ore(self) -> int:
        """The amount as it counts towards the deposit: negative for a deduction."""
        return -self.amount_ore if self.kind == "deduction" else self.amount_ore


# --------------------------------------------------------------------------- checking

_BEFORE_START, _BETWEEN, _IN_SECTION, _IN_PAYMENT, _ENDED = range(5)
_TRAILING_TKS = ("22", "23", "25", "26", "27", "28", "29")


class _Checker:
    """Structure and reconciliation, one record at a time; memory grows only per section."""

    def __init__(self) -> None:
        self.state = _BEFORE_START
        self.start: StartRecord | None = None
        self.sections: list[SectionSummary] = []
        self.deposit_keys: dict[tuple[str, date, int], SectionSummary] = {}
        self.payments = self.deductions = self.extras = 0
        self.payments_ore = self.deductions_ore = self.deposits_ore = 0
        self.unknown = 0
        self.last_line = 0
        self.opening: OpeningRecord | None = None
        self.section_payments = self.section_deductions = 0
        self.section_payments_ore = self.section_deductions_ore = 0

    def feed(self, record: Record) -> SectionSummary | None:
        """Check one record; return the section's summary when a TK15 closed it."""
        line = record.line_number
        tk = record.tk
        self._arrive(line, tk, isinstance(record, StartRecord))
        if isinstance(record, UnknownRecord):
            self.unknown += 1  # must be ignored (SWEDISH-RULES.md §7.2); does not end a payment
            return None
        if isinstance(record, StartRecord):
            if self.state != _BEFORE_START:
                raise BgMaxError(line, "a second TK01 start record")
            self.start = record
            self.state = _BETWEEN
        elif isinstance(record, OpeningRecord):
            if self.state != _BETWEEN:
                raise BgMaxError(line, f"TK05 opens a section while {self._open()} has no TK15")
            self.opening = record
            self.section_payments = self.section_deductions = 0
            self.section_payments_ore = self.section_deductions_ore = 0
            self.state = _IN_SECTION
        elif isinstance(record, PaymentRecord):
            self._payment(line, tk, record.amount_ore)
        elif tk in _TRAILING_TKS:
            self._trailing(line, tk)
            if isinstance(record, ExtraReferenceRecord):
                self.extras += 1
        elif isinstance(record, DepositRecord):
            if self.state not in (_IN_SECTION, _IN_PAYMENT):
                raise BgMaxError(line, "TK15 without an open section (no TK05 opened one)")
            self.state = _BETWEEN
            return self._close(record)
        elif isinstance(record, EndRecord):
            if self.state != _BETWEEN:
                raise BgMaxError(line, f"TK70 end record while {self._open()} has no TK15")
            self._end(record)
            self.state = _ENDED
        return None

    def usual_payment(self, line: int, amount_ore: int) -> None:
        """``feed`` of a TK20 at ``line`` (``_checked``: one whose fields are all well formed)."""
        self._arrive(line, "20")
        self._payment(line, "20", amount_ore)

    def usual_trailing(self, line: int, tk: str) -> None:
        """``feed`` of a payer's text record (TK25-29) at ``line``."""
        self._arrive(line, tk)
        self._trailing(line, tk)

    def _arrive(self, line: int, tk: str, start: bool = False) -> None:
        self.last_line = line
        if self.state == _ENDED:
            raise BgMaxError(line, f"TK{tk} record after the TK70 end record")
        if self.state == _BEFORE_START and not start:
            raise BgMaxError(line, f"file must begin with a TK01 start record, found TK{tk}")

    def _payment(self, line: int, tk: str, amount_ore: int) -> None:
        if self.state not in (_IN_SECTION, _IN_PAYMENT):
            raise BgMaxError(line, f"TK{tk} outside a section (no TK05 opened one)")
        if tk == "20":
            self.section_payments += 1
            self.section_payments_ore += amount_ore
        else:
            self.section_deductions += 1
            self.section_deductions_ore += amount_ore
        self.state = _IN_PAYMENT

    def _trailing(self, line: int, tk: str) -> None:
        if self.state != _IN_PAYMENT:
            raise BgMaxError(line, f"TK{tk} must follow a TK20 or TK21 record")

    def _open(self) -> str:
        assert self.opening is not None
        return f"section {len(self.sections) + 1} (TK05 at line {self.opening.line_number})"

    def _close(self, deposit: DepositRecord) -> SectionSummary:
        opening = self.opening
        assert opening is not None
        line = deposit.line_number
        index = len(self.sections) + 1
        paid, deducted = self.section_payments_ore, self.section_deductions_ore
        if paid - deducted != deposit.amount_ore:
            raise BgMaxError(
                line,
                f"section {index} does not reconcile: TK20 payments {kronor_str(paid)} less TK21 "
                f"deductions {kronor_str(deducted)} = {kronor_str(paid - deducted)} SEK, but the "
                f"TK15 deposit record (line {line}) says {kronor_str(deposit.amount_ore)} SEK",
            )
        counted = self.section_payments + self.section_deductions
        if counted != deposit.payment_count:
            raise BgMaxError(
                line,
                f"section {index}: the TK15 deposit record (line {line}) counts "
                f"{deposit.payment_count} payments, but the section has {counted} TK20/TK21 records",
            )
        if opening.currency and deposit.currency and opening.currency != deposit.currency:
            raise BgMaxError(
                line,
                f"section {index}: TK15 currency {deposit.currency!r} differs from TK05 "
                f"currency {opening.currency!r} (line {opening.line_number})",
            )
        key = (opening.recipient_bankgiro, deposit.payment_date, deposit.deposit_serial)
        earlier = self.deposit_keys.get(key)
        if earlier is not None:
            raise BgMaxError(
                line,
                f"section {index} repeats the deposit of section {earlier.number} (bankgiro "
                f"{key[0]}, {key[1].isoformat()}, deposit serial {key[2]:05d}); payment ids "
                "would collide",
            )
        section = SectionSummary(
            recipient_bankgiro=opening.recipient_bankgiro,
            payment_date=deposit.payment_date,
            deposit_amount_ore=deposit.amount_ore,
            payments=self.section_payments,
            deductions=self.section_deductions,
            deposit_serial=deposit.deposit_serial,
            payments_amount_ore=paid,
            deductions_amount_ore=deducted,
            number=index,
            opening_line=opening.line_number,
            deposit_line=line,
            currency=deposit.currency or opening.currency,
        )
        self.deposit_keys[key] = section
        self.sections.append(section)
        self.payments += self.section_payments
        self.deductions += self.section_deductions
        self.payments_ore += paid
        self.deductions_ore += deducted
        self.deposits_ore += deposit.amount_ore
        self.opening = None
        return section

    def _end(self, end: EndRecord) -> None:
        read = Counts(self.payments, self.deductions, self.extras, len(self.sections))
        stated = Counts(end.payments, end.deductions, end.extra_references, end.deposits)
        for name, says, found in zip(Counts._fields, stated, read, strict=True):
            if says != found:
                raise BgMaxError(
                    end.line_number,
                    f"TK70 end record counts {says} {name.replace('_', ' ')}, "
                    f"but the file has {found}",
                )

    def finish(self) -> Summary:
        if self.state == _BEFORE_START:
            raise BgMaxError(None, "empty file: no TK01 start record")
        if self.state != _ENDED:
            where = f"; {self._open()} has no TK15" if self.opening is not None else ""
            raise BgMaxError(
                self.last_line, f"file ends without a TK70 end record after this line{where}"
            )
        start = self.start
        assert start is not None
        return Summary(
            test_mark=start.test_mark,
            version=start.version,
            written_at=start.written_at,
            sections=tuple(self.sections),
            totals=Totals(self.payments_ore, self.deductions_ore, self.deposits_ore),
            counts=Counts(self.payments, self.deductions, self.extras, len(self.sections)),
            unknown_records=self.unknown,
        )


# --------------------------------------------------------------------------- assembling


class _Draft:
    """A TK20/TK21 and its trailing records, until the next TK20/TK21/TK15 ends it."""

    __slots__ = ("record", "index", "extras", "information", "name", "address", "city", "org")

    def __init__(self, record: PaymentRecord, index: int) -> None:
        self.record = record
        self.index = index
        self.extras: list[ExtraReference] = []
        self.information: list[str] = []
        self.name: NameRecord | None = None
        self.address: AddressRecord | None = None
        self.city: CityRecord | None = None
        self.org: OrgNumberRecord | None = None

    def payment(self, section: SectionSummary) -> Payment:
        r = self.record
        name = self.name
        payer_name = None
        if name is not None:
            payer_name = " ".join(part for part in (name.name, name.extra_name) if part) or None
        address, city = self.address, self.city
        return Payment(
            kind="payment" if r.tk == "20" else "deduction",
            sender_bankgiro=r.sender_bankgiro,
            reference=r.reference,
            reference_code=r.reference_code,
            amount_ore=r.amount_ore,
            channel_code=r.channel_code,
            bgc_serial=r.bgc_serial,
            image_mark=r.image_mark,
            deduction_code=r.deduction_code,
            extra_references=tuple(self.extras),
            information=tuple(self.information),
            payer_name=payer_name,
            payer_address=(address.address or None) if address else None,
            payer_postal_code=(address.postal_code or None) if address else None,
            payer_city=(city.city or None) if city else None,
            payer_country=(city.country or None) if city else None,
            payer_country_code=(city.country_code or None) if city else None,
            payer_org_number=self.org.org_number if self.org else None,
            section_index=section.number,
            index_in_section=self.index,
            line_number=r.line_number,
            recipient_bankgiro=section.recipient_bankgiro,
            payment_date=section.payment_date,
            deposit_serial=section.deposit_serial,
            currency=section.currency,
        )


class _Assembler:
    """Folds records that already passed :class:`_Checker` into payments."""

    def __init__(self) -> None:
        self.draft: _Draft | None = None
        self.index = 0

    def feed(self, record: Record, section: SectionSummary) -> Payment | None:
        done: Payment | None = None
        if isinstance(record, PaymentRecord | DepositRecord | OpeningRecord):
            if self.draft is not None:
                done = self.draft.payment(section)
                self.draft = None
            if isinstance(record, PaymentRecord):
                self.index += 1
                self.draft = _Draft(record, self.index)
            else:
                self.index = 0
            return done
        draft = self.draft
        if draft is None:
            return None
        if isinstance(record, ExtraReferenceRecord):
            draft.extras.append(
                ExtraReference(
                    record.reference, record.reference_code, record.amount_ore, record.negative
                )
            )
        elif isinstance(record, InformationRecord):
            draft.information.append(record.text)
        elif isinstance(record, NameRecord):
            draft.name = record
        elif isinstance(record, AddressRecord):
            draft.address = record
        elif isinstance(record, CityRecord):
            draft.city = record
        elif isinstance(record, OrgNumberRecord):
            draft.org = record
        return None


# --------------------------------------------------------------------------- entry points

PathLike = str | os.PathLike[str]


def verify_lines(lines: Iterable[bytes | str]) -> Summary:
    """:func:`verify` over any iterable of lines."""
    checker = _Checker()
    for record in _checked(lines, checker):
        checker.feed(record)
    return checker.finish()


def _digest() -> hashlib.blake2b:
    return hashlib.blake2b(digest_size=16)


class _Hashed:
    """Raw lines as read, with a running digest of their bytes that :meth:`cut` closes."""

    def __init__(self, lines: Iterable[bytes]) -> None:
        self.lines, self.hash = lines, _digest()

    def __iter__(self) -> Iterator[bytes]:
        for raw in self.lines:
            self.hash.update(raw)
            yield raw

    def cut(self) -> bytes:
        digest, self.hash = self.hash.digest(), _digest()
        return digest


def verify(path: PathLike) -> Summary:
    """One streaming pass: structure, per-section reconciliation and TK70 counts.

    Returns a :class:`Summary` or raises :class:`BgMaxError` naming the line.
    Basis: SWEDISH-RULES.md §7.2. Callers decide what a test file (``test_mark == "T"``) means;
    production should reject it.
    """
    with open(path, "rb") as handle:
        hashed = _Hashed(_file_lines(handle))
        checker = _Checker()
        digests = []
        for record in _checked(hashed, checker):
            # A section is returned at its TK15, read up to that line and no further.
            if checker.feed(record) is not None:
                digests.append(hashed.cut())
        return replace(checker.finish(), digests=(*digests, hashed.cut()))


class VerifyAhead:
    """:func:`verify` of a file, started in a forked child process (:func:`verify_ahead`):
    ``result()`` waits for it and returns the Summary or raises the BgMaxError, exactly as
    ``verify(path)`` would. ``pid`` is the child's, or None where verify runs at ``result()``
    in this process instead (no ``os.fork``, threads running, the fork failed). A child that
    fails otherwise (the file unreadable, the child killed) leaves the work to this process:
    ``result()`` then calls ``verify(path)``, which raises what it raises."""

    def __init__(self, path: PathLike) -> None:
        self.path = path
        self.pid: int | None = None
        self._read = -1
        if not hasattr(os, "fork") or threading.active_count() > 1:
            return  # (a fork of a threaded process may hold another thread's locks)
        try:
            read, write = os.pipe()
        except OSError:
            return
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # the child: verify, send the outcome, exit without cleaning up the parent's
            code = 1
            try:
                os.close(read)
                try:
                    outcome: tuple[bool, object] = (True, verify(path))
                except BgMaxError as exc:
                    outcome = (False, exc)
                with os.fdopen(write, "wb") as out:
                    out.write(pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        self.pid, self._read = pid, read

    def result(self) -> Summary:
        if self.pid is None:
            return verify(self.path)
        with os.fdopen(self._read, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        if status != 0 or not data:
            return verify(self.path)
        ok, value = pickle.loads(data)
        if not ok:
            raise value  # type: ignore[misc]
        return value  # type: ignore[no-any-return]


def verify_ahead(path: PathLike) -> VerifyAhead:
    """Start :func:`verify` of ``path`` on another core. For a command that has more to do
    before it needs the summary: `likvid import bgmax` verifies a 100,000-payment file
    (0.7-0.8 s) while it loads the service (about as long) instead of after."""
    return VerifyAhead(path)


def _section_payments(follower: Iterator[Record], assembler: _Assembler, section: SectionSummary) -> Iterator[Payment]:
    """The payments of ``section``, read from ``follower`` up to and including its TK15."""
    for behind in follower:
        payment = assembler.feed(behind, section)
        if payment is not None:
            yield payment
        if behind.line_number == section.deposit_line:
            return


def _payments(lead: Iterable[bytes | str], follow: Iterable[bytes | str]) -> Iterator[Payment]:
    # `lead` runs the checker; when it has reconciled a section, `follow` (the same lines)
    # catches up to that TK15 and builds the section's payments. Neither holds a section.
    checker = _Checker()
    assembler = _Assembler()
    follower = read(follow)
    for record in _checked(lead, checker):
        section = checker.feed(record)
        if section is None:
            continue
        yield from _section_payments(follower, assembler, section)
    checker.finish()


def _payments_verified(lead: Iterable[bytes], follow: Iterable[bytes], verified: Summary) -> Iterator[Payment]:
    # `lead` compares each section's bytes with what verify read; then `follow` builds its
    # payments. A file changed since it was verified is refused before any of a changed
    # section's payments is yielded.
    lines = enumerate(lead, start=1)
    assembler = _Assembler()
    follower = read(follow)
    for section, digest in zip(verified.sections, verified.digests, strict=False):
        hashed, at = _digest(), 0
        for at, raw in lines:
            hashed.update(raw)
            if at == section.deposit_line:
                break
        if at != section.deposit_line or hashed.digest() != digest:
            raise BgMaxError(at or None, f"section {section.number} is not what was verified: the file changed since")
        yield from _section_payments(follower, assembler, section)
    rest = _digest()
    for _, raw in lines:
        rest.update(raw)
    if rest.digest() != verified.digests[-1]:
        raise BgMaxError(None, "the end of the file is not what was verified: the file changed since")


def payments(path: PathLike, verified: Summary | None = None) -> Iterator[Payment]:
    """Every TK20/TK21 of the file as a :class:`Payment`, in file order (SWEDISH-RULES.md §7.2).

    Meant to run after :func:`verify` succeeded. It repeats every check, and a section's
    payments are yielded only once its TK15 reconciled; but TK70 is only checked after the last
    payment was yielded. Reads the file through two handles, one a section ahead of the other,
    so memory does not grow with the size of a section.

    Given ``verified``, what :func:`verify` returned for this path, the leading handle does not
    check each section again but compares its bytes with the digest verify took (a tenth of the
    cost): a section's payments are yielded only once its bytes are those verify reconciled,
    and a change anywhere raises :class:`BgMaxError`.
    """
    with open(path, "rb") as lead, open(path, "rb") as follow:
        if verified is not None and verified.digests:
            yield from _payments_verified(_file_lines(lead), _file_lines(follow), verified)
        else:
            yield from _payments(_file_lines(lead), _file_lines(follow))


def payments_from_lines(lines: Iterable[bytes | str]) -> Iterator[Payment]:
    """:func:`payments` over an iterable of lines read once: holds one section's raw lines."""
    lead, follow = itertools.tee(lines)
    return _payments(lead, follow)


class BgMaxFile:
    """A BgMax file on disk, read lazily (:func:`parse_file`). Iterating yields payments."""

    def __init__(self, path: PathLike, start: StartRecord) -> None:
        self.path = path
        self.start = start

    @property
    def test_mark(self) -> str:
        return self.start.test_mark

    @property
    def written_at(self) -> datetime:
        return self.start.written_at

    def records(self) -> Iterator[Record]:
        with open(self.path, "rb") as handle:
            yield from read(_file_lines(handle))

    def verify(self) -> Summary:
        return verify(self.path)

    def payments(self) -> Iterator[Payment]:
        return payments(self.path)

    def __iter__(self) -> Iterator[Payment]:
        return payments(self.path)


def parse_file(path: PathLike) -> BgMaxFile:
    """Open a BgMax file: reads only its first record, which must be a valid TK01.

    Nothing else is loaded; use :meth:`BgMaxFile.verify`, then :meth:`BgMaxFile.payments`.
    """
    with open(path, "rb") as handle:
        for record in read(_file_lines(handle)):
            if not isinstance(record, StartRecord):
                raise BgMaxError(
                    record.line_number,
                    f"file must begin with a TK01 start record, found TK{record.tk}",
                )
            return BgMaxFile(path, record)
    raise BgMaxError(None, "empty file: no TK01 start record")
