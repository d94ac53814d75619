"""BgMax reader and writer (SWEDISH-RULES.md §7.2), against Bankgirot's example file."""

from __future__ import annotations

import dataclasses
import functools
import gc
import pickle
import tempfile
import tracemalloc
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from likvid import bgmax
from likvid.bgmax import BgMaxError, ExtraReference
from likvid.bgmax_writer import PaymentSpec, SectionSpec, write_bgmax
from likvid.rules.ocr import generate_ocr

_NAME = "bankgirot-example-ocr-check-and-length.bgmax"
_CANDIDATES = (
    Path(__file__).parents[3] / "shared" / "data" / "bgmax" / _NAME,
    Path("/work/shared/data/bgmax") / _NAME,
)
EXAMPLE = next((p for p in _CANDIDATES if p.is_file()), None)
needs_example = pytest.mark.skipif(EXAMPLE is None, reason="BgMax example file not present")

WRITTEN_AT = datetime(2024, 3, 1, 6, 30, 0, 123456, tzinfo=bgmax.STOCKHOLM)


@pytest.fixture
def example() -> Path:
    assert EXAMPLE is not None
    return EXAMPLE


def example_lines() -> list[str]:
    assert EXAMPLE is not None
    return EXAMPLE.read_bytes().decode("iso-8859-1").split("\r\n")[:-1]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_bytes("".join(line + "\r\n" for line in lines).encode("iso-8859-1"))
    return path


def error_of(path: Path) -> BgMaxError:
    with pytest.raises(BgMaxError) as info:
        bgmax.verify(path)
    return info.value


# --------------------------------------------------------------------------- example file


@needs_example
def test_example_file_verifies_as_its_readme_states(example: Path) -> None:
    summary = bgmax.verify(example)
    assert summary.test_mark == "P"
    assert not summary.is_test
    assert summary.version == 1
    assert summary.written_at == datetime(2004, 5, 25, 17, 30, 35, 10331, tzinfo=bgmax.STOCKHOLM)
    first, second = summary.sections
    assert first[:5] == ("9912346", date(2004, 5, 25), 190000, 2, 1)
    assert (first.payments_amount_ore, first.deductions_amount_ore) == (240000, 50000)
    assert (first.deposit_serial, first.deposit_line) == (74, 23)
    assert second[:5] == ("9912346", date(2004, 5, 25), 800000, 4, 0)
    assert summary.totals == (1040000, 50000, 990000)
    assert summary.counts == bgmax.Counts(payments=6, deductions=1, extra_references=6, deposits=2)
    assert summary.unknown_records == 0


@needs_example
def test_example_file_payments(example: Path) -> None:
    found = list(bgmax.payments(example))
    assert [p.kind for p in found].count("deduction") == 1
    assert len(found) == 7
    assert {p.reference for p in found if p.ocr_matchable} == {
        "655969",
        "650861",
        "659763",
        "658260",
    }
    assert sum(p.signed_amount_ore for p in found) == 990000

    first = found[0]
    assert first.payment_id == "bgmax:9912346:20040525:00074:000000000010:1"
    assert (first.sender_bankgiro, first.amount_ore, first.reference_code) == ("3783511", 100000, 2)
    assert (first.channel_code, first.bgc_serial, first.image_mark) == (2, "000000000010", 0)
    assert first.payer_name == "Kalles Plåt AB"
    assert (first.payer_address, first.payer_postal_code) == ("Storgatan 2", "12345")
    assert (first.payer_city, first.payer_country, first.payer_org_number) == (
        "Storåker",
        None,
        "005500001234",
    )
    assert (first.section_index, first.line_number, first.deposit_serial) == (1, 3, 74)

    deduction = found[1]
    assert deduction.kind == "deduction"
    assert (deduction.amount_ore, deduction.signed_amount_ore) == (50000, -50000)
    assert (deduction.reference, deduction.reference_code, deduction.deduction_code) == (
        "89853",
        3,
        0,
    )
    assert not deduction.ocr_matchable

    free_text = found[2]
    assert (free_text.reference, free_text.reference_code) == ("657866 658765 657767", 3)
    assert not free_text.ocr_matchable
    assert free_text.information == ("Betalning med extra refnr 657965",)
    assert free_text.extra_references == tuple(
        ExtraReference(ref, 2, 0, False) for ref in ("657866", "658765", "657767", "657965")
    )

    assert found[3].payer_name == "Olles färg AB"
    unreferenced = found[4]
    assert (unreferenced.reference, unreferenced.reference_code) == (None, 1)
    last = found[6]
    assert last.information == ("Faktura 658369", "Faktura 658468")
    assert [e.reference for e in last.extra_references] == ["658369", "658468"]
    assert (last.section_index, last.payment_date, last.deposit_serial) == (
        2,
        date(2004, 5, 25),
        75,
    )


@needs_example
def test_payment_ids_stable_and_unique(example: Path) -> None:
    once = [p.payment_id for p in bgmax.payments(example)]
    again = [p.payment_id for p in bgmax.parse_file(example)]
    assert once == again
    assert len(set(once)) == len(once)
    # The example repeats BGC serial 000000000016 within section 2: the position keeps ids apart.
    assert once[5].split(":")[4] == once[6].split(":")[4] == "000000000016"


@needs_example
def test_lines_api_and_lf_short_lines_read_the_same(example: Path, tmp_path: Path) -> None:
    lines = example_lines()
    expected = list(bgmax.payments(example))
    # LF endings, trailing blanks stripped (lines shorter than 80): same result.
    short = tmp_path / "short.bgmax"
    short.write_bytes("".join(line.rstrip() + "\n" for line in lines).encode("iso-8859-1"))
    assert bgmax.verify(short) == bgmax.verify(example)
    assert list(bgmax.payments(short)) == expected
    assert list(bgmax.payments_from_lines(lines)) == expected
    assert bgmax.verify_lines(line.encode("iso-8859-1") for line in lines).counts.payments == 6


@needs_example
def test_records_are_typed(example: Path) -> None:
    records = list(bgmax.parse_file(example).records())
    assert len(records) == 50
    assert isinstance(records[0], bgmax.StartRecord)
    assert isinstance(records[-1], bgmax.EndRecord)
    deposit = records[22]
    assert isinstance(deposit, bgmax.DepositRecord)
    assert (deposit.bank_account, deposit.payment_count, deposit.deposit_type) == (
        "00000000000000000005841000001009823",
        3,
        None,
    )


# --------------------------------------------------------------------------- rejections


@needs_example
def test_tampered_amount_fails_with_section_and_line(tmp_path: Path) -> None:
    lines = example_lines()
    assert lines[2][37:55] == "000000000000100000"
    lines[2] = lines[2][:50] + "1" + lines[2][51:]  # 1,000.00 -> 1,100.00
    path = write_lines(tmp_path / "tampered.bgmax", lines)
    error = error_of(path)
    assert error.line == 23
    assert "section 1" in error.reason
    assert "2000.00" in error.reason and "1900.00" in error.reason
    assert str(error).startswith("line 23: ")
    # No payment of the broken section is ever yielded.
    yielded = []
    with pytest.raises(BgMaxError):
        for payment in bgmax.payments(path):
            yielded.append(payment)
    assert yielded == []


@needs_example
def test_tampered_second_section_yields_only_the_first(tmp_path: Path) -> None:
    lines = example_lines()
    lines[24] = lines[24][:49] + "2" + lines[24][50:]  # 1,100.00 -> 2,100.00
    yielded = []
    with pytest.raises(BgMaxError) as info:
        for payment in bgmax.payments(write_lines(tmp_path / "t.bgmax", lines)):
            yielded.append(payment)
    assert info.value.line == 49 and "section 2" in info.value.reason
    assert [p.section_index for p in yielded] == [1, 1, 1]


@needs_example
def test_deposit_count_mismatch(tmp_path: Path) -> None:
    lines = example_lines()
    lines[22] = lines[22][:78] + "4" + lines[22][79:]
    error = error_of(write_lines(tmp_path / "count.bgmax", lines))
    assert error.line == 23 and "counts 4 payments" in error.reason


@needs_example
def test_wrong_end_count_fails(tmp_path: Path) -> None:
    lines = example_lines()
    assert lines[49].startswith("7000000006")
    lines[49] = "7000000007" + lines[49][10:]
    error = error_of(write_lines(tmp_path / "end.bgmax", lines))
    assert error.line == 50
    assert "7 payments" in error.reason and "has 6" in error.reason


@needs_example
def test_unknown_records_are_ignored_but_counted(example: Path, tmp_path: Path) -> None:
    lines = example_lines()
    lines.insert(3, "99 something from a later version of the format")  # inside a payment
    lines.insert(24, "98")  # between sections
    path = write_lines(tmp_path / "unknown.bgmax", lines)
    summary = bgmax.verify(path)
    assert summary.unknown_records == 2
    assert summary.counts == bgmax.verify(example).counts
    got = list(bgmax.payments(path))
    assert [p.payment_id for p in got] == [p.payment_id for p in bgmax.payments(example)]
    assert got[0].payer_name == "Kalles Plåt AB"  # the TK26 after the unknown record still counts


@needs_example
def test_line_longer_than_80_fails(tmp_path: Path) -> None:
    lines = example_lines()
    lines[4] = lines[4] + "X"
    assert error_of(write_lines(tmp_path / "long.bgmax", lines)).line == 5
    # Trailing blanks beyond column 80 are only blanks.
    lines[4] = lines[4][:80] + "    "
    assert bgmax.verify(write_lines(tmp_path / "blank.bgmax", lines)).counts.payments == 6


@needs_example
def test_control_character_fails(tmp_path: Path) -> None:
    lines = example_lines()
    lines[3] = lines[3].replace(" ", "\t", 1)
    error = error_of(write_lines(tmp_path / "tab.bgmax", lines))
    assert error.line == 4 and "'\\t'" in error.reason


@needs_example
@pytest.mark.parametrize(
    ("edit", "line", "words"),
    [
        (lambda ls: ls[1:], 1, "must begin with a TK01"),
        (lambda ls: ls[:-1], 49, "without a TK70"),
        (lambda ls: ls[:1] + ls[2:], 2, "outside a section"),
        (lambda ls: ls[:23] + ls[24:], 24, "outside a section"),
        (lambda ls: ls[:22] + ls[23:], 23, "has no TK15"),
        (lambda ls: ls[:1] + ls[22:], 2, "TK15 without an open section"),
        (lambda ls: ls[:2] + ls[22:], 3, "deposit record (line 3) says 1900.00"),
        (lambda ls: [*ls, ls[-2]], 51, "after the TK70"),
        (lambda ls: ls[:1] + ls, 2, "second TK01"),
        (lambda ls: ls[:2] + ls[3:], 3, "must follow a TK20 or TK21"),
        (lambda ls: [ls[0].replace("BGMAX", "BGMIN"), *ls[1:]], 1, "expected 'BGMAX'"),
        (lambda ls: [ls[0][:44] + "X" + ls[0][45:], *ls[1:]], 1, "test mark"),
        (lambda ls: ls[:2] + [ls[2][:40] + "x" + ls[2][41:]] + ls[3:], 3, "amount"),
        (lambda ls: ls[:22] + [ls[22][:41] + "13" + ls[22][43:]] + ls[23:], 23, "not a date"),
    ],
)
def test_structure_and_field_errors(tmp_path: Path, edit, line: int, words: str) -> None:
    error = error_of(write_lines(tmp_path / "bad.bgmax", edit(example_lines())))
    assert error.line == line, error
    assert words in error.reason, error


def test_empty_file_and_error_pickles(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bgmax"
    empty.write_bytes(b"")
    assert error_of(empty).line is None
    with pytest.raises(BgMaxError):
        bgmax.parse_file(empty)
    error = pickle.loads(pickle.dumps(BgMaxError(7, "broken")))
    assert (error.line, error.reason, str(error)) == (7, "broken", "line 7: broken")
    assert isinstance(error, ValueError)


# --------------------------------------------------------------------------- writer


def _specs() -> list[SectionSpec]:
    return [
        SectionSpec(
            "991-2346",
            date(2024, 2, 29),
            1,
            [
                PaymentSpec(generate_ocr("6559"), 100000, bgc_serial=10, payer_name="Åsa Ärlig"),
                PaymentSpec(
                    "FAKTURA 12 OCH 13",
                    25050,
                    reference_code=3,
                    sender_bankgiro="5555-5555",
                    bgc_serial=11,
                    information=["Två fakturor", "tack"],
                    extra_references=[("123455", 2, 0, False), ("1234574", 2, 100, True)],
                ),
                PaymentSpec("89853", 5000, reference_code=3, bgc_serial=12, deduction=True),
                PaymentSpec(None, 1, reference_code=0, bgc_serial=12),
            ],
        ),
        SectionSpec("9912346", date(2024, 2, 29), 2, []),
        SectionSpec("9912346", date(2024, 3, 1), 1, iter([PaymentSpec("655969", 7, bgc_serial=1)])),
    ]


def test_writer_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "round.bgmax"
    counts = write_bgmax(path, _specs(), test_mark="T", written_at=WRITTEN_AT)
    assert counts == (4, 1, 2, 3)
    raw = path.read_bytes()
    assert all(len(line) == 80 for line in raw.split(b"\r\n")[:-1])
    assert raw.endswith(b"\r\n") and b"\xc5sa \xc4rlig" in raw

    summary = bgmax.verify(path)
    assert summary.test_mark == "T" and summary.is_test
    assert summary.written_at == WRITTEN_AT
    assert summary.counts == counts
    assert [s[:5] for s in summary.sections] == [
        ("9912346", date(2024, 2, 29), 120051, 3, 1),
        ("9912346", date(2024, 2, 29), 0, 0, 0),
        ("9912346", date(2024, 3, 1), 7, 1, 0),
    ]

    got = list(bgmax.payments(path))
    written = [p for s in _specs() for p in s.payments]
    assert len(got) == len(written)
    for back, spec in zip(got, written, strict=True):
        assert back.reference == spec.reference
        assert back.amount_ore == spec.amount_ore
        assert back.reference_code == spec.reference_code
        assert back.sender_bankgiro == spec.sender_bankgiro.replace("-", "").lstrip("0") or "0"
        assert int(back.bgc_serial) == spec.bgc_serial
        assert back.payer_name == spec.payer_name
        assert back.kind == ("deduction" if spec.deduction else "payment")
        assert back.information == tuple(spec.information)
        assert back.extra_references == tuple(spec.extra_references)
    assert got[0].ocr_matchable and got[-1].ocr_matchable
    assert got[0].payment_id == "bgmax:9912346:20240229:00001:000000000010:1"
    assert len({p.payment_id for p in got}) == len(got)


def test_writer_rejects_bad_specs_and_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.bgmax"
    too_long = SectionSpec("9912346", date(2024, 1, 2), 1, [PaymentSpec("1" * 26, 1, bgc_serial=1)])
    with pytest.raises(ValueError, match="section 1: payment 1: reference"):
        write_bgmax(path, [too_long], written_at=WRITTEN_AT)
    negative = SectionSpec(
        "9912346", date(2024, 1, 2), 1, [PaymentSpec("1", 1, bgc_serial=1, deduction=True)]
    )
    with pytest.raises(ValueError, match="cannot be negative"):
        write_bgmax(path, [negative], written_at=WRITTEN_AT)
    with pytest.raises(ValueError, match="test_mark"):
        write_bgmax(path, [], test_mark="X", written_at=WRITTEN_AT)
    assert list(tmp_path.iterdir()) == []


def test_duplicate_deposit_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.bgmax"
    section = SectionSpec("9912346", date(2024, 1, 2), 5, [PaymentSpec("655969", 1, bgc_serial=1)])
    write_bgmax(path, [section, section], written_at=WRITTEN_AT)
    error = error_of(path)
    assert "repeats the deposit of section 1" in error.reason


# --------------------------------------------------------------------------- streaming

N = 20_000


def _many() -> Iterator[SectionSpec]:
    def payments(offset: int, count: int) -> Iterator[PaymentSpec]:
        for i in range(offset, offset + count):
            yield PaymentSpec(
                generate_ocr(str(1000 + i)),
                1000 + i,
                bgc_serial=i,
                payer_name=f"Betalare {i}",
                deduction=i % 100 == 0,
                information=["Avgift"] if i % 7 == 0 else [],
            )

    yield SectionSpec("9912346", date(2024, 5, 2), 1, payments(1, N // 2))
    yield SectionSpec("9912346", date(2024, 5, 2), 2, payments(1 + N // 2, N // 2))


def _peak_growth(run) -> tuple[object, int]:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = run()
        return result, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_large_file_streams_in_small_memory(tmp_path: Path) -> None:
    path = tmp_path / "large.bgmax"
    counts, write_peak = _peak_growth(lambda: write_bgmax(path, _many(), written_at=WRITTEN_AT))
    assert counts == (N - N // 100, N // 100, 0, 2)
    summary, verify_peak = _peak_growth(lambda: bgmax.verify(path))
    assert summary.counts == counts

    def consume() -> tuple[int, int]:
        n = total = 0
        for payment in bgmax.payments(path):
            n += 1
            total += payment.signed_amount_ore
        return n, total

    (n, total), payments_peak = _peak_growth(consume)
    assert (n, total) == (N, summary.totals.deposits_ore)
    limit = 2 * 1024 * 1024
    assert write_peak < limit, write_peak
    assert verify_peak < limit, verify_peak
    assert payments_peak < limit, payments_peak


# --- The quick parse of a TK20/TK21 gives what the field-by-field parse gives -----------------

_COLUMN_CHARS = "0123456789 A²\u0660-"


@given(tk=st.sampled_from(["20", "21"]),
       body=st.text(alphabet=_COLUMN_CHARS, min_size=78, max_size=78),
       digits=st.text(alphabet="0123456789", min_size=78, max_size=78),
       plain=st.booleans())
def test_quick_payment_parse_matches_the_field_by_field_one(tk: str, body: str, digits: str, plain: bool) -> None:
    """``_parse_payment`` takes a shortcut when every numeric column is digits; whatever the
    line, it returns the record, or raises the error, that the field-by-field parse does."""
    text = tk + (digits[:68] + body[68:] if plain else body)
    try:
        expected = bgmax._parse_payment_fields(7, text)
    except BgMaxError as exc:
        with pytest.raises(BgMaxError) as raised:
            bgmax._parse_payment(7, text)
        assert str(raised.value) == str(exc)
    else:
        assert bgmax._parse_payment(7, text) == expected


def _two_sections(path: Path) -> Path:
    def section(serial: int, first: int) -> SectionSpec:
        return SectionSpec("9912346", date(2026, 1, 20), serial, [
            PaymentSpec(generate_ocr(f"{first + n}"), 100 * (first + n), bgc_serial=first + n, payer_name=f"Kund {first + n}")
            for n in range(3)])

    write_bgmax(path, [section(1, 10), section(2, 20)], written_at=datetime(2026, 1, 21, 6, 0))
    return path


def test_payments_of_a_verified_file_compare_bytes_and_give_what_checking_again_gives(example: Path,
                                                                                        tmp_path: Path) -> None:
    for path in (example, _two_sections(tmp_path / "two.bgmax")):
        summary = bgmax.verify(path)
        assert len(summary.digests) == len(summary.sections) + 1
        assert list(bgmax.payments(path, summary)) == list(bgmax.payments(path))
    # A summary of lines (no digests) makes payments check the file again, as without one.
    lines = example.read_bytes().splitlines(keepends=True)
    assert list(bgmax.payments(example, bgmax.verify_lines(lines))) == list(bgmax.payments(example))


def test_a_file_changed_after_it_was_verified_yields_nothing_of_the_changed_part(tmp_path: Path) -> None:
    path = _two_sections(tmp_path / "two.bgmax")
    summary = bgmax.verify(path)
    original = path.read_bytes()
    # A payer's name in the second section, same length: still a well-formed file.
    path.write_bytes(original.replace(b"Kund 21", b"Kund X1"))
    got = []
    with pytest.raises(BgMaxError, match="section 2 is not what was verified"):
        for payment in bgmax.payments(path, summary):
            got.append(payment.payer_name)
    assert got == ["Kund 10", "Kund 11", "Kund 12"]  # the first section's, unchanged
    # In the first section: nothing is yielded.
    path.write_bytes(original.replace(b"Kund 10", b"Kund Y0"))
    with pytest.raises(BgMaxError, match="section 1 is not what was verified"):
        next(iter(bgmax.payments(path, summary)))
    # After the last section (a line added at the end): raised after the last payment.
    path.write_bytes(original + b"\r\n")
    with pytest.raises(BgMaxError, match="end of the file is not what was verified"):
        list(bgmax.payments(path, summary))


# --- The verifying pass's shortcut for the usual records checks what feeding each record checks ---

def _reference_verify(lines: list[bytes]) -> bgmax.Summary:
    """Every record read and fed to the checker: the definition the shortcut must meet."""
    checker = bgmax._Checker()
    for record in bgmax.read(lines):
        checker.feed(record)
    return checker.finish()


def _outcome(check: object, lines: list[bytes]) -> object:
    try:
        summary = check(lines)  # type: ignore[operator]
    except BgMaxError as exc:
        return ("error", exc.line, exc.reason)
    return ("summary", dataclasses.replace(summary, digests=()))


@functools.cache
def _base_lines() -> tuple[bytes, ...]:
    """The example file's lines when present, else a written file with every payer record."""
    if EXAMPLE is not None:
        return tuple(EXAMPLE.read_bytes().splitlines(keepends=True))
    with tempfile.TemporaryDirectory() as tmp:
        return tuple(_two_sections(Path(tmp) / "two.bgmax").read_bytes().splitlines(keepends=True))


_LINE_STARTS = ["01", "05", "15", "20", "21", "22", "23", "25", "26", "27", "28", "29", "70", "99", "2X", "  "]


@given(edits=st.lists(st.tuples(st.sampled_from(["char", "tk", "drop", "copy", "swap"]),
                                st.integers(0, 10_000), st.integers(0, 10_000),
                                st.sampled_from("0123456789 AZÅ-\x07²")), max_size=4))
def test_the_shortcut_for_usual_records_fails_and_succeeds_as_feeding_every_record(
        edits: list[tuple[str, int, int, str]]) -> None:
    """``bgmax._checked`` checks the usual TK20 and TK25-29 without building them; over
    Bankgirot's example file with random edits (a character changed, a record type changed,
    a line dropped, copied or moved), verifying gives the same summary, or the same error at
    the same line, as reading and feeding every record."""
    lines = list(_base_lines())
    for kind, i, j, char in edits:
        at, other = i % len(lines), j % len(lines)
        text = lines[at].decode("iso-8859-1")
        if kind == "char":
            col = j % 80
            text = text[:col] + char + text[col + 1:]
            lines[at] = text.encode("iso-8859-1")
        elif kind == "tk":
            lines[at] = (_LINE_STARTS[j % len(_LINE_STARTS)] + text[2:]).encode("iso-8859-1")
        elif kind == "drop" and len(lines) > 1:
            del lines[at]
        elif kind == "copy":
            lines.insert(other, lines[at])
        elif kind == "swap":
            lines[at], lines[other] = lines[other], lines[at]
    expected = _outcome(_reference_verify, lines)
    assert _outcome(bgmax.verify_lines, lines) == expected


# --------------------------------------------------------------------------- verify_ahead


@needs_example
def test_verify_ahead_verifies_in_a_child_and_gives_what_verify_gives(example: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # (As a command's process: no other thread. The suite's earlier tests may leave one behind.)
    monkeypatch.setattr(bgmax.threading, "active_count", lambda: 1)
    two = _two_sections(tmp_path / "two.bgmax")
    for path in (example, two):
        ahead = bgmax.verify_ahead(path)
        assert ahead.pid is not None  # forked
        summary = ahead.result()
        assert summary == bgmax.verify(path)
        assert summary.digests == bgmax.verify(path).digests  # (not compared by ==)
        assert [p.payment_id for p in bgmax.payments(path, verified=summary)] == \
               [p.payment_id for p in bgmax.payments(path)]
    lines = example_lines()
    lines[22] = lines[22][:78] + "4" + lines[22][79:]  # a deposit that counts 4 payments, not 3
    broken = write_lines(tmp_path / "broken.bgmax", lines)
    ahead = bgmax.verify_ahead(broken)
    assert ahead.pid is not None
    with pytest.raises(BgMaxError) as info:
        ahead.result()
    assert (info.value.line, info.value.reason) == (error_of(broken).line, error_of(broken).reason)


@needs_example
def test_verify_ahead_falls_back_to_verifying_here(example: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # A child that fails other than with a BgMaxError (here: a directory, not a file) leaves
    # it to this process, which raises what verify raises.
    monkeypatch.setattr(bgmax.threading, "active_count", lambda: 1)
    ahead = bgmax.verify_ahead(tmp_path)
    assert ahead.pid is not None
    with pytest.raises(IsADirectoryError):
        ahead.result()
    # No fork where the process runs threads (a fork would copy their held locks), or has no fork.
    monkeypatch.setattr(bgmax.threading, "active_count", lambda: 2)
    ahead = bgmax.verify_ahead(example)
    assert ahead.pid is None and ahead.result() == bgmax.verify(example)
    monkeypatch.undo()
    monkeypatch.delattr(bgmax.os, "fork")
    ahead = bgmax.verify_ahead(example)
    assert ahead.pid is None and ahead.result() == bgmax.verify(example)
