"""The fixed-width hand-off file (docs/handoff-file-layout.md): one header, per claim a debtor
record, a claim record and basis-text records, one trailer. Lines of 200 characters in
ISO-8859-1, CRLF, as Swedish agency files are. Pure formatting: no database, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

LINE = 200
ENCODING = "iso-8859-1"
TARGET_CODES = {"kronofogden": "KFM-BFO", "agency": "INKASSO", "indrivning": "KFM-INDR"}
BASIS_WIDTH = 176


@dataclass(frozen=True)
class FileHeader:
    creditor_org: str
    creditor_name: str
    bankgiro: str
    target: str
    file_date: date
    seq: int


@dataclass(frozen=True)
class ClaimRecord:
    handoff_id: str
    identity_number: str
    party_type: str
    protected: bool
    name: str
    care_of: str
    street: str
    postal_code: str
    city: str
    country: str
    invoice_number: str
    issue_date: date
    due_date: date
    capital_ore: int
    interest_ore: int
    interest_rate_bp: int
    interest_from: date | None
    fees_ore: int
    application_fee_ore: int
    own_work_ore: int
    claim_nature: str
    claim_kind: str
    basis: str

    @property
    def total_ore(self) -> int:
        return self.capital_ore + self.interest_ore + self.fees_ore + self.application_fee_ore + self.own_work_ore


def _text(value: str, width: int) -> str:
    clean = " ".join(str(value or "").split())
    return clean.encode(ENCODING, errors="replace").decode(ENCODING)[:width].ljust(width)


def _num(value: int, width: int) -> str:
    if value < 0 or len(str(value)) > width:
        raise ValueError(f"{value} does not fit an unsigned field of {width} digits")
    return str(value).zfill(width)


def _date(value: date | None) -> str:
    return value.strftime("%Y%m%d") if value else " " * 8


def _line(*fields: str) -> str:
    out = "".join(fields)
    if len(out) > LINE:
        raise ValueError(f"record is {len(out)} characters, more than {LINE}")
    return out.ljust(LINE)


def wrap(text: str, width: int = BASIS_WIDTH) -> list[str]:
    words, lines, current = " ".join(text.split()).split(" "), [], ""
    for word in words:
        while len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        lines.append(current)
    return lines[:99]


def render(header: FileHeader, claims: list[ClaimRecord]) -> str:
    """The whole file. A protected identity is flagged ("J") and its address fields stay blank."""
    lines = [_line("00", _text(header.creditor_org, 10), _text(header.creditor_name, 40),
                   _text(TARGET_CODES[header.target], 12), _date(header.file_date), _num(header.seq, 4),
                   _text(header.bankgiro, 12))]
    for c in claims:
        address = ("", "", "", "", "") if c.protected else (c.care_of, c.street, c.postal_code.replace(" ", ""),
                                                                 c.city, c.country)
        lines.append(_line("10", _text(c.handoff_id, 20), _text(c.identity_number, 12),
                           {"person": "P", "organisation": "O", "estate": "D"}.get(c.party_type, "P"),
                           "J" if c.protected else "N", _text(c.name, 40), _text(address[0], 30),
                           _text(address[1], 40), _text(address[2], 5), _text(address[3], 30), _text(address[4], 2)))
        lines.append(_line("20", _text(c.handoff_id, 20), _text(c.invoice_number, 20), _date(c.issue_date),
                           _date(c.due_date), _num(c.capital_ore, 13), _num(c.interest_ore, 13),
                           _num(c.interest_rate_bp, 5), _date(c.interest_from), _num(c.fees_ore, 13),
                           _num(c.application_fee_ore, 13), _num(c.own_work_ore, 13), _num(c.total_ore, 13),
                           "P" if c.claim_nature == "public_law" else "C", _text(c.claim_kind, 20)))
        for n, text in enumerate(wrap(c.basis), start=1):
            lines.append(_line("30", _text(c.handoff_id, 20), _num(n, 2), _text(text, BASIS_WIDTH)))
    lines.append(_line("99", _num(len(claims), 6), _num(sum(c.total_ore for c in claims), 15)))
    return "\r\n".join(lines) + "\r\n"


def parse(content: str) -> list[dict[str, str]]:
    """Records as dicts of their fields (for operators and tests; the inverse of ``render``)."""
    out: list[dict[str, str]] = []
    layout = {
        "00": [("creditor_org", 10), ("creditor_name", 40), ("target", 12), ("file_date", 8), ("seq", 4), ("bankgiro", 12)],
        "10": [("handoff_id", 20), ("identity_number", 12), ("party_type", 1), ("protected", 1), ("name", 40),
               ("care_of", 30), ("street", 40), ("postal_code", 5), ("city", 30), ("country", 2)],
        "20": [("handoff_id", 20), ("invoice_number", 20), ("issue_date", 8), ("due_date", 8), ("capital", 13),
               ("interest", 13), ("interest_rate_bp", 5), ("interest_from", 8), ("fees", 13),
               ("application_fee", 13), ("own_work", 13), ("total", 13), ("nature", 1), ("claim_kind", 20)],
        "30": [("handoff_id", 20), ("line", 2), ("text", BASIS_WIDTH)],
        "99": [("claims", 6), ("total", 15)],
    }
    for raw in content.split("\r\n"):
        if not raw:
            continue
        if len(raw) != LINE:
            raise ValueError(f"a record is {len(raw)} characters, not {LINE}")
        record, pos = {"type": raw[:2]}, 2
        for name, width in layout[raw[:2]]:
            record[name] = raw[pos:pos + width].rstrip()
            pos += width
        out.append(record)
    return out
