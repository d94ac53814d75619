"""Human-readable output for the command line."""

from __future__ import annotations

from typing import Any

from likvid.policy import CLAIM_KINDS, Policy
from likvid.rules.money import format_kronor


def human(data: dict[str, Any]) -> str:
    lines: list[str] = []
    timeline = data.get("timeline", [])
    for key, value in data.items():
        if key == "timeline":
            continue
        if isinstance(value, dict):
            lines.append(f"{key}: " + ", ".join(f"{k} {v}" for k, v in value.items()))
        elif isinstance(value, list):
            lines.append(f"{key}: {len(value)}")
            for item in value:
                if not isinstance(item, dict):  # a plain list (the correlation ids)
                    lines.append(f"  - {item}")
                    continue
                lines.append("  - " + ", ".join(f"{k}={v}" for k, v in item.items() if v not in (None, {}, [])))
        else:
            lines.append(f"{key}: {value}")
    if timeline:
        lines.append("timeline:")
        for t in timeline:
            details = ", ".join(f"{k}={v}" for k, v in t["details"].items() if v not in (None, {}, []))
            lines.append(f"  {t['at'][:16]}  {t['type']:<24} {details}")
    return "\n".join(lines)


def policy_summary(policy: Policy) -> str:
    """The policy in words, per creditor and claim kind (POLICY.md goal: make the policy clear)."""
    out = [f"Policy version {policy.version} ({policy.source})", ""]
    for cid, creditor in policy.creditors.items():
        out.append(f"{creditor.name} ({cid}), bankgiro {creditor.bankgiro}")
        seen: dict[tuple[Any, ...], list[str]] = {}
        for kind in CLAIM_KINDS:
            st = policy.steps_for(cid, kind)
            seen.setdefault(tuple(vars(st).items()), []).append(kind)
        for items, kinds in seen.items():
            st = dict(items)
            out.append(f"  {', '.join(kinds)}:")
            out.append(f"    reminder {st['reminder_after_days']} days after the due date, {st['reminder_days_to_pay']} days to pay"
                       f" (fee {format_kronor(st['reminder_fee_ore'])} only where agreed)")
            out.append(f"    collection demand {st['demand_after_days']} days after the reminder's deadline,"
                       f" {st['demand_days_to_pay']} days to pay or object (fee {format_kronor(st['collection_fee_ore'])})")
            out.append(f"    hand-off to {st['handoff_target']} {st['handoff_after_days']} day(s) after the demand's deadline")
        h = policy.handoff_for(cid)
        out.append(f"  hand-off: public-law claims to indrivning once the decision is final; claims below "
                   f"{format_kronor(h.min_amount_ore)}: {h.small_claims.replace('_', ' ')}; application fee "
                   f"{'claimed' if h.application_fee else 'not claimed'}; own work {format_kronor(h.own_work_ore)}")
        out.append("")
    risk, credit = policy.file.risk, policy.credit_rules
    weights = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in policy.risk_weights.items())
    out.append(f"Risk score: points per event in the last {risk.lookback_days} days ({weights});"
               f" follow-up from {risk.follow_up_from} points")
    out.append(f"Credit decisions: deposit of {credit.deposit_percent} % from score {credit.deposit_from_score} or for amounts"
               f" above {format_kronor(credit.deposit_above_ore)}; prepayment from score {credit.prepayment_from_score} or with"
               f" overdue debt above {format_kronor(credit.prepayment_when_overdue_above_ore)}; refusal from score"
               f" {credit.refuse_from_score}" + (" or with a claim handed off" if credit.refuse_when_handed_off else ""))
    from likvid.rules.suspension import describe

    out += [*describe(policy.file.suspension), ""]
    sv = policy.file.surveillance
    out.append(f"Surveillance: interrupting demand {sv.lead_months_consumer} months before the limitation date "
               f"(consumer claims, 3 years), {sv.lead_months_other} months before (others, 10 years)")
    return "\n".join(out)
