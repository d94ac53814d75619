"""Sample letter contexts: `likvid letters preview` and the tests render these.

Realistic values (two claims, one interest line, the fees of the letter) in the exact shape
the dispatcher builds (``likvid.service.letters.build_context``), plus the section of each kind
that has one:

- ``handoff``: target, target_name
- ``ack`` (objection_acknowledgement): objection_id, received_on, reason, disputed_amount_ore,
  review_by, public_law
- ``deferral`` (deferral_confirmation): deferral_id, until, reason, granted_by; the letter's
  and the payment's deadline are ``until``
- ``plan`` (payment_plan): plan_id, installments [{due_date, amount_ore}], total_ore (the
  installments' sum), sign_by, return_how, grace_days; the wording
  gives ``sign_by`` (not letter.deadline) and the first installment (not payment.deadline),
  and ``fees`` may hold a payment_plan_fee
- ``plan`` (payment_plan_broken): plan_id, missed {due_date, amount_ore}, paid_ore,
  remaining_ore; claims, totals and payment are what remains
- ``review`` (review_decision): objection_id, outcome (upheld | credited_in_full |
  credited_in_part), reasons, decided_by, credited_amount_ore (0 if none), public_law,
  decided_on; claims, totals and payment are what remains after the decision
"""

from __future__ import annotations

import datetime as dt
from typing import Any

SENT_ON = dt.date(2026, 11, 15)
DEADLINE = dt.date(2026, 11, 29)
NEXT_ON = dt.date(2026, 12, 7)
DEFERRAL_UNTIL = dt.date(2026, 12, 31)
PLAN_INSTALLMENTS = (
    (dt.date(2026, 12, 30), 47745),
    (dt.date(2027, 1, 29), 47745),
    (dt.date(2027, 2, 26), 47745),
    (dt.date(2027, 3, 31), 47746),
)


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
        "payment_plan": [
            {
                "kind": "payment_plan_fee",
                "amount_ore": 17000,
                "basis": "lag (1981:739) om ersättning för inkassokostnader 3 § och 4 §",
            }
        ],
    }
    next_by_kind = {
        "reminder": {"kind": "collection_demand", "on_or_after": NEXT_ON},
        "collection_demand": {"kind": "kronofogden", "on_or_after": NEXT_ON},
        "handoff_notice": {"kind": "none", "on_or_after": None},
        "objection_acknowledgement": {"kind": "collection_demand", "on_or_after": NEXT_ON},
        # Collection resumes after the deferral with a new deadline (resume_days_to_pay).
        "deferral_confirmation": {"kind": "collection_demand", "on_or_after": dt.date(2027, 1, 14)},
        "payment_plan": {"kind": "kronofogden", "on_or_after": NEXT_ON},
        "payment_plan_broken": {"kind": "kronofogden", "on_or_after": NEXT_ON},
        "review_decision": {"kind": "collection_demand", "on_or_after": NEXT_ON},
        "suspension_warning": {"kind": "none", "on_or_after": None},
        "suspension_notice": {"kind": "none", "on_or_after": None},
        "social_services_notice": {"kind": "none", "on_or_after": None},
        "limitation_demand": {"kind": "none", "on_or_after": None},
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
                "claim_kind": "water",
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
                "claim_kind": "waste",
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
    if kind == "deferral_confirmation":
        context["letter"]["deadline"] = DEFERRAL_UNTIL
        context["payment"]["deadline"] = DEFERRAL_UNTIL
        context["deferral"] = {
            "deferral_id": "ANS-2026-031",
            "until": DEFERRAL_UNTIL,
            "reason": "Sjukskriven, väntar på utbetalning av sjukpenning från Försäkringskassan",
            "granted_by": "Maria Lind, kravhandläggare",
        }
    if kind == "payment_plan":
        context["plan"] = {
            "plan_id": "AP-2026-0147",
            "installments": [
                {"due_date": due, "amount_ore": amount} for due, amount in PLAN_INSTALLMENTS
            ],
            "total_ore": context["totals"]["total_ore"],
            "sign_by": DEADLINE,
            "return_how": "Skicka den underskrivna planen i det bifogade svarskuvertet till "
            "Tanums kommun, Ekonomienheten, 457 81 Tanumshede, eller lämna den i receptionen i "
            "kommunhuset. Du kan också mejla en inskannad kopia till ekonomi@tanum.se.",
            "grace_days": 10,
        }
    if kind == "payment_plan_broken":
        _broken_plan(context)
    if kind == "review_decision":
        _review_decision(context)
    if kind in ("suspension_warning", "suspension_notice", "social_services_notice"):
        _suspension(context, kind)
    return context


def _suspension(context: dict[str, Any], kind: str) -> None:
    """Two unpaid water invoices at delivery point VA-4711 (only water counts, SWEDISH-RULES.md
    §4.3); the warning gives 14 days, the notice and the social services' message name the day
    three weeks from the letter."""
    context["suspension"] = {
        "track_id": 17, "utility": "water" if kind == "suspension_warning" else "electricity",
        "regime": "water" if kind == "suspension_warning" else "consumer",
        "delivery_point_id": "VA-4711", "remedy_deadline": DEADLINE, "pay_within_days": 21,
        "notice_id": "L-2026-000417", "earliest_pay_by": DEADLINE,
        "alternative_water": "Tappställe för dricksvatten vid Brandstationen, Torget, inom gångavstånd.",
        # A household's water warning: the social services are told too ([suspension.water]).
        "social_services_copy": kind == "suspension_warning",
        "consumer": {"name": "Anna Andersson", "address_lines": ["Kvarngatan 3", "457 30 Tanumshede"],
                     "protected": False},
    }
    context["interest"] = {"lines": [], "total_ore": 0, "reference": "räntelagen (1975:635) 6 §"}
    if kind == "social_services_notice":
        context["recipient"] = {"name": "Socialnämnden",
                                "address_lines": ["Kommunhusvägen 1", "457 81 Tanumshede"], "protected": False}


def _broken_plan(context: dict[str, Any]) -> None:
    """Plan AP-2026-0112 (4 installments, 1 909,81 kr with the plan fee, from August): two
    installments paid (fee, interest, then capital of the first invoice), the third missed."""
    first, second = context["claims"]
    first.update(issue_date=dt.date(2026, 4, 30), due_date=dt.date(2026, 5, 31))
    second.update(issue_date=dt.date(2026, 5, 5), due_date=dt.date(2026, 6, 5))
    first.update(capital_ore=46591, fee_ore=0, interest_ore=0, total_ore=46591)
    remaining = first["total_ore"] + second["total_ore"]
    context["interest"] = {"lines": [], "total_ore": 0, "reference": "räntelagen (1975:635) 6 §"}
    context["totals"] = {
        "capital_ore": remaining,
        "fee_ore": 0,
        "interest_ore": 0,
        "total_ore": remaining,
        "held_ore": 0,
    }
    context["payment"]["amount_ore"] = remaining
    context["plan"] = {
        "plan_id": "AP-2026-0112",
        "missed": {"due_date": dt.date(2026, 10, 30), "amount_ore": 47745},
        "paid_ore": 95490,
        "remaining_ore": remaining,
    }


def _review_decision(context: dict[str, Any]) -> None:
    """A home-care fee (public law) for four hours, one of which was never given: credited in
    part after the handler's statement, the rest to pay by the new deadline."""
    charged, credited = 164800, 41200
    remaining = charged - credited
    context["claims"] = [
        {
            "invoice_id": "inv-3",
            "invoice_number": "2026-105230",
            "description": "Avgift för hemtjänst, augusti 2026",
            "claim_kind": "elderly_care",
            "claim_nature": "public_law",
            "issue_date": dt.date(2026, 9, 5),
            "due_date": dt.date(2026, 10, 5),
            "ocr_reference": "1052300058",
            "capital_ore": remaining,
            "fee_ore": 0,
            "interest_ore": 0,
            "total_ore": remaining,
            "held_ore": 0,
        }
    ]
    # No interest on a public-law claim without a law that allows it (policy [interest]).
    context["interest"] = {"lines": [], "total_ore": 0, "reference": "räntelagen (1975:635) 6 §"}
    context["totals"] = {
        "capital_ore": remaining,
        "fee_ore": 0,
        "interest_ore": 0,
        "total_ore": remaining,
        "held_ore": 0,
    }
    context["payment"]["amount_ore"] = remaining
    context["payment"]["ocr"] = "1052300058"
    context["review"] = {
        "objection_id": "INV-81",
        "outcome": "credited_in_part",
        "reasons": "Enligt hemtjänstens besöksregistrering gavs tre av de fyra timmar som "
        "fakturan avser. Besöket den 14 augusti 2026 blev inställt, och avgiften för den timmen, "
        "412,00 kr, tar vi därför bort.\n\nDe tre andra besöken är registrerade och kvitterade, "
        "och avgiften för dem är beräknad enligt kommunens taxa för hemtjänst.",
        "decided_by": "Karin Berg, enhetschef vid Ekonomienheten",
        "credited_amount_ore": credited,
        "public_law": True,
        "decided_on": dt.date(2026, 11, 13),
    }
