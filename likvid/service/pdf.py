"""Render customer letters as A4 PDF documents.

Jinja2 decides every word: `templates/pdf/{language}/{kind}.j2` (with `pdf/_layout.j2` and
`pdf/_sections.j2`) puts the phrases of `templates/{language}/_phrases.j2` - the same macros
the text and HTML letters use - into a small line-based markup, one element per line
("TAG:content", the tags are listed in `pdf/_layout.j2`). This module parses that markup and
only lays it out: positions, fonts, line breaks, page breaks and page numbers.

Engine: a small PDF 1.4 writer of its own (`_pdf_file`): one Flate-compressed content stream
per page (rules and boxes, then one text object), with the PDF core fonts Helvetica and
Helvetica-Bold in WinAnsi encoding (nothing embedded, nothing downloaded); ReportLab only
measures text (`stringWidth`: the core fonts' AFM widths). WinAnsi covers Swedish and most
Western European text (å ä ö é ü ø ß – ” · § €); any other character is printed as its base
letter (Ł -> L, ő -> o) or "?".

Layout (A4, 210 × 297 mm; distances from the page's top-left corner):

- margins 20 mm left and right (text width 170 mm); body ends 25 mm above the bottom edge;
- creditor header (name, org number, address, contact) top left from 15 mm; letter date and
  reference right-aligned at the right margin, from 15 mm;
- recipient address field for a window envelope with the window on the left (C5, and DL/E65
  with the sheet folded in three; window about 90 × 45 mm, 20 mm from the left edge, as in
  SS 63 10 18 practice): 20 mm from the left, 45 mm from the top, 90 × 45 mm. The address
  is printed 5 mm inside the field (x 25 mm, first line at 50 mm, at most 80 × 35 mm: a long
  address is set smaller, down to 7 pt, never cut) so that the play of the folded sheet in
  the envelope never hides a line; nothing else is printed in the field. Check the numbers
  against the envelope supplier's drawing before a print run;
- body from 100 mm on the first page, from 22 mm on later pages (which carry a running head
  with the creditor and the letter reference at 12 mm);
- footer on every page 13 mm above the bottom edge: creditor, org number, bankgiro, and the
  page number ("Sida N av M" / "Page N of M") at the right margin;
- a signature line (SIG: a payment plan's ort och datum, namnteckning, ...) is the label in a
  50 mm column and a rule from there to the right margin, 12 mm apart to leave room to write;
- a section (a heading and what follows it) is kept on one page when it fits on one, as
  the HTML letter's `break-inside: avoid`; a longer one (a long claim list) flows over
  pages, the claims table repeating its header row on every page it reaches.
"""

from __future__ import annotations

import hashlib
import unicodedata
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import jinja2
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

# The formatting filters and the paragraph splitting are the text and HTML letters' own, so
# an amount or a date reads exactly the same in every form of a letter.
from likvid.service.render import (
    _GLUED,
    LETTER_KINDS,
    _split_paragraphs,
    check_letter_args,
    new_environment,
)

__all__ = ["LETTER_KINDS", "render_markup", "render_pdf"]

# --- page geometry (points; y measured downwards from the top edge) ------------------------

PAGE_WIDTH, PAGE_HEIGHT = A4
LEFT = 20 * mm
RIGHT = PAGE_WIDTH - 20 * mm
WIDTH = RIGHT - LEFT
HEADER_TOP = 15 * mm
#: The address field of the window envelope: x, y (top), width, height.
ADDRESS_FIELD = (20 * mm, 45 * mm, 90 * mm, 45 * mm)
#: Distance of the printed address from the field's edges.
ADDRESS_INSET = 5 * mm
BODY_TOP_FIRST = 100 * mm
BODY_TOP_NEXT = 22 * mm
BODY_BOTTOM = PAGE_HEIGHT - 25 * mm
RUNNING_HEAD_BASELINE = 12 * mm
FOOTER_RULE = PAGE_HEIGHT - 18 * mm
FOOTER_BASELINE = PAGE_HEIGHT - 13 * mm

REGULAR = "Helvetica"
BOLD = "Helvetica-Bold"

# Names the renderer adds to the context; they win over keys of the same name.
_INJECTED = ("language", "kind", "subject")

_TAGS = frozenset(
    "TITLE PAGE RH FOOT SB S M A H1 H P PS PB PRE LI NOTE GAP KV TC TH T TS TN PAY SIG".split()
)
_TABLE_TAGS = frozenset({"TH", "T", "TS", "TN"})
#: Stands for "|" inside a table cell (the `cell` filter), so that "|" separates cells.
_CELL_PIPE = "\x1f"
_GLUE = "\x00"


def render_pdf(kind: str, language: str, context: Mapping[str, Any]) -> bytes:
    """Render one letter as an A4 PDF document.

    Raises ValueError for an unknown kind or language, and `jinja2.UndefinedError` when the
    templates need a context key that is missing (as `render_letter` does).
    """
    check_letter_args(kind, language, context)
    return _draw(_layout(_parse(render_markup(kind, language, context))))


def render_markup(kind: str, language: str, context: Mapping[str, Any]) -> str:
    """The tagged-line markup of one letter (what `render_pdf` lays out)."""
    variables = {key: value for key, value in context.items() if key not in _INJECTED}
    variables["language"] = language
    variables["kind"] = kind
    env = _environment()
    subject = env.get_template(f"{language}/{kind}.subject.j2").render(variables)
    variables["subject"] = " ".join(subject.split())
    return env.get_template(f"pdf/{language}/{kind}.j2").render(variables)


@cache
def _environment() -> jinja2.Environment:
    env = new_environment(autoescape=False, tag="pdf")
    env.filters["para"] = _para
    env.filters["lines"] = _lines
    env.filters["line"] = _line
    env.filters["cell"] = _cell
    return env


# --- markup filters -------------------------------------------------------------------------


def _para(value: Any, tag: str = "P") -> str:
    """Text of a phrase macro -> one tagged line per paragraph (blank lines separate them)."""
    return _tagged_paragraphs(str(value), str(tag))


@lru_cache(maxsize=4096)
def _tagged_paragraphs(text: str, tag: str) -> str:
    """Most paragraphs are the same in every letter: split once per process."""
    return "\n".join(f"{tag}:{paragraph}" for paragraph in _split_paragraphs(text))


def _lines(value: Any, tag: str = "PRE") -> str:
    """Text given line by line (such as the configured objection text) -> one tagged line each."""
    return "\n".join(
        f"{tag}:{text}"
        for text in (" ".join(row.split()) for row in str(value).splitlines())
        if text
    )


def _line(value: Any) -> str:
    """A value on one line: whitespace (newlines too) collapsed."""
    return " ".join(str(value).split())


def _cell(value: Any) -> str:
    """A value in a table cell: on one line, its "|" kept apart from the cell separator."""
    return _line(value).replace("|", _CELL_PIPE)


# --- parsing --------------------------------------------------------------------------------


def _printable(text: str) -> str:
    """Text the WinAnsi core fonts can print: other characters become their base letter."""
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        out.append(_printable_char(char))
    return "".join(out)


_FALLBACK = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "Ħ": "H", "ħ": "h", "\u2212": "-"}


@cache
def _printable_char(char: str) -> str:
    try:
        char.encode("cp1252")
        return char
    except UnicodeEncodeError:
        pass
    if char in _FALLBACK:
        return _FALLBACK[char]
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    try:
        base.encode("cp1252")
    except UnicodeEncodeError:
        return "?"
    return base or "?"


def _parse(markup: str) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for raw in _printable(markup).split("\n"):
        line = raw.strip()
        if not line:
            continue
        tag, separator, rest = line.partition(":")
        if not separator or tag not in _TAGS:
            raise ValueError(f"PDF markup line without a known tag: {line[:60]!r}")
        items.append((tag, rest.strip()))
    return items


def _cells(content: str) -> list[str]:
    return [cell.strip().replace(_CELL_PIPE, "|") for cell in content.split("|")]


# --- text measuring and wrapping ----------------------------------------------------------------

#: The width of a text in a font and size (points): words, cells and labels recur in every
#: letter, so they are measured once per process.
_width = lru_cache(maxsize=200_000)(stringWidth)


@lru_cache(maxsize=16384)
def _wrap(text: str, font: str, size: float, width: float) -> tuple[str, ...]:
    """Greedy line breaking; amounts, digit groups and units stay on one line. Cached: most
    paragraphs and cells read the same in every letter, and a table measures its cells more
    than once."""
    space = _width(" ", font, size)
    lines: list[str] = []
    current: list[str] = []
    used = 0.0
    for word in _GLUED.sub(_GLUE, text).split(" "):
        if not word:
            continue
        word = word.replace(_GLUE, " ")
        word_width = _width(word, font, size)
        if current and used + space + word_width > width:
            lines.append(" ".join(current))
            current, used = [], 0.0
        if not current and word_width > width:
            *full, word = _break_word(word, font, size, width)
            lines.extend(full)
            word_width = _width(word, font, size)
        used += word_width + (space if current else 0.0)
        current.append(word)
    if current:
        lines.append(" ".join(current))
    return tuple(lines) or ("",)


def _break_word(word: str, font: str, size: float, width: float) -> list[str]:
    pieces, piece = [], ""
    for char in word:
        if piece and stringWidth(piece + char, font, size) > width:
            pieces.append(piece)
            piece = ""
        piece += char
    pieces.append(piece)
    return pieces


# --- layout -----------------------------------------------------------------------------------


@dataclass
class _Page:
    #: ("line", x1, y1, x2, y2, width, gray) | ("rect", x, y, w, h, width, fill gray or None)
    graphics: list[tuple[Any, ...]] = field(default_factory=list)
    #: (font, size, gray, x, baseline y, text)
    texts: list[tuple[str, float, float, float, float, str]] = field(default_factory=list)


@dataclass
class _Document:
    pages: list[_Page]
    title: str = ""
    author: str = ""
    page_label: str = "{page} / {pages}"
    running_head: str = ""
    footer: str = ""


@dataclass(frozen=True)
class _TextStyle:
    font: str
    size: float
    leading: float
    indent: float = 0.0
    after: float = 0.0
    gray: float = 0.0


_STYLES = {
    "P": _TextStyle(REGULAR, 10, 13, after=5),
    "PB": _TextStyle(BOLD, 10, 13, after=5),
    "PS": _TextStyle(REGULAR, 9, 11.5, indent=5 * mm, after=3, gray=0.2),
    "PRE": _TextStyle(REGULAR, 10, 13, indent=5 * mm, after=1),
    "LI": _TextStyle(REGULAR, 10, 13, indent=5 * mm, after=3),
    "NOTE": _TextStyle(REGULAR, 9, 11.5, indent=4 * mm, after=5, gray=0.15),
}
_H1 = _TextStyle(BOLD, 15, 18, after=4 * mm)
_H = _TextStyle(BOLD, 11, 14)
#: Space above a section, by the tag it starts with (none at the top of a page).
_SECTION_BEFORE = {"H": 4 * mm, "GAP": 6 * mm}
_H_AFTER = 2 * mm
_KV = _TextStyle(BOLD, 10, 14, after=1)
_TABLE_SIZE = 8.5
_TABLE_LEADING = 10.5
_TABLE_PAD_X = 1.5 * mm
_TABLE_PAD_Y = 2.5
_NOTE_SIZE = 7.5
_NOTE_LEADING = 9.5
_PAY_LABEL = _TextStyle(REGULAR, 9.5, 16)
_PAY_VALUE = _TextStyle(BOLD, 11, 16)
_PAY_PAD = 3 * mm
#: A signature line: the label in a column this wide, then a rule to the right margin, with
#: room above it to write by hand.
_SIG_LABEL = _TextStyle(REGULAR, 9.5, 12 * mm)
_SIG_LABEL_WIDTH = 50 * mm


class _Layouter:
    """Lays body elements out top-down; `top_first`, `top_next` and `bottom` bound the body.
    A scratch layouter (bottom = inf) measures a section before it is placed."""

    def __init__(
        self,
        top_first: float = BODY_TOP_FIRST,
        top_next: float = BODY_TOP_NEXT,
        bottom: float = BODY_BOTTOM,
    ) -> None:
        self.top_first = top_first
        self.top_next = top_next
        self.bottom = bottom
        self.pages = [_Page()]
        self.y = top_first
        self.last_tag = ""

    @property
    def page(self) -> _Page:
        return self.pages[-1]

    @property
    def at_top(self) -> bool:
        return self.y <= (self.top_first if len(self.pages) == 1 else self.top_next)

    def new_page(self) -> None:
        self.pages.append(_Page())
        self.y = self.top_next

    def need(self, height: float) -> bool:
        """Start a new page unless `height` fits below the cursor; True when it did."""
        if self.y + height > self.bottom and not self.at_top:
            self.new_page()
            return True
        return False

    def section(self, items: list[tuple[str, str]]) -> None:
        """Place a section (a heading and what follows it up to the next one) whole: on this
        page when it fits, else at the top of the next; only a section longer than a page
        flows over pages (as the HTML letter's `break-inside: avoid`)."""
        before = 0.0 if self.at_top else _SECTION_BEFORE.get(items[0][0], 0.0)
        scratch = _Layouter(0.0, 0.0, float("inf"))
        _flow(scratch, items)
        height = scratch.y
        if self.y + before + height <= self.bottom:
            offset = self.y + before
        elif height <= self.bottom - self.top_next:
            self.new_page()
            offset = self.y
        else:
            self.y += before
            _flow(self, items)
            return
        page = self.page
        for op in scratch.page.graphics:
            if op[0] == "line":
                page.graphics.append((*op[:2], op[2] + offset, op[3], op[4] + offset, *op[5:]))
            else:
                page.graphics.append((*op[:2], op[2] + offset, *op[3:]))
        for font, size, gray, x, baseline, text in scratch.page.texts:
            page.texts.append((font, size, gray, x, baseline + offset, text))
        self.y = offset + height

    def text(self, style: _TextStyle, x: float, baseline: float, text: str) -> None:
        self.page.texts.append((style.font, style.size, style.gray, x, baseline, text))

    def raw_text(
        self, font: str, size: float, x: float, baseline: float, text: str, gray: float = 0.0
    ) -> None:
        self.page.texts.append((font, size, gray, x, baseline, text))

    def rule(self, y: float, width: float = 0.5, gray: float = 0.0, x1: float = LEFT) -> None:
        self.page.graphics.append(("line", x1, y, RIGHT, y, width, gray))

    # -- flowing elements --

    def heading1(self, text: str) -> None:
        for line in _wrap(text, _H1.font, _H1.size, WIDTH):
            self.need(_H1.leading)
            self.text(_H1, LEFT, self.y + _H1.size, line)
            self.y += _H1.leading
        self.y += _H1.after

    def heading(self, text: str) -> None:
        lines = _wrap(text, _H.font, _H.size, WIDTH)
        # Keep the heading with at least three lines of what follows it.
        self.need(len(lines) * _H.leading + _H_AFTER + 3 * 13)
        for line in lines:
            self.text(_H, LEFT, self.y + _H.size, line)
            self.y += _H.leading
        self.rule(self.y - 1.5, 0.5, 0.6)
        self.y += _H_AFTER

    def paragraph(self, tag: str, text: str) -> None:
        style = _STYLES[tag]
        lines = _wrap(text, style.font, style.size, WIDTH - style.indent)
        if tag == "NOTE":
            self._note(style, lines)
            return
        for index, line in enumerate(lines):
            self.need(style.leading)
            baseline = self.y + style.size
            if tag == "LI" and index == 0:
                self.text(style, LEFT + 1 * mm, baseline, "\u2022")
            self.text(style, LEFT + style.indent, baseline, line)
            self.y += style.leading
        self.y += style.after

    def _note(self, style: _TextStyle, lines: tuple[str, ...]) -> None:
        pad = 2 * mm
        height = len(lines) * style.leading + 2 * pad
        self.need(height)
        self.page.graphics.append(("rect", LEFT, self.y, WIDTH, height, 0, 0.94))
        self.page.graphics.append(("rect", LEFT, self.y, 1 * mm, height, 0, 0.55))
        y = self.y + pad
        for line in lines:
            self.text(style, LEFT + style.indent, y + style.size, line)
            y += style.leading
        self.y += height + style.after

    def key_value(self, content: str) -> None:
        label, value = (_cells(content) + ["", ""])[:2]
        self.need(_KV.leading)
        baseline = self.y + _KV.size
        self.text(_KV, LEFT, baseline, label)
        self.text(_KV, RIGHT - _width(value, _KV.font, _KV.size), baseline, value)
        self.y += _KV.leading + _KV.after

    def signature_line(self, label: str) -> None:
        """A label and a rule to write on (ort och datum, namnteckning, ...)."""
        self.need(_SIG_LABEL.leading)
        baseline = self.y + _SIG_LABEL.leading - 2 * mm
        # A long label is set smaller, never cut or wrapped away from its line.
        size = _fit(label, _SIG_LABEL.font, _SIG_LABEL.size, _SIG_LABEL_WIDTH - 3 * mm)
        self.raw_text(_SIG_LABEL.font, size, LEFT, baseline, label)
        self.rule(baseline + 1, 0.6, 0.0, x1=LEFT + _SIG_LABEL_WIDTH)
        self.y += _SIG_LABEL.leading

    # -- the payment box --

    def payment_box(self, rows: list[list[str]]) -> None:
        labels = [(row + [""])[0] for row in rows]
        values = [(row + ["", ""])[1] for row in rows]
        label_width = max(_width(t, _PAY_LABEL.font, _PAY_LABEL.size) for t in labels) + 8 * mm
        value_width = max(_width(t, _PAY_VALUE.font, _PAY_VALUE.size) for t in values)
        box_width = min(WIDTH, max(110 * mm, label_width + value_width + 2 * _PAY_PAD))
        height = len(rows) * _PAY_VALUE.leading + 2 * _PAY_PAD
        self.y += 1 * mm
        self.need(height)
        self.page.graphics.append(("rect", LEFT, self.y, box_width, height, 1.3, None))
        y = self.y + _PAY_PAD
        for label, value in zip(labels, values, strict=True):
            baseline = y + _PAY_VALUE.size
            self.text(_PAY_LABEL, LEFT + _PAY_PAD, baseline, label)
            self.text(_PAY_VALUE, LEFT + _PAY_PAD + label_width, baseline, value)
            y += _PAY_VALUE.leading
        self.y += height + 4 * mm

    # -- tables --

    def table(self, aligns: list[str], rows: list[tuple[str, str]]) -> None:
        header = next((_cells(c) for tag, c in rows if tag == "TH"), None)
        groups: list[tuple[str, list[str], list[str]]] = []  # (tag, cells, notes)
        for tag, content in rows:
            if tag in ("T", "TS"):
                groups.append((tag, _cells(content), []))
            elif tag == "TN" and groups:
                groups[-1][2].append(content)
        widths = _column_widths(aligns, header, [(tag, cells) for tag, cells, _ in groups])
        # Each row's spans and height are worked out once: for the page break and the drawing.
        header_spans = _spans(header, widths) if header else []
        header_height = self._row_height(header_spans, BOLD) if header else 0.0
        first = groups[0] if groups else None
        first_height = self._group_height(first, widths) if first else 0.0
        self.need(header_height + first_height)
        if header:
            self._draw_row(header_spans, aligns, widths, BOLD, header_height)
            self.rule(self.y, 0.7)
        for tag, cells, notes in groups:
            font = BOLD if tag == "TS" else REGULAR
            spans = _spans(cells, widths)
            row_height = self._row_height(spans, font)
            if self.need(_with_notes(row_height, notes)) and header:
                self._draw_row(header_spans, aligns, widths, BOLD, header_height)
                self.rule(self.y, 0.7)
            if tag == "TS":
                self.rule(self.y, 0.7)
            self._draw_row(spans, aligns, widths, font, row_height)
            for note in notes:
                for line in _wrap(note, REGULAR, _NOTE_SIZE, WIDTH - 2 * _TABLE_PAD_X):
                    self.raw_text(
                        REGULAR, _NOTE_SIZE, LEFT + _TABLE_PAD_X, self.y + _NOTE_SIZE, line, 0.3
                    )
                    self.y += _NOTE_LEADING
            if notes:
                self.y += _TABLE_PAD_Y
            if tag == "T":
                self.rule(self.y, 0.3, 0.75)
        self.y += 4 * mm

    def _group_height(self, group: tuple[str, list[str], list[str]], widths: list[float]) -> float:
        tag, cells, notes = group
        font = BOLD if tag == "TS" else REGULAR
        return _with_notes(self._row_height(_spans(cells, widths), font), notes)

    def _row_height(self, spans: list[tuple[str, float, float]], font: str) -> float:
        lines = max(
            len(_wrap(text, font, _TABLE_SIZE, span - 2 * _TABLE_PAD_X)) for text, _, span in spans
        )
        return lines * _TABLE_LEADING + 2 * _TABLE_PAD_Y

    def _draw_row(
        self,
        spans: list[tuple[str, float, float]],
        aligns: list[str],
        widths: list[float],
        font: str,
        height: float,
    ) -> None:
        for text, start, span in spans:
            column = _column_at(widths, start)
            x = LEFT + start
            baseline = self.y + _TABLE_PAD_Y + _TABLE_SIZE
            for line in _wrap(text, font, _TABLE_SIZE, span - 2 * _TABLE_PAD_X):
                if aligns[column] == "r":
                    line_x = x + span - _TABLE_PAD_X - _width(line, font, _TABLE_SIZE)
                else:
                    line_x = x + _TABLE_PAD_X
                self.raw_text(font, _TABLE_SIZE, line_x, baseline, line)
                baseline += _TABLE_LEADING
        self.y += height


def _with_notes(height: float, notes: list[str]) -> float:
    """The height of a table row with the notes under it."""
    for note in notes:
        height += _NOTE_LEADING * len(_wrap(note, REGULAR, _NOTE_SIZE, WIDTH - 2 * _TABLE_PAD_X))
    return height + (_TABLE_PAD_Y if notes else 0.0)


def _spans(cells: list[str], widths: list[float]) -> list[tuple[str, float, float]]:
    """(text, x offset, width) of each non-empty cell; a cell runs on over the empty cells after
    it (a label such as "Totalt" over the columns it does not fill)."""
    spans: list[tuple[str, float, float]] = []
    offset = 0.0
    column = 0
    count = len(widths)
    while column < count:
        text = cells[column] if column < len(cells) else ""
        end = column + 1
        while text and end < count and not (cells[end] if end < len(cells) else ""):
            end += 1
        width = sum(widths[column:end])
        if text:
            spans.append((text, offset, width))
        offset += width
        column = end
    return spans


def _column_at(widths: list[float], offset: float) -> int:
    total = 0.0
    for index, width in enumerate(widths):
        if offset < total + width - 0.01:
            return index
        total += width
    return len(widths) - 1


def _column_widths(
    aligns: list[str], header: list[str] | None, rows: list[tuple[str, list[str]]]
) -> list[float]:
    """Natural widths (widest single-column cell), then widened to the text width; too wide
    a table narrows (and wraps) its left-aligned columns first."""
    count = len(aligns)
    natural = [0.0] * count
    measured = ([(BOLD, header)] if header else []) + [
        (BOLD if tag == "TS" else REGULAR, cells) for tag, cells in rows
    ]
    for font, cells in measured:
        cells = (cells + [""] * count)[:count]
        for column, text in enumerate(cells):
            if not text:
                continue
            single = column + 1 >= count or bool(cells[column + 1])
            if single or aligns[column] == "r":
                natural[column] = max(natural[column], _width(text, font, _TABLE_SIZE))
    natural = [width + 2 * _TABLE_PAD_X for width in natural]
    total = sum(natural)
    if total <= WIDTH:
        return [width * WIDTH / total for width in natural] if total else [WIDTH / count] * count
    fixed = sum(w for w, a in zip(natural, aligns, strict=True) if a == "r")
    flexible = total - fixed
    if fixed < WIDTH and flexible:
        scale = (WIDTH - fixed) / flexible
        return [w if a == "r" else w * scale for w, a in zip(natural, aligns, strict=True)]
    return [width * WIDTH / total for width in natural]


def _layout(items: list[tuple[str, str]]) -> _Document:
    document = _Document(pages=[])
    sender: list[tuple[str, str]] = []
    meta: list[str] = []
    address: list[str] = []
    body: list[tuple[str, str]] = []
    for tag, content in items:
        if tag == "TITLE":
            document.title = content
        elif tag == "PAGE":
            document.page_label = content
        elif tag == "RH":
            document.running_head = content
        elif tag == "FOOT":
            document.footer = content
        elif tag in ("SB", "S"):
            sender.append((tag, content))
            if tag == "SB" and not document.author:
                document.author = content
        elif tag == "M":
            meta.append(content)
        elif tag == "A":
            address.append(content)
        else:
            body.append((tag, content))
    layouter = _Layouter()
    # Sections start at a heading or a gap; what comes before the first one flows.
    starts = [i for i, (tag, _) in enumerate(body) if tag in _SECTION_BEFORE] + [len(body)]
    _flow(layouter, body[: starts[0]])
    for start, end in zip(starts, starts[1:], strict=False):
        layouter.section(body[start:end])
    _first_page_head(layouter.pages[0], sender, meta, address)
    document.pages = layouter.pages
    return document


def _flow(layouter: _Layouter, items: list[tuple[str, str]]) -> None:
    index = 0
    while index < len(items):
        tag, content = items[index]
        index += 1
        if layouter.last_tag == "PRE" and tag != "PRE":
            layouter.y += 4
        layouter.last_tag = tag
        if tag == "H1":
            layouter.heading1(content)
        elif tag == "H":
            layouter.heading(content)
        elif tag in _STYLES:
            layouter.paragraph(tag, content)
        elif tag == "KV":
            layouter.key_value(content)
        elif tag == "SIG":
            layouter.signature_line(content)
        elif tag == "GAP":
            pass  # the space above a section (`_SECTION_BEFORE`)
        elif tag == "PAY":
            rows = [_cells(content)]
            while index < len(items) and items[index][0] == "PAY":
                rows.append(_cells(items[index][1]))
                index += 1
            layouter.payment_box(rows)
        elif tag == "TC":
            aligns = ["r" if a.strip() == "r" else "l" for a in content.split("|")]
            start = index
            while index < len(items) and items[index][0] in _TABLE_TAGS:
                index += 1
            layouter.table(aligns, items[start:index])
        else:
            raise ValueError(f"PDF markup: a {tag} line is out of place")


def _first_page_head(
    page: _Page, sender: list[tuple[str, str]], meta: list[str], address: list[str]
) -> None:
    # Date and reference, right-aligned at the right margin.
    meta_size = 9.0
    meta_width = max((_width(t, REGULAR, meta_size) for t in meta), default=0.0)
    y = HEADER_TOP
    for text in meta:
        x = RIGHT - _width(text, REGULAR, meta_size)
        page.texts.append((REGULAR, meta_size, 0.0, x, y + meta_size, text))
        y += 11.5
    # Creditor header, top left, kept clear of the date column.
    room = WIDTH - meta_width - 6 * mm
    y = HEADER_TOP
    for tag, text in sender:
        font, size, leading = (BOLD, 11.0, 14.0) if tag == "SB" else (REGULAR, 8.5, 10.5)
        for line in _wrap(text, font, size, room):
            page.texts.append((font, size, 0.0, LEFT, y + size, line))
            y += leading
    # Recipient in the envelope window: shrunk (down to 7 pt) rather than cut if it is long.
    field_x, field_y, field_w, field_h = ADDRESS_FIELD
    room_w = field_w - 2 * ADDRESS_INSET
    room_h = field_h - 2 * ADDRESS_INSET
    size = 10.0
    while size > 7 and (
        len(address) * size * 1.25 > room_h
        or any(_width(line, REGULAR, size) > room_w for line in address)
    ):
        size -= 0.5
    y = field_y + ADDRESS_INSET
    for line in address:
        page.texts.append((REGULAR, size, 0.0, field_x + ADDRESS_INSET, y + size, line))
        y += size * 1.25


# --- drawing ----------------------------------------------------------------------------------


def _draw(document: _Document) -> bytes:
    total = len(document.pages)
    streams = []
    for number, page in enumerate(document.pages, start=1):
        _page_furniture(document, page, number, total)
        content = _CONTENT_START + _page_content(page, _FONT_NAMES) + _CONTENT_END
        streams.append(zlib.compress(content.encode("ascii")))
    return _pdf_file(document, streams)


#: The resource names of the two core fonts in every page's content stream.
_FONT_NAMES = {REGULAR: "/F1", BOLD: "/F2"}
#: What every page's content stream starts and ends with (the opening sets the text state,
#: as the ReportLab canvas this writer replaced did; the content reads exactly as before).
_CONTENT_START = "1 0 0 1 0 0 cm  BT /F1 12 Tf 14.4 TL ET\n"
_CONTENT_END = "\n \n"
#: Objects 1-5; each page then has its page object and its content stream.
_CATALOG, _PAGES, _FONT_REGULAR, _FONT_BOLD, _INFO = 1, 2, 3, 4, 5
_FIXED_OBJECTS = (
    (_CATALOG, b"<< /Type /Catalog /Pages 2 0 R /PageMode /UseNone >>"),
    (
        _FONT_REGULAR,
        b"<< /Type /Font /Subtype /Type1 /Name /F1 /BaseFont /Helvetica"
        b" /Encoding /WinAnsiEncoding >>",
    ),
    (
        _FONT_BOLD,
        b"<< /Type /Font /Subtype /Type1 /Name /F2 /BaseFont /Helvetica-Bold"
        b" /Encoding /WinAnsiEncoding >>",
    ),
)
_MEDIA_BOX = f"[0 0 {PAGE_WIDTH:.4f} {PAGE_HEIGHT:.4f}]"
_PAGE_OBJECT = (
    f"<< /Type /Page /Parent {_PAGES} 0 R /MediaBox {_MEDIA_BOX} /Rotate 0"
    f" /Resources << /Font << /F1 {_FONT_REGULAR} 0 R /F2 {_FONT_BOLD} 0 R >>"
    " /ProcSet [/PDF /Text] >> /Contents {contents} 0 R >>"
)


def _pdf_file(document: _Document, streams: list[bytes]) -> bytes:
    """A PDF 1.4 file: catalog, page tree, the two core fonts (not embedded), the document
    information and, per page, its page object and Flate-compressed content stream; a
    cross-reference table with the byte offset of every object."""
    first_page = _INFO + 1
    kids = " ".join(f"{first_page + 2 * index} 0 R" for index in range(len(streams)))
    objects: list[tuple[int, bytes]] = [
        *_FIXED_OBJECTS,
        (_PAGES, f"<< /Type /Pages /Count {len(streams)} /Kids [{kids}] >>".encode("ascii")),
        (
            _INFO,
            (
                f"<< /Title {_text_string(document.title)}"
                f" /Author {_text_string(document.author)}"
                f" /Subject {_text_string(document.title)} /Creator (Likvid) /Producer (Likvid) >>"
            ).encode("ascii"),
        ),
    ]
    for index, stream in enumerate(streams):
        number = first_page + 2 * index
        objects.append((number, _PAGE_OBJECT.format(contents=number + 1).encode("ascii")))
        objects.append(
            (
                number + 1,
                b"<< /Length %d /Filter /FlateDecode >>\nstream\n%b\nendstream" % (len(stream), stream),
            )
        )
    objects.sort()
    out = [b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"]
    offsets = []
    position = len(out[0])
    for number, body in objects:
        offsets.append(position)
        chunk = b"%d 0 obj\n%b\nendobj\n" % (number, body)
        out.append(chunk)
        position += len(chunk)
    size = len(objects) + 1
    file_id = hashlib.md5(b"".join(out), usedforsecurity=False).hexdigest()
    out.append(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    out.append(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.append(
        b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%b> <%b>] >>\nstartxref\n%d\n%%%%EOF\n"
        % (size, _CATALOG, _INFO, file_id.encode(), file_id.encode(), position)
    )
    return b"".join(out)


def _text_string(text: str) -> str:
    """A PDF text string (document information): printable ASCII as a literal, anything else
    as UTF-16BE with a byte order mark."""
    if text.isascii() and text.isprintable():
        return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


def _page_furniture(document: _Document, page: _Page, number: int, total: int) -> None:
    label = document.page_label.replace("{page}", str(number)).replace("{pages}", str(total))
    label_width = _width(label, BOLD, 8)
    page.graphics.append(("line", LEFT, FOOTER_RULE, RIGHT, FOOTER_RULE, 0.4, 0.6))
    page.texts.append((BOLD, 8, 0.0, RIGHT - label_width, FOOTER_BASELINE, label))
    size = _fit(document.footer, REGULAR, 7.5, WIDTH - label_width - 5 * mm)
    page.texts.append((REGULAR, size, 0.25, LEFT, FOOTER_BASELINE, document.footer))
    if number > 1 and document.running_head:
        size = _fit(document.running_head, REGULAR, 8, WIDTH)
        page.texts.append((REGULAR, size, 0.25, LEFT, RUNNING_HEAD_BASELINE, document.running_head))
        rule_y = RUNNING_HEAD_BASELINE + 2.5 * mm
        page.graphics.append(("line", LEFT, rule_y, RIGHT, rule_y, 0.4, 0.6))


def _fit(text: str, font: str, size: float, width: float) -> float:
    """The largest size down to 5 pt at which `text` fits `width` on one line."""
    while size > 5 and _width(text, font, size) > width:
        size -= 0.5
    return size


def _page_content(page: _Page, fonts: Mapping[str, str]) -> str:
    """The page's PDF operators: rules and boxes first, then one text object."""
    top = PAGE_HEIGHT
    out: list[str] = []
    for op in page.graphics:
        if op[0] == "line":
            _, x1, y1, x2, y2, width, gray = op
            out.append(
                f"{width:.2f} w {gray:.2f} G {x1:.2f} {top - y1:.2f} m {x2:.2f} {top - y2:.2f} l S"
            )
        else:
            _, x, y, w, h, width, fill = op
            if fill is None:
                out.append(f"{width:.2f} w 0 G {x:.2f} {top - y - h:.2f} {w:.2f} {h:.2f} re S")
            else:
                out.append(f"{fill:.2f} g {x:.2f} {top - y - h:.2f} {w:.2f} {h:.2f} re f")
    out.append("BT")
    current: tuple[str, float] | None = None
    current_gray = -1.0
    for font, size, gray, x, baseline, text in page.texts:
        if (font, size) != current:
            out.append(f"{fonts[font]} {size:g} Tf")
            current = (font, size)
        if gray != current_gray:
            out.append(f"{gray:.2f} g")
            current_gray = gray
        out.append(f"1 0 0 1 {x:.2f} {top - baseline:.2f} Tm ({_pdf_string(text)}) Tj")
    out.append("ET")
    return "\n".join(out)


#: WinAnsi bytes as a PDF string literal: ASCII as is (\ ( ) escaped), the rest as octal.
_STRING_ESCAPES = {b: f"\\{b:03o}" for b in range(256) if b < 32 or b > 126} | {
    ord("\\"): "\\\\",
    ord("("): "\\(",
    ord(")"): "\\)",
}
_strings: dict[str, str] = {}


def _pdf_string(text: str) -> str:
    escaped = _strings.get(text)
    if escaped is None:
        escaped = text.encode("cp1252", "replace").decode("latin-1").translate(_STRING_ESCAPES)
        if len(_strings) < 100_000:
            _strings[text] = escaped
    return escaped
