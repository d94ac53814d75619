"""Money: integer öre in, integer öre out.

An amount is never a float. Contract amounts are decimal strings of kronor ("1234.50");
arithmetic that needs a fraction uses `fractions.Fraction` and `round_half_up`.
Basis: design/ARCHITECTURE.md ("Money and dates are exact"); SWEDISH-RULES.md has no section.
"""

from __future__ import annotations

import re
from fractions import Fraction

#: The largest amount accepted from outside: 1 000 000 000.00 kr, in öre.
MAX_AMOUNT_ORE = 100_000_000_000

_KRONOR = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")


def parse_kronor(text: str) -> int:
    """Turn a kronor amount such as "1234.50", "0.5" or "100" into öre.

    Raises ValueError with a reason that reads after a field name ("amount must not be
    negative"). Signs, exponents, spaces, commas and more than two decimals are rejected.
    """
    if not isinstance(text, str):
        raise ValueError("must be a string")
    if text.startswith("-") and _KRONOR.fullmatch(text[1:]):
        raise ValueError("must not be negative")
    if not _KRONOR.fullmatch(text):
        raise ValueError('must be a decimal string with at most two decimals, like "1234.50"')
    whole, _, decimals = text.partition(".")
    if len(whole.lstrip("0")) > 10:  # cheap guard before int() on absurd input
        raise ValueError(f"is too large (at most {kronor_str(MAX_AMOUNT_ORE)})")
    ore = int(whole) * 100 + int(decimals.ljust(2, "0"))
    if ore > MAX_AMOUNT_ORE:
        raise ValueError(f"is too large (at most {kronor_str(MAX_AMOUNT_ORE)})")
    return ore


def kronor_str(ore: int) -> str:
    """The contract form of an amount: 123450 -> "1234.50", -5 -> "-0.05"."""
    _require_int(ore)
    sign = "-" if ore < 0 else ""
    whole, cents = divmod(abs(ore), 100)
    return f"{sign}{whole}.{cents:02d}"


def format_kronor(ore: int, language: str = "sv") -> str:
    """An amount for letters and screens.

    sv: "1 234,50 kr" (grouping with a normal space); en: "SEK 1,234.50".
    A negative amount gets a leading minus: "-1 234,50 kr", "-SEK 1,234.50".
    """
    _require_int(ore)
    sign = "-" if ore < 0 else ""
    whole, cents = divmod(abs(ore), 100)
    grouped = f"{whole:,}"
    if language == "sv":
        return f"{sign}{grouped.replace(',', ' ')},{cents:02d} kr"
    if language == "en":
        return f"{sign}SEK {grouped}.{cents:02d}"
    raise ValueError(f"unsupported language {language!r} (expected 'sv' or 'en')")


def round_half_up(value: Fraction) -> int:
    """Round an exact fraction of öre to whole öre, halves away from zero (0.5 -> 1, -0.5 -> -1)."""
    magnitude = abs(value)
    rounded = int(magnitude + Fraction(1, 2))  # int() truncates a non-negative value: floor
    return rounded if value >= 0 else -rounded


def _require_int(ore: int) -> None:
    if isinstance(ore, bool) or not isinstance(ore, int):
        raise TypeError(f"an amount in öre must be an int, not {type(ore).__name__}")
