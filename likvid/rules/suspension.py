"""Suspension of delivery (avstängning) for unpaid utility claims: the legal sequences as data,
with their basis, and the day arithmetic (POLICY.md point 8; SWEDISH-RULES.md §4).

Pure: (claim and customer facts, configuration, business dates) → decision. The service
(``likvid.service.suspension``) stores the track and re-checks every blocker before each step.

Three regimes:

- ``consumer``: electricity and district heating to a consumer (ellagen 11 kap. 3–4 §§,
  fjärrvärmelagen 28 §; §4.1, §4.2, §4.5): a substantial breach; a written request to remedy
  within at least 14 days with a warning; then a demand to pay within three weeks of service
  (delgivning) and, the same day, a message to the social services; the earliest suspension day
  is the service date + 21 days + a margin.
- ``water``: LAV 43 § (§4.3): a substantial breach; a written request to the property owner with
  reasonable time (at least 14 days); no suspension that harms health; the order says how
  alternative water is provided; waste fees never count. LAV has no duty to notify the social
  services; for a household (a consumer) the policy sends them a courtesy message with the
  request ([suspension.water] notify_social_services, [I] §4.3, default on).
- ``business``: electricity and district heating to a business customer: the notice period of
  its agreement (configuration).

Waste, childcare, rent and public-law fees have no track (§4.4: no right to stop waste
collection; the others are no delivery that can be suspended).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from likvid.rules.money import parse_kronor

#: Claim kinds whose delivery may be suspended.
UTILITIES = ("electricity", "district_heating", "water")
#: Which claim kinds count toward a utility's breach. Waste fees never count toward a water
#: suspension (Statens VA-nämnd BVa 52, SWEDISH-RULES.md §4.3, §4.4).
COUNTS_TOWARD = {"electricity": ("electricity",), "district_heating": ("district_heating",), "water": ("water",)}
#: Why the other kinds have no track (recorded when a demand on one passes).
NO_TRACK = {
    "waste": "waste collection is a municipal duty; no right to stop it for non-payment (SWEDISH-RULES.md §4.4)",
    "childcare": "no delivery that may be suspended for non-payment (POLICY.md point 8)",
    "rent": "no delivery that may be suspended for non-payment (POLICY.md point 8)",
    "elderly_care": "a public-law fee: no suspension track (POLICY.md point 8)",
    "permit_fee": "a public-law fee: no suspension track (POLICY.md point 8)",
    "food_inspection": "a public-law fee: no suspension track (POLICY.md point 8)",
    "other": "no suspension track for this claim kind (POLICY.md point 8)",
}

BASIS = {
    "consumer": {
        "warn": "ellagen (1997:857) 11 kap. 3 § / fjärrvärmelagen (2008:263) 28 § 1 st. 1: uppmaning att "
                "vidta rättelse inom skälig tid med varning (SWEDISH-RULES.md §4.1, §4.2)",
        "demand": "ellagen 11 kap. 4 § / fjärrvärmelagen 28 § 1 st. 2 och 4: uppmaning att betala inom tre "
                  "veckor från delgivning; samma dag meddelande till socialnämnden (§4.1, §4.2)",
        "order": "ellagen 11 kap. 4 § / fjärrvärmelagen 28 §: ej betalt inom tre veckor från delgivning, "
                 "inga hinder (§4.1, §4.2, §4.5)",
        "social": "ellagen 11 kap. 4 § / fjärrvärmelagen 28 § 1 st. 4 (SWEDISH-RULES.md §4.1, §4.2)",
    },
    "water": {
        "warn": "lag (2006:412) om allmänna vattentjänster 43 § 4: skriftlig uppmaning till "
                "fastighetsägaren att vidta rättelse inom skälig tid (SWEDISH-RULES.md §4.3)",
        "order": "LAV 43 §: väsentlig försummelse, ingen rättelse inom skälig tid, ingen olägenhet för "
                 "människors hälsa; alternativ vattenförsörjning ordnas (§4.3)",
        "social": "LAV (2006:412) 43 §: ingen lagstadgad skyldighet att underrätta socialnämnden; en "
                  "underrättelse av hänsyn till hushållet enligt kommunens policy ([suspension.water] "
                  "notify_social_services), inte en rättslig plikt (SWEDISH-RULES.md §4.3 [I])",
    },
    "business": {
        "warn": "avtalets villkor för avbrytande av leverans till näringsidkare (POLICY.md point 8)",
        "order": "avtalets uppsägningstid har löpt ut utan betalning (POLICY.md point 8)",
    },
}
BASIS_RESTORE = "skulden som orsakade avstängningen är betald eller täckt (POLICY.md point 8)"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MaterialitySection(_Strict):
    """[V] §4.1: a single claim over 1 000 kr, or at least two unpaid invoices close in time;
    never a debt of fees only (only unpaid, undisputed capital counts)."""

    min_amount: str = "1000.00"
    min_unpaid_invoices: int = Field(default=2, ge=2, le=12)
    #: [I] "close in time": due dates at most this many days apart.
    invoices_close_days: int = Field(default=62, ge=1, le=366)

    @field_validator("min_amount")
    @classmethod
    def _amount(cls, v: str) -> str:
        if parse_kronor(v) < 100000:
            raise ValueError("must be at least 1000.00 kr (väsentligt avtalsbrott, SWEDISH-RULES.md §4.1)")
        return v


class ConsumerSection(_Strict):
    #: [I] §4.1 (14 days verified for gas): at least 14 days to remedy.
    remedy_days: int = Field(default=14, ge=14, le=90)
    #: [V] ellagen 11 kap. 4 §: three weeks from service.
    pay_days_after_service: int = Field(default=21, ge=21, le=90)
    #: [I] §4.5: days after the three weeks before the earliest suspension day.
    margin_days: int = Field(default=1, ge=0, le=30)


class WaterSection(_Strict):
    #: [V] §4.3: "skälig tid", about two weeks in practice; at least 14 days here.
    remedy_days: int = Field(default=14, ge=14, le=90)
    margin_days: int = Field(default=1, ge=0, le=30)
    #: [V] §4.3: the huvudman still provides water; printed in the order.
    alternative_water: str = Field(
        default="Tappställe för dricksvatten inom gångavstånd eller vattentank ställs ut av VA-huvudmannen.",
        min_length=10, max_length=500)
    #: [I] §4.3, §4.5: LAV 43 § has no duty to notify socialnämnden, but notifying it is
    #: recommended when a household is affected. The conservative default: a consumer's water
    #: track sends the social services a courtesy message with the written request to remedy.
    notify_social_services: StrictBool = True


class BusinessSection(_Strict):
    #: [I] The notice period business agreements set before delivery is interrupted.
    notice_days: int = Field(default=14, ge=1, le=180)
    margin_days: int = Field(default=1, ge=0, le=30)


class SocialServicesSection(_Strict):
    """Where the message to the social services goes: the socialnämnd of the municipality
    where the consumer receives the delivery (ellagen 11 kap. 4 §)."""

    name: str = Field(default="Socialnämnden", min_length=1, max_length=200)
    street: str = Field(default="Stadshuset, Storgatan 1", min_length=1, max_length=200)
    postal_code: str = Field(default="123 45", min_length=1, max_length=20)
    city: str = Field(default="Exempelby", min_length=1, max_length=100)


class SuspensionSection(_Strict):
    """``[suspension]`` in the policy file."""

    #: [I] The track starts this many days after a collection demand's deadline has passed,
    #: not earlier: suspension is not a collection measure (§4.1 "Frånkoppling är ingen
    #: inkassoåtgärd"), it follows a debt established as unpaid despite reminder and demand.
    start_after_demand_days: int = Field(default=7, ge=1, le=365)
    #: [I] A consumer's demand never served (no ``notice-served``): the track lapses this many
    #: days after the demand was sent, so a later demand can start afresh with a fresh warning.
    #: Long enough for a slow delgivning (service by a process server takes weeks); a notice
    #: served after the lapse is rejected and never leads to an order.
    service_wait_days: int = Field(default=60, ge=21, le=365)
    materiality: MaterialitySection = MaterialitySection()
    consumer: ConsumerSection = ConsumerSection()
    water: WaterSection = WaterSection()
    business: BusinessSection = BusinessSection()
    social_services: SocialServicesSection = SocialServicesSection()


def regime_for(claim_kind: str, party_type: str, consumer: bool) -> tuple[str | None, str]:
    """(regime, why). No regime: no track (the reason says why).

    A dödsbo is a juridisk person, so ellagen 11 kap. does not apply and neither do a consumer's
    business terms: a handler decides (§4.1); it gets no automatic track.
    """
    if claim_kind not in UTILITIES:
        return None, NO_TRACK.get(claim_kind, NO_TRACK["other"])
    if party_type == "estate":
        return None, "the customer is an estate (dödsbo): a handler decides (SWEDISH-RULES.md §4.1)"
    if claim_kind == "water":
        return "water", "LAV 43 § (SWEDISH-RULES.md §4.3)"
    if consumer and party_type == "person":
        return "consumer", "consumer protection, ellagen 11 kap. / fjärrvärmelagen (SWEDISH-RULES.md §4.1, §4.2)"
    return "business", "business customer: the agreement's notice period"


def water_courtesy_notice(party_type: str, consumer: bool, cfg: SuspensionSection) -> bool:
    """Whether a water track's written request to remedy is copied to the social services: only
    for a household (a consumer who is a natural person) and only when the policy says so. LAV
    43 § has no such duty; it is a courtesy by policy (SWEDISH-RULES.md §4.3, §4.5 [I])."""
    return cfg.water.notify_social_services and consumer and party_type == "person"


@dataclass(frozen=True)
class Unpaid:
    """One overdue claim toward a breach: its due date and unpaid, undisputed capital."""

    due_date: date
    capital_ore: int


def undisputed_capital(capital_ore: int, collectible_ore: int) -> int:
    """Capital that counts: never fees or interest (§4.1 "not for a debt of fees only"), never a
    disputed or held amount (§4.1 "tvistig")."""
    return max(0, min(capital_ore, collectible_ore))


def breach_reason(items: Sequence[Unpaid], cfg: MaterialitySection) -> str | None:
    """None when the breach is substantial (väsentligt avtalsbrott, §4.1/§4.3), else why not."""
    counted = [i for i in items if i.capital_ore > 0]
    if not counted:
        return "nothing undisputed is unpaid (fees and interest alone never count)"
    total = sum(i.capital_ore for i in counted)
    if total > parse_kronor(cfg.min_amount):
        return None
    dates = sorted(i.due_date for i in counted)
    n = cfg.min_unpaid_invoices
    for k in range(len(dates) - n + 1):
        if (dates[k + n - 1] - dates[k]).days <= cfg.invoices_close_days:
            return None
    return (f"below the threshold: {total // 100}.{total % 100:02d} kr unpaid (more than {cfg.min_amount} kr, or "
            f"{n} unpaid invoices due within {cfg.invoices_close_days} days, needed)")


def remedy_deadline(warned_on: date, regime: str, cfg: SuspensionSection) -> date:
    """The last day to remedy after the written request (§4.1 ≥ 14 days; §4.3 skälig tid;
    business: the agreement's notice period)."""
    days = {"consumer": cfg.consumer.remedy_days, "water": cfg.water.remedy_days,
            "business": cfg.business.notice_days}[regime]
    return warned_on + timedelta(days=days)


def demand_on(deadline: date) -> date:
    """Consumer: the demand to pay is served only after the remedy period has expired (§4.1 4 §)."""
    return deadline + timedelta(days=1)


def order_after_warning_on(deadline: date, regime: str, cfg: SuspensionSection) -> date:
    """Water and business: the earliest suspension day after the request's deadline passed
    unremedied (LAV 43 § 5; the agreement)."""
    margin = cfg.water.margin_days if regime == "water" else cfg.business.margin_days
    return deadline + timedelta(days=max(1, margin))


def order_after_service_on(served_on: date, cfg: SuspensionSection) -> date:
    """Consumer: the earliest suspension day is the service date + 21 days (+ margin) (§4.5 6)."""
    return served_on + timedelta(days=cfg.consumer.pay_days_after_service + cfg.consumer.margin_days)


def service_lapses_on(demanded_on: date, cfg: SuspensionSection) -> date:
    """Consumer: the day a demand still not served closes the track as lapsed (no order without
    service, ellagen 11 kap. 4 §; the wait itself is configuration [I], §4.5)."""
    return demanded_on + timedelta(days=cfg.service_wait_days)


def next_step(status: str, regime: str, remedy_deadline: date, demanded_on: date | None, order_on: date | None,
              today: date, cfg: SuspensionSection) -> tuple[str | None, date | None]:
    """(the track's next step, the earliest day it may happen) for staff (``likvid suspension
    list``); ``(None, None)`` for a closed track. An ordered point is restored once the debt is
    paid or covered (no day); a track awaiting service can be ordered at the earliest 21 days
    (+ margin) after the demand was sent (served that day) and never before today."""
    if status == "warned":
        if regime == "consumer":
            return "demand", demand_on(remedy_deadline)
        return "order", order_on or order_after_warning_on(remedy_deadline, regime, cfg)
    if status == "awaiting_service":
        assert demanded_on is not None
        return "order", max(order_after_service_on(demanded_on, cfg), today)
    if status == "served":
        return "order", order_on
    if status == "ordered":
        return "restoration", None
    return None, None


def pay_by_after_service(served_on: date, cfg: SuspensionSection) -> date:
    """The last day to pay stated in the demand: three weeks from service (ellagen 11 kap. 4 §)."""
    return served_on + timedelta(days=cfg.consumer.pay_days_after_service)


def describe(cfg: SuspensionSection) -> list[str]:
    """The suspension rules in words for staff (``likvid policy show``)."""
    m, c, w, b = cfg.materiality, cfg.consumer, cfg.water, cfg.business
    return [
        "Suspension of delivery (policy point 8; electricity, district heating, water only):",
        f"  starts {cfg.start_after_demand_days} days after a collection demand's deadline, for a substantial breach:"
        f" more than {m.min_amount} kr unpaid undisputed capital, or {m.min_unpaid_invoices} unpaid invoices due"
        f" within {m.invoices_close_days} days; never fees only, never a disputed amount",
        f"  consumers (electricity, district heating): request to remedy with {c.remedy_days} days and a warning;"
        f" then a demand to pay within {c.pay_days_after_service} days of service and the same day a message to"
        f" {cfg.social_services.name}; earliest suspension on service + {c.pay_days_after_service + c.margin_days} days",
        f"  water (to the property owner): request with {w.remedy_days} days; suspension at the earliest"
        f" {max(1, w.margin_days)} day(s) after its deadline, never if it harms health; waste fees never count;"
        + (f" a household's request is copied the same day to {cfg.social_services.name} as a courtesy"
           " (policy, not a duty under LAV 43 §)" if w.notify_social_services else
           " the social services are not told (LAV 43 § has no such duty)"),
        f"  business customers: notice of {b.notice_days} days; suspension {max(1, b.margin_days)} day(s) after it",
        "  each step re-checks payment, objections, holds, social services' undertaking, health risk and"
        " consumer status; restoration as soon as the debt is paid or covered",
        f"  a demand not served within {cfg.service_wait_days} days closes the track as lapsed; a later demand"
        " starts afresh with a new warning",
    ]
