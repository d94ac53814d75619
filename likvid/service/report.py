"""The report that shows whether the policy works (POLICY.md, "Goals as numbers").

For a period [from, to] (business dates, both included), optionally one creditor and one
claim kind:

- **Outcomes** (goal: paid by the due date), for the claims *due* in the period, as known
  when the report is made: paid by the due date (the last payment's value date on or before
  the due date moved to a bank day), paid after the due date before any reminder, after a
  reminder, after a collection demand, after hand-off; credited, written off, still open.
  Each share is count / claims due in the period.
- **Written off** (goal: minimise losses): ``claim-written-off`` amounts booked in the
  period, by reason and claim kind.
- **Handling cost**: letters on paper and emails sent in the period, per claim settled by
  payment in the period; manual interventions in the period (objections, unmatched
  payments, reviews, manual holds) per 1,000 claims issued in the period. Unmatched
  payments belong to no claim yet, so they count only in a report for every creditor and
  claim kind.
- **Days sales outstanding** at ``to``: DSO = R / S × D, where R is the open capital at the
  end of ``to`` (capital entries with value date on or before ``to``, of claims issued by
  then), S the capital invoiced in the period (claims issued in it) and D the days in the
  period. Capital only: fees and interest are not sales.
- **Ageing** at ``to``: that open capital by days past the (bank-day) due date: not yet due,
  0-30, 31-60, 61-90, over 90 days.

Money is integer öre; shares, ratios and DSO are exact fractions, shown rounded half up.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from likvid.clock import start_of_day, to_db
from likvid.models import Claim, CollectionCase, LedgerEntry, Letter, LetterClaim, TimelineEntry
from likvid.rules.money import kronor_str
from likvid.service.risk import paid_on

#: Outcome of a claim due in the period, in the order the report lists them.
OUTCOMES: tuple[str, ...] = (
    "paid_by_due_date", "paid_after_due_date", "paid_after_reminder", "paid_after_demand",
    "paid_after_handoff", "credited", "written_off", "open",
)
OUTCOME_TEXT = {
    "paid_by_due_date": "Paid by the due date",
    "paid_after_due_date": "Paid late, before a reminder",
    "paid_after_reminder": "Paid after a reminder",
    "paid_after_demand": "Paid after a collection demand",
    "paid_after_handoff": "Paid after hand-off",
    "credited": "Credited",
    "written_off": "Written off",
    "open": "Still open",
}
#: The stage a claim was at when it was settled late → its outcome.
_LATE_BY_STAGE = {
    "issued": "paid_after_due_date", "due": "paid_after_due_date", "reminded": "paid_after_reminder",
    "demanded": "paid_after_demand", "handed_off": "paid_after_handoff",
}
AGEING: tuple[str, ...] = ("not_due", "0-30", "31-60", "61-90", "over_90")
AGEING_TEXT = {"not_due": "Not yet due", "0-30": "0–30 days", "31-60": "31–60 days",
               "61-90": "61–90 days", "over_90": "Over 90 days"}
#: Hold kinds placed by a person (an objection, a manual hold) count as manual interventions.
MANUAL_HOLDS = ("objection", "manual")
MANUAL_TYPES = ("payment-unmatched", "review-decided")


@dataclass(frozen=True)
class ReportFilter:
    start: date
    end: date
    creditor_id: str | None = None
    claim_kind: str | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("--to must not be before --from")


def rounded(value: Fraction, decimals: int) -> str:
    """``value`` rounded half up (away from zero) to ``decimals`` places, as text."""
    scale = 10**decimals
    n = abs(value) * scale
    q = int(n) + (1 if n - int(n) >= Fraction(1, 2) else 0)
    sign = "-" if value < 0 and q else ""
    whole, part = divmod(q, scale)
    return f"{sign}{whole}" + (f".{part:0{decimals}d}" if decimals else "")


def _share(count: int, total: int) -> str | None:
    return rounded(Fraction(100 * count, total), 1) if total else None


def _claims(f: ReportFilter) -> Any:
    q = select(Claim)
    if f.creditor_id:
        q = q.where(Claim.creditor_id == f.creditor_id)
    if f.claim_kind:
        q = q.where(Claim.claim_kind == f.claim_kind)
    return q


def _claim_ok(f: ReportFilter) -> list[Any]:
    conds = []
    if f.creditor_id:
        conds.append(Claim.creditor_id == f.creditor_id)
    if f.claim_kind:
        conds.append(Claim.claim_kind == f.claim_kind)
    return conds


def outcome_of(claim: Claim, last_paid: date | None) -> str:
    if claim.status == "open":
        return "open"
    if claim.status in ("credited", "written_off"):
        return str(claim.status)
    if last_paid is not None and last_paid <= claim.effective_due_date:
        return "paid_by_due_date"
    return _LATE_BY_STAGE[str(claim.stage)]


def build(s: Session, f: ReportFilter) -> dict[str, Any]:
    """The report's figures (JSON-ready: counts and öre as integers, ratios as text)."""
    lo, hi = to_db(start_of_day(f.start)), to_db(start_of_day(f.end + timedelta(days=1)))
    days = (f.end - f.start).days + 1

    # Outcomes of the claims due in the period.
    due = list(s.scalars(_claims(f).where(Claim.due_date >= f.start, Claim.due_date <= f.end)))
    paid = paid_on(s, [c.invoice_id for c in due])
    tally = dict.fromkeys(OUTCOMES, 0)
    for claim in due:
        tally[outcome_of(claim, paid.get(claim.invoice_id))] += 1
    outcomes = [{"outcome": k, "text": OUTCOME_TEXT[k], "claims": n, "share_percent": _share(n, len(due))}
                for k, n in tally.items()]

    # Write-offs booked in the period, by reason and claim kind.
    written: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    rows = s.execute(
        select(TimelineEntry.details, Claim.claim_kind).join(Claim, Claim.invoice_id == TimelineEntry.claim_id)
        .where(TimelineEntry.type == "claim-written-off", TimelineEntry.at >= lo, TimelineEntry.at < hi, *_claim_ok(f))
    )
    for details, kind in rows:
        cell = written[(str(details.get("reason") or "not given"), kind)]
        cell[0] += 1
        cell[1] += int(details.get("amount") or 0)
    write_offs = [{"reason": r, "claim_kind": k, "claims": v[0], "amount_ore": v[1], "amount": kronor_str(v[1])}
                  for (r, k), v in sorted(written.items())]
    written_total = sum(v[1] for v in written.values())

    # Handling cost: letters and emails per settled claim, interventions per 1,000 claims.
    letter_q = select(Letter.channel, func.count()).where(
        Letter.status == "sent", Letter.sent_on >= f.start, Letter.sent_on <= f.end)
    if f.creditor_id:
        letter_q = letter_q.join(CollectionCase, CollectionCase.id == Letter.case_id).where(
            CollectionCase.creditor_id == f.creditor_id)
    if f.claim_kind:
        letter_q = letter_q.where(exists().where(
            LetterClaim.letter_id == Letter.id, LetterClaim.claim_id == Claim.invoice_id,
            Claim.claim_kind == f.claim_kind))
    by_channel = dict(tuple(r) for r in s.execute(letter_q.group_by(Letter.channel)))
    emails = int(by_channel.get("email", 0))
    paper = sum(int(n) for ch, n in by_channel.items() if ch != "email")
    settled = int(s.scalar(select(func.count()).select_from(Claim).where(
        Claim.status == "settled", Claim.closed_at >= lo, Claim.closed_at < hi, *_claim_ok(f))) or 0)
    issued_rows = s.execute(select(func.count(), func.sum(Claim.amount_ore)).where(
        Claim.issue_date >= f.start, Claim.issue_date <= f.end, *_claim_ok(f))).one()
    issued, invoiced = int(issued_rows[0] or 0), int(issued_rows[1] or 0)
    interventions: dict[str, int] = dict.fromkeys(("objections", "manual_holds", "reviews", "unmatched_payments"), 0)
    tl = select(TimelineEntry.type, TimelineEntry.details).where(
        TimelineEntry.at >= lo, TimelineEntry.at < hi,
        TimelineEntry.type.in_(("hold-placed", *MANUAL_TYPES)))
    if f.creditor_id or f.claim_kind:
        tl = tl.join(Claim, Claim.invoice_id == TimelineEntry.claim_id).where(*_claim_ok(f))
    for type_, details in s.execute(tl):
        if type_ == "hold-placed":
            hold = (details or {}).get("hold")
            if hold in MANUAL_HOLDS:
                interventions["objections" if hold == "objection" else "manual_holds"] += 1
        elif type_ == "review-decided":
            interventions["reviews"] += 1
        else:
            interventions["unmatched_payments"] += 1
    manual = sum(interventions.values())

    # Open capital at the end of `to`, per claim issued by then: DSO and ageing.
    open_rows = s.execute(
        select(Claim.invoice_id, Claim.effective_due_date, func.sum(LedgerEntry.amount_ore))
        .join(LedgerEntry, and_(LedgerEntry.claim_id == Claim.invoice_id, LedgerEntry.component == "capital",
                                LedgerEntry.value_date <= f.end))
        .where(Claim.issue_date <= f.end, *_claim_ok(f))
        .group_by(Claim.invoice_id, Claim.effective_due_date)
    ).all()
    ageing = {k: [0, 0] for k in AGEING}
    receivable = 0
    for _, due_on, amount in open_rows:
        amount = int(amount or 0)
        if amount <= 0:
            continue
        receivable += amount
        late = (f.end - due_on).days
        bucket = ("not_due" if late < 0 else "0-30" if late <= 30 else "31-60" if late <= 60
                  else "61-90" if late <= 90 else "over_90")
        ageing[bucket][0] += 1
        ageing[bucket][1] += amount
    dso = rounded(Fraction(receivable * days, invoiced), 1) if invoiced else None

    return {
        "period": {"from": f.start.isoformat(), "to": f.end.isoformat(), "days": days},
        "filter": {"creditor_id": f.creditor_id, "claim_kind": f.claim_kind},
        "claims_due": len(due),
        "outcomes": outcomes,
        "written_off": {"total_ore": written_total, "total": kronor_str(written_total), "by_reason": write_offs},
        "handling": {
            "letters": paper, "emails": emails, "claims_settled": settled,
            "letters_per_settled_claim": rounded(Fraction(paper, settled), 2) if settled else None,
            "emails_per_settled_claim": rounded(Fraction(emails, settled), 2) if settled else None,
            "claims_issued": issued, "manual_interventions": manual, "interventions": interventions,
            "manual_interventions_per_1000_claims": rounded(Fraction(1000 * manual, issued), 1) if issued else None,
            "unmatched_payments_counted": not (f.creditor_id or f.claim_kind),
        },
        "dso": {"days": dso, "receivable_ore": receivable, "receivable": kronor_str(receivable),
                "invoiced_ore": invoiced, "invoiced": kronor_str(invoiced), "period_days": days,
                "formula": "DSO = open capital at the end of the period / capital invoiced in the period × days in the period"},
        "ageing": [{"bucket": k, "text": AGEING_TEXT[k], "claims": v[0], "amount_ore": v[1], "amount": kronor_str(v[1]),
                    "share_percent": _share(v[1], receivable)} for k, v in ageing.items()],
    }


def as_table(report: dict[str, Any]) -> str:
    """The report as plain text for a terminal."""
    p, fl, h, d = report["period"], report["filter"], report["handling"], report["dso"]
    scope = ", ".join(x for x in (fl["creditor_id"] and f"creditor {fl['creditor_id']}",
                                   fl["claim_kind"] and f"claim kind {fl['claim_kind']}") if x) or "all creditors and claim kinds"
    kinds = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in h["interventions"].items())
    out = [f"Likvid report {p['from']} – {p['to']} ({p['days']} days), {scope}", "",
           f"Claims due in the period: {report['claims_due']}"]
    out += [f"  {o['text']:<34} {o['claims']:>7}  {_pct(o['share_percent']):>7}" for o in report["outcomes"]]
    out += ["", f"Written off in the period: {report['written_off']['total']} kr"]
    out += [f"  {w['reason']:<34} {w['claim_kind']:<16} {w['claims']:>4}  {w['amount']:>12} kr"
            for w in report["written_off"]["by_reason"]]
    out += ["", "Handling",
            f"  Letters on paper: {h['letters']}, emails: {h['emails']}, claims settled: {h['claims_settled']}",
            f"  Letters per settled claim: {h['letters_per_settled_claim'] or '–'}, "
            f"emails per settled claim: {h['emails_per_settled_claim'] or '–'}",
            f"  Manual interventions: {h['manual_interventions']} "
            f"({kinds}), "
            f"per 1,000 claims issued ({h['claims_issued']}): {h['manual_interventions_per_1000_claims'] or '–'}",
            "", f"Days sales outstanding: {d['days'] or '–'}  ({d['receivable']} kr open / {d['invoiced']} kr "
            f"invoiced × {d['period_days']} days)", f"  {d['formula']}", "", f"Ageing at {p['to']}"]
    out += [f"  {a['text']:<14} {a['claims']:>6}  {a['amount']:>14} kr  {_pct(a['share_percent']):>7}" for a in report["ageing"]]
    return "\n".join(out) + "\n"


def _pct(value: str | None) -> str:
    return f"{value} %" if value is not None else "–"


def as_html(report: dict[str, Any]) -> str:
    """One self-contained HTML page (inline CSS and SVG charts, no external resources)."""
    from likvid.service.render import new_environment

    env = new_environment(autoescape=True, tag="report")
    charts = {
        "outcomes": _bars([(o["text"], o["claims"], _pct(o["share_percent"])) for o in report["outcomes"]]),
        "ageing": _bars([(a["text"], a["amount_ore"], f"{a['amount']} kr") for a in report["ageing"]]),
    }
    return env.get_template("report.html.j2").render(report=report, charts=charts, percent=_pct)


#: Colours of the chart bars, one per row (colour-blind-safe palette).
PALETTE = ("#1b7837", "#5aae61", "#a6dba0", "#fdb863", "#e66101", "#8073ac", "#b2182b", "#878787")


def _bars(rows: list[tuple[str, int, str]], width: int = 640) -> dict[str, Any]:
    """Geometry for a horizontal bar chart: (label, value, value text) → bars scaled to the max."""
    top = max((v for _, v, _ in rows), default=0)
    label_w, bar_w, row_h = 230, width - 230 - 120, 28
    bars = []
    for n, (label, value, shown) in enumerate(rows):
        length = (value * bar_w // top) if top else 0
        bars.append({"label": label, "value": shown, "y": n * row_h, "x": label_w, "w": length,
                     "colour": PALETTE[n % len(PALETTE)], "text_x": label_w + length + 6})
    return {"width": width, "height": len(rows) * row_h, "bars": bars}
