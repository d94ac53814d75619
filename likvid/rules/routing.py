"""Where an unpaid claim goes after its collection demand: Kronofogden, an agency, indrivning,
surveillance or a write-off. Pure: (claim facts, configuration, business date) → decision.

Basis: POLICY.md point 11 (payment orders as soon as possible); SWEDISH-RULES.md §5.1 (civil
claims: betalningsföreläggande, LBF 2 §), §5.2 (public-law claims: indrivning, UB 1 kap. 6 §,
only once the decision is final [M] → the claim waits for ``decision_final_on``), §3 and §5
(never hand off a disputed, held or zero debt).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from likvid.rules.collection import reason_not_to_press

#: SWEDISH-RULES.md §5.1: the betalningsföreläggande application fee, förordning (1992:1094) 1 §.
APPLICATION_FEE_ORE = 30000
#: SWEDISH-RULES.md §5.1: compensation for the applicant's own work in a betalningsföreläggande,
#: at most 380 kr (LBF 48 §, SFS 2013:1062).
MAX_OWN_WORK_ORE = 38000
#: What to do with a claim below the configured hand-off amount.
SMALL_CLAIM_ACTIONS = ("surveillance", "write_off")
#: Receivers; "indrivning" is Kronofogden in an allmänt mål.
TARGETS = ("kronofogden", "agency", "indrivning")


@dataclass(frozen=True)
class Route:
    """``action``: handoff, wait (public-law decision not final), surveillance, write_off, skip."""

    action: str
    target: str | None
    reason: str


def route(
    *,
    status: str,
    claim_nature: str,
    open_ore: int,
    collectible_ore: int,
    held: bool,
    decision_final_on: date | None,
    today: date,
    civil_target: str,
    min_amount_ore: int,
    small_claims: str,
) -> Route:
    """The route for one claim whose demand deadline has passed.

    - not open, nothing owed, or any hold in force (objection, deferral, plan, debtor status,
      manual) → skip: nothing disputed or held is handed off, not even its undisputed part [I];
    - an open amount below ``min_amount_ore`` → ``small_claims`` (surveillance or write-off:
      handling cost against expected recovery, [I] configuration);
    - public-law → indrivning, but only the day after ``decision_final_on``; until then (or while
      it is unknown) wait;
    - civil → ``civil_target`` (kronofogden or agency, per creditor); a civil claim cannot go to
      indrivning (§5.2), so that setting falls back to kronofogden.
    """
    reason = reason_not_to_press(status, open_ore, collectible_ore)
    if reason is None and (held or collectible_ore < open_ore):
        reason = "a hold is in force on the claim"
    if reason is not None:
        return Route("skip", None, reason)
    if open_ore < min_amount_ore:
        if small_claims not in SMALL_CLAIM_ACTIONS:
            raise ValueError(f"small_claims must be one of {SMALL_CLAIM_ACTIONS}")
        return Route(small_claims, None, f"open amount below the hand-off minimum ({min_amount_ore / 100:.2f} kr)")
    if claim_nature == "public_law":
        if decision_final_on is None:
            return Route("wait", "indrivning", "public-law claim: the decision's final date is not known")
        if decision_final_on >= today:
            return Route("wait", "indrivning", f"public-law claim: the decision is final on {decision_final_on}")
        return Route("handoff", "indrivning", "public-law claim, decision final: indrivning (SWEDISH-RULES.md §5.2)")
    if civil_target == "agency":
        return Route("handoff", "agency", "civil claim: external collection agency (creditor configuration)")
    return Route("handoff", "kronofogden", "civil claim: betalningsföreläggande (SWEDISH-RULES.md §5.1, LBF 2 §)")


def application_costs(target: str, *, claim_application_fee: bool, own_work_ore: int) -> tuple[int, int]:
    """(application fee, own-work compensation) claimed in the application: only in a
    betalningsföreläggande (§5.1); the compensation is capped at 380 kr."""
    if target != "kronofogden":
        return 0, 0
    if not 0 <= own_work_ore <= MAX_OWN_WORK_ORE:
        raise ValueError("own-work compensation must be between 0 and 380 kr (LBF 48 §)")
    return (APPLICATION_FEE_ORE if claim_application_fee else 0), own_work_ore
