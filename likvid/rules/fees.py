"""Reminder and collection fees under lag (1981:739) om ersättning för inkassokostnader m.m.

Basis: SWEDISH-RULES.md §1. A fee above a cap in 4 § 2 st is a configuration error and
raises ValueError; a fee that the rules do not allow for a claim is 0.
"""

from __future__ import annotations

#: Påminnelseavgift cap, 60 kr (1981:739 4 § 2 st). SWEDISH-RULES.md §1.1.
MAX_REMINDER_FEE_ORE = 6000
#: Inkassoavgift cap for an inkassokrav, 180 kr (1981:739 4 § 2 st). SWEDISH-RULES.md §1.1.
MAX_COLLECTION_FEE_ORE = 18000
#: Amorteringsplan fee cap, 170 kr (1981:739 4 § 2 st). SWEDISH-RULES.md §1.1.
MAX_PAYMENT_PLAN_FEE_ORE = 17000

#: At most this many påminnelseavgifter per invoice ("skäligen påkallade", 4 § 1 st). [I]
REMINDER_FEES_PER_INVOICE = 1
#: An inkassoavgift only when the case's capital is over 100 kr (Tanum practice). [I]
MIN_CLAIM_FOR_COLLECTION_FEE_ORE = 10000

CLAIM_NATURES = ("civil", "public_law")


def reminder_fee_ore(
    *,
    claim_nature: str,
    claim_kind: str,
    reminder_fee_agreed: bool,
    already_charged: int,
    fee_ore: int = MAX_REMINDER_FEE_ORE,
    max_per_invoice: int = REMINDER_FEES_PER_INVOICE,
    allow_public_law: bool = False,
) -> int:
    """The påminnelseavgift to add to a reminder for one invoice, in öre (often 0).

    - Only if agreed at the latest when the debt arose (1981:739 2 §): `reminder_fee_agreed`.
    - Never on water (VA) fees: the taxa/ABVA is not such an agreement (Svenskt Vatten).
    - Not on public-law claims unless `allow_public_law` ([I], default off).
    - At most `max_per_invoice` fees per invoice ([I], default 1; 4 § 1 st).
    - `fee_ore` above 60 kr (4 § 2 st) is a configuration error: ValueError.

    Basis: SWEDISH-RULES.md §1.1 (2 §, 4 §) and §1 "Påminnelseavgift on VA fees".
    """
    _check_fee("reminder fee", fee_ore, MAX_REMINDER_FEE_ORE)
    _check_nature(claim_nature)
    if max_per_invoice < 0 or already_charged < 0:
        raise ValueError("fee counts must not be negative")
    if not reminder_fee_agreed or claim_kind == "water":
        return 0
    if claim_nature == "public_law" and not allow_public_law:
        return 0
    if already_charged >= max_per_invoice:
        return 0
    return fee_ore


def collection_fee_ore(
    *,
    claim_nature: str,
    case_already_charged: bool,
    total_capital_ore: int,
    fee_ore: int = MAX_COLLECTION_FEE_ORE,
    min_claim_ore: int = MIN_CLAIM_FOR_COLLECTION_FEE_ORE,
    allow_public_law: bool = False,
) -> int:
    """The inkassoavgift to add to an inkassokrav for a collection case, in öre (often 0).

    - One fee per collection case, which may bundle several invoices (Datainspektionen's
      allmänna råd, RH 2022:7): 0 when `case_already_charged`.
    - Only when the case's capital is over `min_claim_ore` ([I] Tanum practice, 100 kr).
    - Not on public-law claims unless `allow_public_law` ([I]; whether 1981:739 applies to
      them is open question 2 in SWEDISH-RULES.md Appendix B; default off).
    - `fee_ore` above 180 kr (4 § 2 st) is a configuration error: ValueError.
    The kravbrev itself must meet inkassolagen 5 § (1981:739 3 § 1); that is the letter's rule.

    Basis: SWEDISH-RULES.md §1.1 (3 §, 4 §) and §1 "Number of fees".
    """
    _check_fee("collection fee", fee_ore, MAX_COLLECTION_FEE_ORE)
    _check_nature(claim_nature)
    if case_already_charged or total_capital_ore <= min_claim_ore:
        return 0
    if claim_nature == "public_law" and not allow_public_law:
        return 0
    return fee_ore


def _check_fee(name: str, fee_ore: int, cap_ore: int) -> None:
    if fee_ore < 0:
        raise ValueError(f"{name} must not be negative")
    if fee_ore > cap_ore:
        raise ValueError(
            f"{name} {fee_ore} öre is above the legal cap of {cap_ore} öre (1981:739 4 § 2 st)"
        )


def _check_nature(claim_nature: str) -> None:
    if claim_nature not in CLAIM_NATURES:
        raise ValueError(f"unknown claim nature {claim_nature!r} (expected civil or public_law)")
