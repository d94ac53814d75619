"""A customer's risk score from their own payment history (POLICY.md points 4 and 5).

Pure: the counts of what happened go in, the score and its factors come out. The score is a
whole number, the sum of each factor's points (count × weight), so it can be explained
factor by factor and the factors add up to it exactly. The weights are configuration
(``[risk.weights]`` in the policy file): the policy names what to weigh, not how much.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: What is weighed, in the order it is explained (POLICY.md point 5).
FACTORS: tuple[str, ...] = (
    "late_payment",
    "reminder",
    "collection_demand",
    "handoff",
    "broken_plan",
    "failed_objection",
)

#: How each factor reads to a handler.
FACTOR_TEXT: dict[str, str] = {
    "late_payment": "claims paid after the due date",
    "reminder": "reminders sent",
    "collection_demand": "collection demands sent",
    "handoff": "claims handed off (Kronofogden, agency or indrivning)",
    "broken_plan": "payment plans broken",
    "failed_objection": "objections that failed on review (claim upheld)",
}


@dataclass(frozen=True)
class Factor:
    name: str
    count: int
    weight: int
    points: int
    text: str

    def as_dict(self) -> dict[str, object]:
        return {"factor": self.name, "count": self.count, "weight": self.weight,
                "points": self.points, "text": self.text}


@dataclass(frozen=True)
class RiskScore:
    score: int
    factors: tuple[Factor, ...]

    def as_dict(self) -> dict[str, object]:
        return {"score": self.score, "factors": [f.as_dict() for f in self.factors]}


def risk_score(counts: Mapping[str, int], weights: Mapping[str, int]) -> RiskScore:
    """The score for ``counts`` (events per factor in the look-back window) under ``weights``.

    Every factor in FACTORS is listed, also at zero, so the explanation is complete; the
    score is exactly the sum of the factors' points.
    """
    unknown = sorted(set(counts) - set(FACTORS))
    if unknown:
        raise ValueError(f"unknown risk factors: {', '.join(unknown)}")
    factors = []
    for name in FACTORS:
        count, weight = int(counts.get(name, 0)), int(weights[name])
        if count < 0:
            raise ValueError(f"{name}: a count cannot be negative")
        factors.append(Factor(name, count, weight, count * weight, FACTOR_TEXT[name]))
    return RiskScore(sum(f.points for f in factors), tuple(factors))
