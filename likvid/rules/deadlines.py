"""Due dates and payment deadlines in letters.

Basis: SWEDISH-RULES.md §3 (inkassolagen 5 §; IMY guidance: at least 8 days from sending
and at least 4 bank days after the letter is presumed to have arrived).
"""

from __future__ import annotations

from datetime import date, timedelta

from likvid.rules.calendar import add_bank_days, next_bank_day

#: IMY guidance on inkassolagen 5 §: at least 8 days from sending. SWEDISH-RULES.md §3.
MIN_DAYS_TO_PAY = 8
#: IMY guidance: at least 4 bank days after presumed receipt. SWEDISH-RULES.md §3.
MIN_BANK_DAYS_AFTER_RECEIPT = 4
#: Bank days a letter is presumed to take to arrive. [I] SWEDISH-RULES.md §3.
PRESUMED_DELIVERY_BANK_DAYS = 2


def effective_due_date(due: date) -> date:
    """The due date moved to the next bank day when it falls on a weekend or holiday.

    Basis: design/ARCHITECTURE.md (bank days); SWEDISH-RULES.md §2 (interest runs after it).
    """
    return next_bank_day(due)


def payment_deadline(
    sent_on: date,
    days_to_pay: int,
    *,
    min_days: int = MIN_DAYS_TO_PAY,
    presumed_delivery_bank_days: int = PRESUMED_DELIVERY_BANK_DAYS,
    min_bank_days_after_receipt: int = MIN_BANK_DAYS_AFTER_RECEIPT,
) -> date:
    """The pay-by date to print in a letter sent on `sent_on`.

    The later of sent_on + max(days_to_pay, min_days) and the presumed receipt
    (`presumed_delivery_bank_days` bank days after sending, [I]) plus
    `min_bank_days_after_receipt` bank days, then moved to the next bank day.
    For an inkassokrav keep the defaults (inkassolagen 5 §, IMY). A reminder has no legal
    minimum: pass min_days=0 (the bank-day floor after receipt still applies).

    Basis: SWEDISH-RULES.md §3.
    """
    for name, value in (
        ("days_to_pay", days_to_pay),
        ("min_days", min_days),
        ("presumed_delivery_bank_days", presumed_delivery_bank_days),
        ("min_bank_days_after_receipt", min_bank_days_after_receipt),
    ):
        if value < 0:
            raise ValueError(f"{name} must not be negative")
    by_days = sent_on + timedelta(days=max(days_to_pay, min_days))
    presumed_receipt = add_bank_days(sent_on, presumed_delivery_bank_days)
    by_bank_days = add_bank_days(presumed_receipt, min_bank_days_after_receipt)
    return next_bank_day(max(by_days, by_bank_days))


def check_days_to_pay(days_to_pay: int, *, min_days: int = MIN_DAYS_TO_PAY) -> str | None:
    """None when a configured payment time is long enough for an inkassokrav, else the reason.

    Basis: SWEDISH-RULES.md §3 (IMY guidance on inkassolagen 5 §).
    """
    if days_to_pay < min_days:
        return f"must be at least {min_days} days (IMY guidance on inkassolagen 5 §)"
    return None
