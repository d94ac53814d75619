"""Sample letter contexts: `likvid letters preview` and the tests render these.

Realistic values (two claims, one interest line, the fees of the letter) in the exact shape
the dispatcher builds (``likvid.service.letters.build_context``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

SENT_ON = dt.date(2026, 11, 15)
DEADLINE = dt.date(2026, 11, 29)
NEXT_ON = dt.date(2026, 12, 7)


def sample_context(kind: str, language: str = "sv") -> dict[str, Any]:
    """A realistic context: two claims, one interest line, the fees of this letter."""
    fees_by_kind = {
        "reminder": [
            {
                "kind": "reminder_fee",
                "amount_ore": 6000,
                "basis": "lag (1981:739) om ersättning för inkassokostnader 4 §",
            }
        ],
        "collection_demand": [
            {
                "kind": "collection_fee",
                "amount_ore": 18000,
                "basis": "lag (1981:739) om ersättning för inkassokostnader 4 §",
            }
        ],
    }
    next_by_kind = {
        "reminder": {"kind": "collection_demand", "on_or_after": NEXT_ON},
        "collection_demand": {"kind": "kronofogden", "on_or_after": NEXT_ON},
        "handoff_notice": {"kind": "none", "on_or_after": None},
        "objection_acknowledgement": {"kind": "collection_demand", "on_or_after": NEXT_ON},
    }
    fee_ore = sum(f["amount_ore"] for f in fees_by_kind.get(kind, []))
    context: dict[str, Any] = {
        "letter": {
            "id": "L-2026-000417",
            "kind": kind,
            "level": 1,
            "sent_on": SENT_ON,
            "deadline": DEADLINE,
            "language": language,
        },
        "creditor": {
            "name": "Tanums kommun, Samhällsbyggnadsförvaltningen",
            "org_number": "212000-1322",
            "bankgiro": "5050-1055",
            "address": {
                "street": "Kommunhusvägen 1",
                "postal_code": "457 81",
                "city": "Tanumshede",
            },
            "contact": {
                "phone": "0525-180 00",
                "email": "ekonomi@tanum.se",
                "web": "www.tanum.se",
            },
        },
        "recipient": {
            "name": "Anna Andersson",
            "address_lines": ["Storgatan 12 B", "457 31 Tanumshede"],
            "protected": False,
        },
        "claims": [
            {
                "invoice_id": "inv-1",
                "invoice_number": "2026-104711",
                "description": "Vatten och avlopp, kvartal 3",
                "claim_kind": "va",
                "claim_nature": "civil",
                "issue_date": dt.date(2026, 8, 31),
                "due_date": dt.date(2026, 9, 30),
                "ocr_reference": "1047110467",
                "capital_ore": 123450,
                "fee_ore": fee_ore,
                "interest_ore": 1631,
                "total_ore": 123450 + fee_ore + 1631,
                "held_ore": 0,
            },
            {
                "invoice_id": "inv-2",
                "invoice_number": "2026-104802",
                "description": None,
                "claim_kind": "avfall",
                "claim_nature": "civil",
                "issue_date": dt.date(2026, 9, 5),
                "due_date": dt.date(2026, 10, 5),
                "ocr_reference": "1048020052",
                "capital_ore": 48900,
                "fee_ore": 0,
                "interest_ore": 0,
                "total_ore": 48900,
                "held_ore": 0,
            },
        ],
        "fees": fees_by_kind.get(kind, []),
        "interest": {
            "lines": [
                {
                    "start": dt.date(2026, 10, 1),
                    "end": dt.date(2026, 11, 15),
                    "days": 46,
                    "base_ore": 123450,
                    "rate_bp": 1050,
                    "amount_ore": 1631,
                }
            ],
            "total_ore": 1631,
            "reference": "räntelagen (1975:635) 6 §",
        },
        "totals": {
            "capital_ore": 172350,
            "fee_ore": fee_ore,
            "interest_ore": 1631,
            "total_ore": 172350 + fee_ore + 1631,
            "held_ore": 0,
        },
        "payment": {
            "bankgiro": "5050-1055",
            "ocr": "9000417268",
            "amount_ore": 172350 + fee_ore + 1631,
            "deadline": DEADLINE,
        },
        "objection": {
            "how": "Ring kundtjänst på 0525-180 00 eller skriv till\nTanums kommun, Ekonomienheten",
            "contact_email": "invandning@tanum.se",
            "contact_phone": "0525-181 00",
        },
        "next_step": next_by_kind[kind],
    }
    if kind == "handoff_notice":
        context["handoff"] = {"target": "kronofogden", "target_name": "Kronofogden"}
    if kind == "objection_acknowledgement":
        disputed = 48900
        context["claims"][1]["held_ore"] = disputed
        context["totals"]["held_ore"] = disputed
        context["payment"]["amount_ore"] -= disputed
        context["ack"] = {
            "objection_id": "INV-77",
            "received_on": dt.date(2026, 11, 10),
            "reason": "Tömningen av sopkärlet gjordes aldrig i september.",
            "disputed_amount_ore": disputed,
            "review_by": dt.date(2026, 11, 24),
            "public_law": False,
        }
    return context
