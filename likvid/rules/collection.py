"""Pure decisions of the collection chain: what may be pressed for, and when each step is due.

No database, no clock: (claim facts, configuration, business date) → decision
(ARCHITECTURE.md "Rules are readable and testable").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

#: The stages a claim passes through, in order.
STAGES = ("issued", "due", "reminded", "demanded", "handed_off")
#: Allocation order within a claim (issue: fees, then interest, then capital).
DEFAULT_ALLOCATION_ORDER = ("fee", "interest", "capital")


#: The components of a claim's open amount that a payment is allocated to.
COMPONENTS = ("capital", "fee", "interest")


@dataclass(frozen=True)
class Balance:
    capital: int = 0
    fee: int = 0
    interest: int = 0

    @property
    def total(self) -> int:
        return self.capital + self.fee + self.interest

    def get(self, component: str) -> int:
        return int(getattr(self, component))


def collectible(open_ore: int, held: Iterable[int | None]) -> int:
    """What may be pressed for: the open balance less every amount on hold.

    A hold without an amount holds the whole claim. Basis: POLICY.md point 6 (collection of
    the disputed amount stops at once); SWEDISH-RULES.md §3 ("a partial objection → BFÖ may be
    used for the undisputed part").
    """
    total_held = 0
    for amount in held:
        if amount is None:
            return 0
        total_held += amount
    return max(0, open_ore - total_held)


def reason_not_to_press(status: str, open_ore: int, collectible_ore: int) -> str | None:
    """None when a step may act on the claim, else why it must not.

    Basis: ARCHITECTURE.md "No customer is pressed for money that is paid, disputed, deferred
    or in a plan"; SWEDISH-RULES.md §3 (no collection measure on a disputed claim) and §5
    ("never hand off a zero debt").
    """
    if status != "open":
        return f"the claim is {status}"
    if open_ore <= 0:
        return "nothing is owed"
    if collectible_ore <= 0:
        return "the whole open amount is on hold"
    return None


def reminder_due_on(effective_due: date, reminder_after_days: int) -> date:
    """The reminder (påminnelse) goes out this many days after the due date.

    No legal minimum: a plain reminder is not an inkassoåtgärd (SWEDISH-RULES.md §3, 1 §).
    """
    return effective_due + timedelta(days=reminder_after_days)


def demand_due_on(reminder_deadline: date, demand_after_days: int) -> date:
    """The collection demand follows once the reminder's deadline has passed (§3, 6 §)."""
    return reminder_deadline + timedelta(days=demand_after_days)


def handoff_due_on(demand_deadline: date, handoff_after_days: int) -> date:
    """Further measures only after the demand's deadline has passed (SWEDISH-RULES.md §3, IMY)."""
    return demand_deadline + timedelta(days=max(1, handoff_after_days))


def resumed_on(planned: date, today: date, resume_days: int) -> date:
    """When a hold ends after a step's planned day, the step waits ``resume_days`` from today.

    [I] configuration `resume_days_to_pay`: fresh time after a hold, never an instant escalation
    (issue "holds": a deferral that ends is followed by a new deadline).
    """
    return planned if planned >= today else today + timedelta(days=resume_days)


def allocate(
    amount: int,
    balances: Sequence[tuple[str, Balance | Mapping[str, int]]],
    order: Sequence[str] = DEFAULT_ALLOCATION_ORDER,
) -> tuple[list[tuple[str, str, int]], int]:
    """Allocate a payment over claims in the order given (the paid claim first, then the
    customer's other open claims with the creditor, oldest due first), within each claim by
    component ``order``. Returns (claim, component, amount) parts and the surplus.
    """
    if amount < 0:
        raise ValueError("a payment amount cannot be negative")
    parts: list[tuple[str, str, int]] = []
    left = amount
    for claim_id, balance in balances:
        for component in order:
            owed = balance.get(component) or 0
            if left <= 0:
                break
            if owed > 0:
                take = min(owed, left)
                parts.append((claim_id, component, take))
                left -= take
    return parts, left
