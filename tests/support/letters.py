"""Letter contexts for tests and benchmarks, built on `likvid.service.samples.sample_context`."""

from __future__ import annotations

import datetime as dt
from typing import Any


def with_claims(context: dict[str, Any], count: int) -> dict[str, Any]:
    """`count` claims (every third with a description, every fourth with interest); the
    totals and the amount to pay to match."""
    claims = []
    for i in range(count):
        interest = 1250 + i if i % 4 == 0 else 0
        claims.append(
            {
                "invoice_id": f"inv-{i}",
                "invoice_number": f"2026-{300000 + i}",
                "description": f"Avfallshämtning, månad {i % 12 + 1}" if i % 3 == 0 else None,
                "claim_kind": "waste",
                "claim_nature": "civil",
                "issue_date": dt.date(2026, 8, 31),
                "due_date": dt.date(2026, 9, 30),
                "ocr_reference": f"30000{i:05d}",
                "capital_ore": 48900 + 100 * i,
                "fee_ore": 0,
                "interest_ore": interest,
                "total_ore": 48900 + 100 * i + interest,
                "held_ore": 0,
            }
        )
    context["claims"] = claims
    fee = sum(f["amount_ore"] for f in context["fees"])
    claims[0]["fee_ore"] = fee
    claims[0]["total_ore"] += fee
    capital = sum(c["capital_ore"] for c in claims)
    interest = sum(c["interest_ore"] for c in claims)
    context["totals"] = {
        "capital_ore": capital,
        "fee_ore": fee,
        "interest_ore": interest,
        "total_ore": capital + fee + interest,
        "held_ore": 0,
    }
    context["payment"]["amount_ore"] = capital + fee + interest
    return context
