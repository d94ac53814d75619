"""CPU per rendered letter: text + HTML (`render_letter`) and PDF (`render_pdf`).

In one process, after a warm-up (templates compiled, caches filled as in a running worker),
each form of the sample reminder (`likvid.service.samples.sample_context("reminder")`, two
claims) and of a reminder with ten claims is rendered `--renders` times; the figure is the
median CPU time (`time.process_time`) of one render, in milliseconds. The PDF is also split
into its stages (markup from the templates, parse + layout, drawing the document).

    uv run python bench/render_letters.py [--renders 300] [--language sv]

Prints a table and, last, one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
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


def with_claims(context: dict[str, Any], count: int) -> dict[str, Any]:
    """`count` claims of different amounts, every third with a description; totals to match."""
    claims = [
        {
            "invoice_id": f"inv-{i}",
            "invoice_number": f"2026-{300000 + i}",
            "description": f"Avfallshämtning, månad {i + 1}" if i % 3 == 0 else None,
            "claim_kind": "waste",
            "claim_nature": "civil",
            "issue_date": dt.date(2026, 8, 31),
            "due_date": dt.date(2026, 9, 30),
            "ocr_reference": f"30000{i:05d}",
            "capital_ore": 48900 + 100 * i,
            "fee_ore": 0,
            "interest_ore": 0,
            "total_ore": 48900 + 100 * i,
            "held_ore": 0,
        }
        for i in range(count)
    ]
    fee = sum(f["amount_ore"] for f in context["fees"])
    claims[0]["fee_ore"] = fee
    claims[0]["total_ore"] += fee
    capital = sum(c["capital_ore"] for c in claims)
    interest = context["interest"]["total_ore"]
    claims[0]["interest_ore"] = interest
    claims[0]["total_ore"] += interest
    context["claims"] = claims
    context["totals"] = {
        "capital_ore": capital,
        "fee_ore": fee,
        "interest_ore": interest,
        "total_ore": capital + fee + interest,
        "held_ore": 0,
    }
    context["payment"]["amount_ore"] = capital + fee + interest
    return context


def median_ms(action: Callable[[], object], renders: int) -> float:
    times = []
    for _ in range(renders):
        start = time.process_time()
        action()
        times.append(time.process_time() - start)
    return statistics.median(times) * 1000


def measure(context: dict[str, Any], language: str, renders: int) -> dict[str, float]:
    kind = "reminder"
    markup = pdf.render_markup(kind, language, context)
    document = pdf._layout(pdf._parse(markup))
    for _ in range(20):  # warm-up: compiled templates, width and string caches
        render_letter(kind, language, context)
        pdf.render_pdf(kind, language, context)
    return {
        "text_html_ms": median_ms(lambda: render_letter(kind, language, context), renders),
        "pdf_ms": median_ms(lambda: pdf.render_pdf(kind, language, context), renders),
        "pdf_markup_ms": median_ms(lambda: pdf.render_markup(kind, language, context), renders),
        "pdf_layout_ms": median_ms(lambda: pdf._layout(pdf._parse(markup)), renders),
        "pdf_draw_ms": median_ms(lambda: pdf._draw(pdf._layout(pdf._parse(markup))), renders)
        - median_ms(lambda: pdf._layout(pdf._parse(markup)), renders),
        "pages": float(len(document.pages)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--renders", type=int, default=300, help="renders per figure (median)")
    p.add_argument("--language", default="sv", choices=("sv", "en"))
    args = p.parse_args(argv)
    results = {
        "reminder": measure(sample_context("reminder", args.language), args.language, args.renders),
        "reminder_10_claims": measure(
            with_claims(sample_context("reminder", args.language), 10), args.language, args.renders
        ),
    }
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
