"""Render customer letters (reminders, collection demands, hand-off notices, objection
acknowledgements, deferral confirmations, payment plans for signature, broken-plan notices and
review decisions) from Jinja2 templates in `likvid.templates`.

All wording lives in the templates: `templates/{language}/_phrases.j2` holds the sentences of
one language, `templates/_letter.{txt,html}.j2` and `templates/_sections.{txt,html}.j2` the
layout, and `templates/{language}/{kind}.{txt,html,subject}.j2` are the entry points that put
the sections of one letter in order. This module only chooses the templates, supplies the
filters and fails loudly on anything missing (StrictUndefined).

Filters (they read the letter's language from the render context):

- ``kr``: öre (int) -> "1 234,50 kr" / "SEK 1,234.50" (`likvid.rules.money.format_kronor`)
- ``datum``: `datetime.date` -> "2026-11-29" in both languages
- ``pct``: basis points (int) -> "10,50 %" / "10.50 %"
- ``paragraphs``: text of a phrase macro -> wrapped plain-text paragraphs (text) or ``<p>``
  elements (HTML); blank lines separate paragraphs, other whitespace is collapsed.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, NoReturn

import jinja2
from markupsafe import Markup, escape

from likvid.rules.money import format_kronor

LETTER_KINDS = (
    "reminder",
    "collection_demand",
    "handoff_notice",
    "objection_acknowledgement",
    "deferral_confirmation",
    "payment_plan",
    "payment_plan_broken",
    "review_decision",
    "suspension_warning",
    "suspension_notice",
    "limitation_demand",
)
#: Documents that are not letters to the customer: rendered the same way, addressed elsewhere.
OTHER_KINDS = ("social_services_notice",)
LANGUAGES = ("sv", "en")

#: Width of plain-text paragraphs.
TEXT_WIDTH = 76

# Names the renderer adds to the context; they win over keys of the same name.
_INJECTED = ("language", "kind", "subject")


@dataclass(frozen=True)
class RenderedLetter:
    subject: str
    text: str
    html: str


def check_letter_args(kind: str, language: str, context: Mapping[str, Any]) -> None:
    """ValueError for an unknown kind or language, TypeError for a context that is no mapping."""
    if kind not in LETTER_KINDS + OTHER_KINDS:
        raise ValueError(
            f"unknown letter kind {kind!r} (expected one of {', '.join(LETTER_KINDS + OTHER_KINDS)})"
        )
    if language not in LANGUAGES:
        raise ValueError(
            f"unknown letter language {language!r} (expected one of {', '.join(LANGUAGES)})"
        )
    if not isinstance(context, Mapping):
        raise TypeError(f"context must be a mapping, not {type(context).__name__}")


def render_letter(kind: str, language: str, context: Mapping[str, Any]) -> RenderedLetter:
    """Render one letter in plain text and HTML, with its subject line.

    Raises ValueError for an unknown kind or language, and `jinja2.UndefinedError` when the
    templates need a context key that is missing.
    """
    check_letter_args(kind, language, context)
    variables = {key: value for key, value in context.items() if key not in _INJECTED}
    variables["language"] = language
    variables["kind"] = kind

    text_env = _environment(autoescape=False)
    subject = " ".join(
        text_env.get_template(f"{language}/{kind}.subject.j2").render(variables).split()
    )
    variables["subject"] = subject
    text = text_env.get_template(f"{language}/{kind}.txt.j2").render(variables)
    html = (
        _environment(autoescape=True).get_template(f"{language}/{kind}.html.j2").render(variables)
    )
    return RenderedLetter(subject=subject, text=_tidy_text(text), html=html)


def new_environment(autoescape: bool, tag: str) -> jinja2.Environment:
    """The template environment every rendering (text, HTML, PDF markup) starts from: strict
    about missing values, with the money, date and rate filters.

    Compiled templates are kept in Jinja's per-user bytecode cache (checked against the
    template source), so a fresh worker process does not compile every template again (about
    0.1 s each). ``tag`` keeps the environments' compilations apart: they differ (autoescape)."""
    env = _Environment(
        loader=jinja2.PackageLoader("likvid.templates", ""),
        bytecode_cache=jinja2.FileSystemBytecodeCache(pattern=f"__likvid_{tag}_%s.cache"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # The templates are package files: not checked for changes on every use (a stat per
        # template and import, ~40 per letter). A new version takes a restart, as code does.
        auto_reload=False,
    )
    env.filters["kr"] = _kr
    env.filters["datum"] = _datum
    env.filters["pct"] = _pct
    env.globals["fail"] = _fail
    return env


#: What `getattr` finds on a plain dict (its methods and the object's attributes).
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """A Jinja environment that looks up ``value.key`` on a plain dict (the letter context is
    made of them) without first trying, and failing with an exception, to read it as an
    attribute: the same result as Jinja's (an attribute of the dict wins, then the key, else
    undefined) at a fraction of the cost; some 500 such lookups go into one letter."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


@cache
def _environment(autoescape: bool) -> jinja2.Environment:
    env = new_environment(autoescape, "html" if autoescape else "text")
    env.filters["paragraphs"] = _paragraphs_html if autoescape else _paragraphs_text
    return env


# --- filters -----------------------------------------------------------------------------


def _require_defined(value: Any) -> None:
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()


def _language(ctx: jinja2.runtime.Context) -> str:
    language = ctx.get("language")
    if language not in LANGUAGES:
        raise ValueError(f"the render context has no supported language (got {language!r})")
    return str(language)


@jinja2.pass_context
def _kr(ctx: jinja2.runtime.Context, ore: Any) -> str:
    """Öre -> "1 234,50 kr" (sv) / "SEK 1,234.50" (en)."""
    if type(ore) is int:  # the common case, a cached form (a table states each amount often)
        language = ctx.resolve_or_missing("language")
        if language in LANGUAGES:
            return _kronor(ore, language)
    _require_defined(ore)
    return format_kronor(ore, _language(ctx))


@lru_cache(maxsize=8192)
def _kronor(ore: int, language: str) -> str:
    return format_kronor(ore, language)


def _datum(value: Any) -> str:
    """A date -> "2026-11-29" (ISO 8601, the Swedish form; used in English letters too)."""
    _require_defined(value)
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"datum expects a datetime.date, not {type(value).__name__}")
    return value.isoformat()


@jinja2.pass_context
def _pct(ctx: jinja2.runtime.Context, basis_points: Any) -> str:
    """Basis points -> "10,50 %" (sv) / "10.50 %" (en)."""
    _require_defined(basis_points)
    if isinstance(basis_points, bool) or not isinstance(basis_points, int):
        raise TypeError(f"pct expects basis points as an int, not {type(basis_points).__name__}")
    sign = "-" if basis_points < 0 else ""
    whole, hundredths = divmod(abs(basis_points), 100)
    separator = "," if _language(ctx) == "sv" else "."
    return f"{sign}{whole}{separator}{hundredths:02d} %"


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SPACE = re.compile(r"[ \t\r\n]+")
# Spaces that must not become line breaks: digit groups ("1 234,50"), units ("50 kr",
# "10,50 %"), "SEK 1,234.50", paragraph signs ("6 §") and the en dash in periods.
_GLUED = re.compile(r"(?<=\d) (?=\d{3}\b)|(?<=\d) (?=kr\b|%|§)|(?<=\bSEK) (?=\d)")
_GLUE = "\x00"


def _split_paragraphs(text: str) -> list[str]:
    return [_SPACE.sub(" ", part).strip() for part in _PARAGRAPH_BREAK.split(text) if part.strip()]


def _paragraphs_text(value: Any) -> str:
    _require_defined(value)
    return _wrap_paragraphs(str(value))


@lru_cache(maxsize=4096)
def _wrap_paragraphs(text: str) -> str:
    """Wrapped paragraphs of `text` (most paragraphs of a letter are the same in every letter:
    they are wrapped once per process)."""
    wrapped = []
    for paragraph in _split_paragraphs(text):
        glued = _GLUED.sub(_GLUE, paragraph)
        lines = textwrap.wrap(glued, TEXT_WIDTH, break_long_words=False, break_on_hyphens=False)
        wrapped.append("\n".join(lines).replace(_GLUE, " "))
    return "\n\n".join(wrapped)


def _paragraphs_html(value: Any) -> Markup:
    _require_defined(value)
    safe = value if isinstance(value, Markup) else escape(value)
    return _html_paragraphs(str(safe))


@lru_cache(maxsize=4096)
def _html_paragraphs(safe: str) -> Markup:
    """`<p>` elements of escaped text (cached as `_wrap_paragraphs`)."""
    return Markup("\n").join(
        Markup("<p>") + Markup(paragraph) + Markup("</p>") for paragraph in _split_paragraphs(safe)
    )


def _fail(message: str) -> NoReturn:
    """Called from a template when the context holds a value the wording does not cover."""
    raise ValueError(message)


def _tidy_text(text: str) -> str:
    """Strip trailing spaces and collapse runs of blank lines left by optional sections."""
    lines = [line.rstrip() for line in text.splitlines()]
    tidy = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return tidy + "\n"
