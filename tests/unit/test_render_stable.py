"""Every letter reads exactly as it did: golden files of every kind in both languages.

For each case (every kind in `LETTER_KINDS + OTHER_KINDS` x ("sv", "en") from
`samples.sample_context`, plus a few harder contexts: many claims over pages, a protected
identity's forwarding address, characters outside WinAnsi, PDF string escapes, a long word
and a long address) the test compares with `tests/golden/letters/`:

- ``CASE.subject.txt``, ``CASE.txt``, ``CASE.html``: `render_letter` byte for byte;
- ``CASE.markup.txt``: the PDF markup (`render_markup`) byte for byte;
- ``CASE.pdf.txt``: the PDF read back with pypdf, independent of how it is written: the
  document information (title, author, subject, creator), per page the media box, rotation,
  fonts (base font, subtype, encoding), the decompressed content stream (every position,
  font, size, gray and string as drawn) and the extracted text.

The golden files were written from the code before the rendering was made faster (commit
"golden letters"). Regenerate them only for an intended change of wording or layout:
``LIKVID_WRITE_GOLDEN=1 uv run pytest tests/unit/test_render_stable.py`` (the run then skips
every case after writing it), and review the diff.
"""

from __future__ import annotations

import collections
import io
import os
import re
import shutil
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from likvid.service.pdf import render_markup, render_pdf
from likvid.service.render import LANGUAGES, LETTER_KINDS, OTHER_KINDS, _Environment, render_letter
from likvid.service.samples import sample_context
from tests.support.letters import with_claims

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "letters"
WRITE = os.environ.get("LIKVID_WRITE_GOLDEN") == "1"


def _protected(context: dict[str, Any]) -> dict[str, Any]:
    context["recipient"] = {
        "name": "Anna Andersson",
        "address_lines": ["c/o Skatteverket (förmedling)", "Box 2820", "403 20 Göteborg"],
        "protected": True,
    }
    return context


def _awkward(context: dict[str, Any]) -> dict[str, Any]:
    """Characters outside WinAnsi, PDF string escapes, HTML specials, a cell separator, a
    word longer than a table column and an address too long for the window at 10 pt."""
    context["recipient"] = {
        "name": "Łukasz Wójcik-Ærø (förvaltare) \\ Bo & Co <AB> “citat” 😀",
        "address_lines": [
            "c/o Förvaltningsbolaget Östra Göinge Fastighetsförvaltning och Service AB",
            "Långa Vägen 1234567890 lgh 1101, våning 11, ingång från gården (porttelefon)",
            "Box 12345",
            "457 31 Tanumshede",
            "Sverige",
        ],
        "protected": False,
    }
    context["claims"][0]["invoice_number"] = "A|B-1"
    context["claims"][0]["description"] = (
        "Vatten\nP:och avlopp, anläggningsavgiftsdebiteringsunderlagsberäkningsperiod"
        "sammanställningsrapport (ő ŀ ħ −)"
    )
    context["claims"][1]["description"] = "Sophämtning <b>&amp;</b> ) ( \\ 100 % 1 234 kr"
    context["objection"]["how"] = "Ring (dagtid) 0525-180 00\n\nSkriv till <oss> & \\ Ekonomi"
    return context


def _case_context(
    kind: str, language: str, change: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> dict[str, Any]:
    context = sample_context(kind, language)
    return change(context) if change else context


CASES: dict[str, tuple[str, str, Callable[[dict[str, Any]], dict[str, Any]] | None]] = {
    f"{kind}.{language}": (kind, language, None)
    for kind in LETTER_KINDS + OTHER_KINDS
    for language in LANGUAGES
}
for _language in LANGUAGES:
    CASES[f"reminder-10-claims.{_language}"] = (
        "reminder",
        _language,
        lambda c: with_claims(c, 10),
    )
    CASES[f"collection_demand-60-claims.{_language}"] = (
        "collection_demand",
        _language,
        lambda c: with_claims(c, 60),
    )
    CASES[f"payment_plan-protected.{_language}"] = ("payment_plan", _language, _protected)
    CASES[f"reminder-awkward.{_language}"] = ("reminder", _language, _awkward)


def _plain(value: Any) -> Any:
    """A pypdf object as plain, comparable Python (indirect objects resolved)."""
    if isinstance(value, IndirectObject):
        value = value.get_object()
    if isinstance(value, DictionaryObject):
        return {str(key): _plain(value[key]) for key in sorted(value)}
    if isinstance(value, ArrayObject):
        return [_plain(item) for item in value]
    if isinstance(value, NameObject):
        return str(value)
    if isinstance(value, float | int):
        return repr(float(value)) if isinstance(value, float) else repr(value)
    return repr(str(value))


def pdf_dump(pdf: bytes) -> str:
    """What a PDF shows, whoever wrote it: document information, and per page the media box,
    rotation, fonts, content stream and extracted text."""
    assert pdf.startswith(b"%PDF-1.")
    reader = PdfReader(io.BytesIO(pdf), strict=True)
    info = reader.metadata or {}
    out = [f"{key}: {info.get(key)}" for key in ("/Title", "/Author", "/Subject", "/Creator")]
    out.append(f"pages: {len(reader.pages)}")
    for number, page in enumerate(reader.pages, start=1):
        out.append(f"=== page {number}")
        out.append(f"mediabox: {[float(v) for v in page.mediabox]}")
        out.append(f"rotate: {page.rotation}")
        fonts = page["/Resources"].get_object()["/Font"].get_object()
        for name in sorted(fonts):
            font = fonts[name].get_object()
            described = {
                key: _plain(font[key])
                for key in ("/Type", "/Subtype", "/BaseFont", "/Encoding")
                if key in font
            }
            out.append(f"font {name}: {described}")
        out.append("--- content")
        out.append(page.get_contents().get_data().decode("latin-1"))
        out.append("--- text")
        out.append(page.extract_text())
    return "\n".join(out) + "\n"


def _check(name: str, actual: str) -> None:
    path = GOLDEN / name
    if WRITE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
        return
    assert path.exists(), f"no golden file {path} (LIKVID_WRITE_GOLDEN=1 writes it)"
    expected = path.read_bytes().decode("utf-8")
    if actual != expected:
        for index, (a, e) in enumerate(zip(actual.splitlines(), expected.splitlines(), strict=False)):
            if a != e:
                pytest.fail(f"{name} differs at line {index + 1}:\n  now:    {a!r}\n  golden: {e!r}")
        pytest.fail(f"{name} differs in length: {len(actual)} now, {len(expected)} golden")


@pytest.mark.parametrize("case", sorted(CASES))
def test_text_and_html_are_unchanged(case: str) -> None:
    kind, language, change = CASES[case]
    letter = render_letter(kind, language, _case_context(kind, language, change))
    _check(f"{case}.subject.txt", letter.subject + "\n")
    _check(f"{case}.txt", letter.text)
    _check(f"{case}.html", letter.html)
    if WRITE:
        pytest.skip("golden files written")


@pytest.mark.parametrize("case", sorted(CASES))
def test_pdf_markup_and_pdf_are_unchanged(case: str) -> None:
    kind, language, change = CASES[case]
    context = _case_context(kind, language, change)
    _check(f"{case}.markup.txt", render_markup(kind, language, context))
    _check(f"{case}.pdf.txt", pdf_dump(render_pdf(kind, language, context)))
    if WRITE:
        pytest.skip("golden files written")


def test_every_kind_and_language_has_golden_files() -> None:
    """No kind slips through: a new kind needs its golden files."""
    expected = {
        f"{kind}.{language}.{suffix}"
        for kind in LETTER_KINDS + OTHER_KINDS
        for language in LANGUAGES
        for suffix in ("subject.txt", "txt", "html", "markup.txt", "pdf.txt")
    }
    present = {path.name for path in GOLDEN.iterdir()}
    assert expected <= present, sorted(expected - present)


@pytest.mark.parametrize("case", ["reminder.sv", "collection_demand-60-claims.en", "reminder-awkward.sv"])
def test_pdf_file_is_well_formed(case: str, tmp_path: Path) -> None:
    """The cross-reference table points at every object, startxref at the table, every
    stream's /Length is its length; poppler (when installed, always under CI) reads the file
    without a complaint."""
    kind, language, change = CASES[case]
    pdf = render_pdf(kind, language, _case_context(kind, language, change))
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    table = pdf.rindex(b"\nxref\n") + 1
    assert int(pdf[pdf.rindex(b"startxref\n") + 10 :].split()[0]) == table
    lines = pdf[table:].split(b"\n")
    first, count = (int(v) for v in lines[1].split())
    assert first == 0 and lines[2] == b"0000000000 65535 f "
    entries = lines[3 : 2 + count]
    assert len(entries) == count - 1 and re.search(rb"/Size %d\b" % count, pdf)
    for number, entry in enumerate(entries, start=1):
        assert len(entry) == 19 and entry.endswith(b" 00000 n ")
        offset = int(entry[:10])
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number), number
    streams = re.findall(rb"/Length (\d+) /Filter /FlateDecode >>\nstream\n", pdf)
    assert len(streams) == len(PdfReader(io.BytesIO(pdf)).pages)
    for match in re.finditer(rb"/Length (\d+) /Filter /FlateDecode >>\nstream\n", pdf):
        end = match.end() + int(match.group(1))
        assert pdf[end : end + 10] == b"\nendstream"
        zlib.decompress(pdf[match.end() : end])
    if shutil.which("pdftotext") or os.environ.get("CI"):  # .ci/run installs poppler-utils
        path = tmp_path / "letter.pdf"
        path.write_bytes(pdf)
        result = subprocess.run(
            ["pdftotext", str(path), "-"], capture_output=True, text=True, timeout=60, check=True
        )
        assert result.stderr == "" and "L-2026-000417" in result.stdout


def test_dict_lookup_reads_as_in_plain_jinja() -> None:
    """The environment's quicker ``value.key`` on a plain dict gives what Jinja's own does: an
    attribute of the dict (a method) before a key of that name, a key, and for a missing key
    the strict undefined error; other mappings go Jinja's own way."""
    source = (
        "{{ d.items is callable }} {{ d.key }} {{ d.get('key') }} {{ o.key }} {{ d.__class__.__name__ }}"
        " {{ d['items'] }} {{ n.inner.key }}"
    )
    values = {
        "d": {"key": "value", "items": "an item"},
        "o": collections.OrderedDict(key="ordered"),
        "n": {"inner": {"key": 17}},
    }
    ours = _Environment(undefined=jinja2.StrictUndefined).from_string(source)
    plain = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(source)
    assert ours.render(values) == plain.render(values) == "True value value ordered dict an item 17"
    for missing in ("{{ d.nothing }}", "{{ n.inner.nothing }}", "{{ o.nothing }}"):
        with pytest.raises(jinja2.UndefinedError) as ours_error:
            _Environment(undefined=jinja2.StrictUndefined).from_string(missing).render(values)
        with pytest.raises(jinja2.UndefinedError) as plain_error:
            jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(missing).render(values)
        assert str(ours_error.value) == str(plain_error.value)
