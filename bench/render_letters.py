"""CPU per rendered letter: text + HTML (`render_letter`) and PDF (`render_pdf`).

In one process, after a warm-up (templates compiled, caches filled as in a running worker),
each form of the sample reminder (`likvid.service.samples.sample_context("reminder")`, two
claims) and of a reminder with ten claims is rendered `--renders` times; the figure is the
median CPU time (`time.process_time`) of one render, in milliseconds, the lowest of
`--rounds` rounds (the machine is shared: the lowest median is the least disturbed). Every
render is of a different letter (the recipient, its address, the letter id, invoice numbers,
OCR references and amounts vary), so that caches of words and strings help only as much as
they would in a worker sending different letters. The PDF is also split into its stages (markup from the
templates, parse + layout, drawing the document).

    uv run python bench/render_letters.py [--renders 300] [--rounds 3] [--language sv]

Prints a table and, last, one JSON line with every figure.

Instructions instead of time (the same on a busy machine): `--only N [--claims C]` renders
N different letters (text, HTML, PDF; C claims, or the sample's two) after the same warm-up,
untimed; run it under valgrind with N and with 0, the difference / N is the instructions per
letter (with building its context, a small constant):

    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        .venv/bin/python bench/render_letters.py --only 100   # and --only 0
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from likvid.service import pdf  # noqa: E402
from likvid.service.render import render_letter  # noqa: E402
from likvid.service.samples import sample_context  # noqa: E402
from tests.support.letters import with_claims  # noqa: E402


def varied(context: dict[str, Any], number: int) -> dict[str, Any]:
    """The same letter to another customer: other names, numbers and amounts (totals kept
    consistent)."""
    context = copy.deepcopy(context)
    context["letter"]["id"] = f"L-2026-{number:06d}"
    context["recipient"]["name"] = f"{FIRST[number % len(FIRST)]} {LAST[number // 7 % len(LAST)]}"
    context["recipient"]["address_lines"] = [
        f"{STREETS[number % len(STREETS)]} {number % 97 + 1}",
        f"45{7 + number % 3} {number % 90 + 10} {CITIES[number % len(CITIES)]}",
    ]
    extra = number * 37 % 5000
    for index, claim in enumerate(context["claims"]):
        claim["invoice_number"] = f"2026-{(number * 13 + index) % 900000 + 100000}"
        claim["ocr_reference"] = f"{number:06d}{index:04d}"
        claim["capital_ore"] += extra
        claim["total_ore"] += extra
    added = extra * len(context["claims"])
    context["totals"]["capital_ore"] += added
    context["totals"]["total_ore"] += added
    context["payment"]["amount_ore"] += added
    context["payment"]["ocr"] = f"9{number:09d}"
    return context


FIRST = ("Anna", "Björn", "Cecilia", "David", "Eva", "Fredrik", "Göran", "Helena", "Ingrid")
LAST = ("Andersson", "Berg", "Carlsson", "Dahl", "Eriksson", "Forsberg", "Gustafsson", "Holm")
STREETS = ("Storgatan", "Kvarngatan", "Strandvägen", "Skolgatan", "Tanumsvägen", "Bergsgatan")
CITIES = ("Tanumshede", "Grebbestad", "Fjällbacka", "Hamburgsund")


def median_ms(action: Callable[[dict[str, Any]], object], contexts: list[dict[str, Any]]) -> float:
    times = []
    for context in contexts:
        start = time.process_time()
        action(context)
        times.append(time.process_time() - start)
    return statistics.median(times) * 1000


def measure(base: dict[str, Any], language: str, renders: int) -> dict[str, float]:
    kind = "reminder"
    warm = [varied(base, 100_000 + n) for n in range(50)]
    contexts = [varied(base, n) for n in range(renders)]
    for context in warm:  # warm-up: compiled templates, width and string caches
        render_letter(kind, language, context)
        pdf.render_pdf(kind, language, context)
    markups = {id(c): pdf.render_markup(kind, language, c) for c in contexts}

    def layout(context: dict[str, Any]) -> object:
        return pdf._layout(pdf._parse(markups[id(context)]))

    # Drawing adds the page furniture to the laid-out pages: each drawing gets its own layout.
    documents = {id(c): layout(c) for c in contexts}
    return {
        "text_html_ms": median_ms(lambda c: render_letter(kind, language, c), contexts),
        "pdf_ms": median_ms(lambda c: pdf.render_pdf(kind, language, c), contexts),
        "pdf_markup_ms": median_ms(lambda c: pdf.render_markup(kind, language, c), contexts),
        "pdf_layout_ms": median_ms(layout, contexts),
        "pdf_draw_ms": median_ms(lambda c: pdf._draw(documents[id(c)]), contexts),
        "pages": float(len(layout(contexts[0]).pages)),  # type: ignore[attr-defined]
    }


def render_only(count: int, claims: int, language: str) -> None:
    """50 letters of warm-up, then `count` more: every form of each, untimed."""
    base = sample_context("reminder", language)
    if claims:
        base = with_claims(base, claims)
    for context in [varied(base, n) for n in range(count + 50)]:
        render_letter("reminder", language, context)
        pdf.render_pdf("reminder", language, context)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--renders", type=int, default=300, help="renders per figure (median)")
    p.add_argument("--language", default="sv", choices=("sv", "en"))
    p.add_argument("--rounds", type=int, default=3, help="rounds; each figure is the lowest median")
    p.add_argument("--only", type=int, default=None, metavar="N",
                   help="render N letters after the warm-up, untimed (instruction counts)")
    p.add_argument("--claims", type=int, default=0, help="with --only: claims per letter")
    args = p.parse_args(argv)
    if args.only is not None:
        render_only(args.only, args.claims, args.language)
        return 0
    bases = {
        "reminder": sample_context("reminder", args.language),
        "reminder_10_claims": with_claims(sample_context("reminder", args.language), 10),
    }
    results: dict[str, dict[str, float]] = {}
    for _ in range(args.rounds):
        for name, base in bases.items():
            figures = measure(base, args.language, args.renders)
            best = results.setdefault(name, figures)
            for key, value in figures.items():
                best[key] = min(best[key], value)
    print(f"{'letter':<20} {'text+HTML':>10} {'PDF':>8} {'total':>8}   PDF = markup + layout + draw")
    for name, r in results.items():
        total = r["text_html_ms"] + r["pdf_ms"]
        r["total_ms"] = total
        print(
            f"{name:<20} {r['text_html_ms']:>8.3f}ms {r['pdf_ms']:>6.3f}ms {total:>6.3f}ms"
            f"   {r['pdf_markup_ms']:.3f} + {r['pdf_layout_ms']:.3f} + {r['pdf_draw_ms']:.3f}"
            f" ms ({r['pages']:.0f} pages)"
        )
    print(json.dumps({"renders": args.renders, "language": args.language, **results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
