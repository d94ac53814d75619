"""The policy configuration (TOML): creditors, steps per creditor and claim kind, fees, interest.

Validated at start-up against the legal limits in SWEDISH-RULES.md: an invalid file stops the
service with a message naming the key and the rule it breaks. Lookups merge, from weakest to
strongest: ``[defaults]``, ``[claim_kinds.K]``, the creditor's own section, the creditor's
``[creditors.claim_kinds.K]``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from likvid.rules.credit import CreditRules
from likvid.rules.deadlines import check_days_to_pay
from likvid.rules.fees import MAX_COLLECTION_FEE_ORE, MAX_REMINDER_FEE_ORE
from likvid.rules.interest import ReferenceRate, parse_reference_rates
from likvid.rules.money import parse_kronor
from likvid.rules.suspension import SuspensionSection

CLAIM_KINDS = (
    "water", "waste", "district_heating", "electricity", "childcare", "rent",
    "elderly_care", "permit_fee", "food_inspection", "other",
)
HANDOFF_TARGETS = ("kronofogden", "agency", "indrivning")


class PolicyError(Exception):
    """An invalid policy file; the message names the key and the rule it breaks."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepsSection(_Strict):
    reminder_after_days: int | None = Field(None, ge=0, le=365)
    reminder_days_to_pay: int | None = Field(None, ge=1, le=365)
    demand_after_days: int | None = Field(None, ge=0, le=365)
    demand_days_to_pay: int | None = Field(None, ge=1, le=365)
    presumed_delivery_bank_days: int | None = Field(None, ge=0, le=10)
    handoff_after_days: int | None = Field(None, ge=0, le=365)
    handoff_target: Literal["kronofogden", "agency", "indrivning"] | None = None
    resume_days_to_pay: int | None = Field(None, ge=1, le=365)

    @field_validator("demand_days_to_pay")
    @classmethod
    def _legal_minimum(cls, v: int | None) -> int | None:
        if v is not None and (reason := check_days_to_pay(v)):
            raise ValueError(reason)
        return v


class FeesSection(_Strict):
    reminder_fee: str | None = None
    collection_fee: str | None = None
    min_claim_for_collection_fee: str | None = None

    @field_validator("reminder_fee", "collection_fee", "min_claim_for_collection_fee")
    @classmethod
    def _kronor(cls, v: str | None, info: Any) -> str | None:
        if v is None:
            return v
        ore = parse_kronor(v)
        cap = {"reminder_fee": MAX_REMINDER_FEE_ORE, "collection_fee": MAX_COLLECTION_FEE_ORE}
        limit = cap.get(info.field_name)
        if limit is not None and ore > limit:
            raise ValueError(
                f"must be at most {limit // 100} kr (lag (1981:739) om ersättning för "
                "inkassokostnader 4 §, SWEDISH-RULES.md §1.1)"
            )
        return v


class KindSection(_Strict):
    steps: StepsSection = StepsSection()
    fees: FeesSection = FeesSection()


Channel = Literal["email", "letter"]
#: [I] Reminders and acknowledgements by email where the customer has an address; collection
#: demands and hand-off notices on paper, for proof of sending (SWEDISH-RULES.md §6.1).
DEFAULT_CHANNELS: dict[str, list[Channel]] = {
    "reminder": ["email", "letter"],
    "objection_acknowledgement": ["email", "letter"],
    "collection_demand": ["letter"],
    "handoff_notice": ["letter"],
    "deferral_confirmation": ["email", "letter"],
    "payment_plan": ["letter"],
    "payment_plan_broken": ["email", "letter"],
    "review_decision": ["letter"],
    # Suspension (SWEDISH-RULES.md §4): on paper; the demand is served (delgivning).
    "suspension_warning": ["letter"],
    "suspension_notice": ["letter"],
    "social_services_notice": ["letter"],
    "limitation_demand": ["letter"],
}


def _known_letter_kinds(v: dict[str, list[Channel]]) -> dict[str, list[Channel]]:
    for kind, order in v.items():
        if kind not in DEFAULT_CHANNELS:
            raise ValueError(f"{kind!r} is not a letter kind (one of {', '.join(DEFAULT_CHANNELS)})")
        if not order:
            raise ValueError(f"{kind}: give at least one channel")
    return v


class DefaultsSection(_Strict):
    objection_how: str = Field(min_length=10)
    #: Channel order per letter kind: the first one that reaches the customer is used.
    channels: dict[str, list[Channel]] = DEFAULT_CHANNELS

    _channels = field_validator("channels")(classmethod(lambda cls, v: _known_letter_kinds(v)))
    #: [I] Days within which an objection is re-examined (SWEDISH-RULES.md §3: investigate promptly).
    objection_review_days: int = Field(14, ge=1, le=90)
    #: [I] Days after an installment's due date before an unpaid installment breaks the plan.
    plan_grace_days: int = Field(7, ge=0, le=60)
    #: [I] Days collection waits after a death (SWEDISH-RULES.md §10: the estate inventory
    #: takes about 4 months).
    debtor_status_hold_days: int = Field(120, ge=1, le=730)
    #: [I] Days the customer has to return a signed payment plan.
    plan_sign_days: int = Field(14, ge=1, le=90)
    #: The order a payment pays a claim's parts in (issue "money": fees, interest, capital).
    allocation_order: list[Literal["fee", "interest", "capital"]] = ["fee", "interest", "capital"]

    @field_validator("allocation_order")
    @classmethod
    def _permutation(cls, v: list[str]) -> list[str]:
        if sorted(v) != ["capital", "fee", "interest"]:
            raise ValueError("must name fee, interest and capital, each once")
        return v
    steps: StepsSection
    fees: FeesSection


class InterestSection(_Strict):
    margin: str = "8.00"
    days_in_year: Literal[360, 365, 366] = 365
    charge_public_law: bool = False
    reference_rates: list[dict[str, str]] = []


class HandoffSection(_Strict):
    """Hand-off routing and file contents (SWEDISH-RULES.md §5; issue 7). Every key may be set per
    creditor under ``[creditors.handoff]``; unset keys come from the top-level ``[handoff]``."""

    #: [I] Claims whose open amount is below this (kronor) are not handed off; "0.00": all are.
    min_amount: str | None = None
    #: [I] What happens to such a claim: "surveillance" (kept and watched) or "write_off".
    small_claims: Literal["surveillance", "write_off"] | None = None
    #: §5.1: claim the 300 kr application fee in a betalningsföreläggande.
    application_fee: bool | None = None
    #: §5.1, LBF 48 §: compensation for own work claimed in a betalningsföreläggande, at most 380 kr.
    own_work_compensation: str | None = None

    @field_validator("min_amount", "own_work_compensation")
    @classmethod
    def _amounts(cls, v: str | None, info: Any) -> str | None:
        if v is None:
            return v
        ore = parse_kronor(v)
        if info.field_name == "own_work_compensation" and ore > 38000:
            raise ValueError("must be at most 380 kr (LBF 48 §, SWEDISH-RULES.md §5.1)")
        return v


class SurveillanceSection(_Strict):
    """Efterbevakning (SWEDISH-RULES.md §6.3 [I])."""

    #: Months before the limitation date the interrupting demand goes out.
    lead_months_consumer: int = Field(6, ge=1, le=30)
    lead_months_other: int = Field(12, ge=1, le=100)
    #: `likvid surveillance list` shows a demand as due this many days ahead.
    due_window_days: int = Field(30, ge=1, le=365)


@dataclass(frozen=True)
class HandoffPolicy:
    min_amount_ore: int
    small_claims: str
    application_fee: bool
    own_work_ore: int


class AddressSection(_Strict):
    street: str
    postal_code: str
    city: str


class ContactSection(_Strict):
    phone: str
    email: str
    web: str | None = None


class CreditorSection(_Strict):
    id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    org_number: str
    bankgiro: str
    ocr_length_digit: bool = True
    ocr_prefix: str = Field("", pattern=r"^\d{0,6}$")
    address: AddressSection
    contact: ContactSection
    steps: StepsSection = StepsSection()
    fees: FeesSection = FeesSection()
    claim_kinds: dict[str, KindSection] = {}
    channels: dict[str, list[Channel]] = {}
    #: [I] A residual at or below this (kronor) left after a payment is written off
    #: automatically; "0.00" turns it off (the default).
    write_off_below: str = "0.00"
    #: SWEDISH-RULES.md §1.1, 4 a §: förseningsersättning 450 kr from business debtors, instead of
    #: the reminder and collection fees. Off by default: a kommun-förvaltning is probably not a
    #: näringsidkare (legal review needed); a municipal company may turn it on.
    late_payment_compensation: bool = False
    handoff: HandoffSection = HandoffSection()

    _channels = field_validator("channels")(classmethod(lambda cls, v: _known_letter_kinds(v)))

    @field_validator("write_off_below")
    @classmethod
    def _write_off(cls, v: str) -> str:
        if parse_kronor(v) > 10000:
            raise ValueError("must be at most 100.00 kr: larger residuals are for a handler to decide")
        return v

    @field_validator("org_number")
    @classmethod
    def _orgnr(cls, v: str) -> str:
        from likvid.rules.identity import normalise_identity

        return normalise_identity(v, "organisation")

    @field_validator("bankgiro")
    @classmethod
    def _bankgiro(cls, v: str) -> str:
        from likvid.rules.ocr import luhn_check_digit

        digits = v.replace("-", "")
        if not (digits.isdigit() and len(digits) in (7, 8)) or (
            luhn_check_digit(digits[:-1]) != digits[-1]
        ):
            raise ValueError("is not a valid bankgiro number (7 or 8 digits with a check digit)")
        return f"{digits[:-4]}-{digits[-4:]}"

    @field_validator("claim_kinds")
    @classmethod
    def _kinds(cls, v: dict[str, KindSection]) -> dict[str, KindSection]:
        for kind in v:
            if kind not in CLAIM_KINDS:
                raise ValueError(f"{kind!r} is not a claim kind (one of {', '.join(CLAIM_KINDS)})")
        return v


class RiskWeightsSection(_Strict):
    """Points per event in the look-back window (likvid.rules.risk.FACTORS), whole numbers."""

    late_payment: int = Field(2, ge=0, le=1000)
    reminder: int = Field(3, ge=0, le=1000)
    collection_demand: int = Field(8, ge=0, le=1000)
    handoff: int = Field(20, ge=0, le=1000)
    broken_plan: int = Field(15, ge=0, le=1000)
    failed_objection: int = Field(5, ge=0, le=1000)


class RiskSection(_Strict):
    """POLICY.md point 5: the customer's own history, weighed; point 4: the follow-up list."""

    #: [I] Only what happened within this many days counts (older behaviour ages out).
    lookback_days: int = Field(730, ge=30, le=3650)
    #: A customer with at least this score is on the handlers' follow-up list (`likvid risk list`).
    follow_up_from: int = Field(20, ge=1)
    weights: RiskWeightsSection = RiskWeightsSection()


class CreditSection(_Strict):
    """POLICY.md point 4: the fixed routine for credit decisions (likvid.rules.credit)."""

    deposit_from_score: int = Field(10, ge=0)
    prepayment_from_score: int = Field(25, ge=0)
    refuse_from_score: int = Field(50, ge=0)
    #: A deposit is asked for any amount above this (kronor), whatever the history.
    deposit_above: str = "10000.00"
    #: The deposit as a whole percentage of the amount asked for.
    deposit_percent: int = Field(25, ge=1, le=100)
    #: Open overdue debt above this (kronor, any creditor) requires prepayment.
    prepayment_when_overdue_above: str = "0.00"
    #: An open claim handed off for collection means refusal.
    refuse_when_handed_off: bool = True

    @field_validator("deposit_above", "prepayment_when_overdue_above")
    @classmethod
    def _amount(cls, v: str) -> str:
        parse_kronor(v)
        return v

    @model_validator(mode="after")
    def _ordered(self) -> CreditSection:
        if not self.deposit_from_score <= self.prepayment_from_score <= self.refuse_from_score:
            raise ValueError(
                "deposit_from_score <= prepayment_from_score <= refuse_from_score must hold "
                "(a worse history never gets a milder outcome)"
            )
        return self


class PolicyFile(_Strict):
    version: str = Field(min_length=1, max_length=50)
    defaults: DefaultsSection
    interest: InterestSection = InterestSection()
    risk: RiskSection = RiskSection()
    credit: CreditSection = CreditSection()
    #: Suspension of delivery for unpaid utility claims (POLICY.md point 8, SWEDISH-RULES.md §4).
    suspension: SuspensionSection = SuspensionSection()
    handoff: HandoffSection = HandoffSection()
    surveillance: SurveillanceSection = SurveillanceSection()
    claim_kinds: dict[str, KindSection] = {}
    creditors: list[CreditorSection] = Field(min_length=1)

    @field_validator("claim_kinds")
    @classmethod
    def _kinds(cls, v: dict[str, KindSection]) -> dict[str, KindSection]:
        return CreditorSection._kinds(v)


@dataclass(frozen=True)
class StepPolicy:
    """The resolved steps for one creditor and claim kind."""

    reminder_after_days: int
    reminder_days_to_pay: int
    demand_after_days: int
    demand_days_to_pay: int
    presumed_delivery_bank_days: int
    handoff_after_days: int
    handoff_target: str
    resume_days_to_pay: int
    reminder_fee_ore: int
    collection_fee_ore: int
    min_claim_for_collection_fee_ore: int


STEP_KEYS = tuple(StepsSection.model_fields)
FEE_KEYS = tuple(FeesSection.model_fields)


class Policy:
    """The validated policy, with lookups the steps use."""

    def __init__(self, parsed: PolicyFile, source: str) -> None:
        self.file = parsed
        self.source = source
        self.version = parsed.version
        self.creditors = {c.id: c for c in parsed.creditors}
        if len(self.creditors) != len(parsed.creditors):
            raise PolicyError(f"{source}: creditors: each id must be unique")
        prefixes = [c.ocr_prefix for c in parsed.creditors]
        # Each creditor has its own bankgiro, so equal prefixes are allowed; say nothing.
        del prefixes
        for kind in CLAIM_KINDS:  # resolve everything once, so a gap fails at start-up
            for creditor in self.creditors:
                self.steps_for(creditor, kind)

    @cached_property
    def reference_rates(self) -> tuple[ReferenceRate, ...]:
        return parse_reference_rates(self.file.interest.reference_rates)

    @cached_property
    def interest_margin_bp(self) -> int:
        return parse_kronor(self.file.interest.margin)  # "8.00" → 800: same two-decimal form

    def steps_for(self, creditor_id: str, claim_kind: str) -> StepPolicy:
        return _resolve(self, creditor_id, claim_kind)

    def handoff_for(self, creditor_id: str) -> HandoffPolicy:
        """The creditor's ``[creditors.handoff]`` over the top-level ``[handoff]``; conservative
        defaults: every claim is handed off, the application fee is claimed, own work is not."""
        merged: dict[str, Any] = {"min_amount": "0.00", "small_claims": "surveillance",
                                  "application_fee": True, "own_work_compensation": "0.00"}
        for layer in (self.file.handoff, self.creditors[creditor_id].handoff):
            merged.update({k: v for k, v in layer.model_dump().items() if v is not None})
        return HandoffPolicy(min_amount_ore=parse_kronor(merged["min_amount"]), small_claims=merged["small_claims"],
                             application_fee=merged["application_fee"],
                             own_work_ore=parse_kronor(merged["own_work_compensation"]))

    def channels_for(self, creditor_id: str, letter_kind: str) -> list[str]:
        creditor = self.creditors[creditor_id]
        if letter_kind in creditor.channels:
            return list(creditor.channels[letter_kind])
        return list(self.file.defaults.channels.get(letter_kind, ["letter"]))

    @cached_property
    def credit_rules(self) -> CreditRules:
        c = self.file.credit
        return CreditRules(
            deposit_from_score=c.deposit_from_score,
            prepayment_from_score=c.prepayment_from_score,
            refuse_from_score=c.refuse_from_score,
            deposit_above_ore=parse_kronor(c.deposit_above),
            deposit_percent=c.deposit_percent,
            prepayment_when_overdue_above_ore=parse_kronor(c.prepayment_when_overdue_above),
            refuse_when_handed_off=c.refuse_when_handed_off,
        )

    @cached_property
    def risk_weights(self) -> dict[str, int]:
        return self.file.risk.weights.model_dump()

    def last_known_rate_date(self) -> date | None:
        rates = self.reference_rates
        return rates[-1].valid_from if rates else None


def _resolve(policy: Policy, creditor_id: str, claim_kind: str) -> StepPolicy:
    f = policy.file
    creditor = policy.creditors[creditor_id]
    layers: list[KindSection] = [KindSection(steps=f.defaults.steps, fees=f.defaults.fees)]
    if claim_kind in f.claim_kinds:
        layers.append(f.claim_kinds[claim_kind])
    layers.append(KindSection(steps=creditor.steps, fees=creditor.fees))
    if claim_kind in creditor.claim_kinds:
        layers.append(creditor.claim_kinds[claim_kind])
    merged: dict[str, Any] = {}
    for layer in layers:
        for key in STEP_KEYS:
            value = getattr(layer.steps, key)
            if value is not None:
                merged[key] = value
        for key in FEE_KEYS:
            value = getattr(layer.fees, key)
            if value is not None:
                merged[key] = parse_kronor(value)
    missing = [k for k in (*STEP_KEYS, *FEE_KEYS) if k not in merged]
    if missing:
        raise PolicyError(
            f"{policy.source}: defaults.steps/defaults.fees: {', '.join(missing)} must be set"
        )
    return StepPolicy(
        reminder_after_days=merged["reminder_after_days"],
        reminder_days_to_pay=merged["reminder_days_to_pay"],
        demand_after_days=merged["demand_after_days"],
        demand_days_to_pay=merged["demand_days_to_pay"],
        presumed_delivery_bank_days=merged["presumed_delivery_bank_days"],
        handoff_after_days=merged["handoff_after_days"],
        handoff_target=merged["handoff_target"],
        resume_days_to_pay=merged["resume_days_to_pay"],
        reminder_fee_ore=merged["reminder_fee"],
        collection_fee_ore=merged["collection_fee"],
        min_claim_for_collection_fee_ore=merged["min_claim_for_collection_fee"],
    )


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_policy(text: str, source: str = "policy") -> Policy:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    try:
        parsed = PolicyFile.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "is not a known key"
            elif err["type"] == "missing":
                msg = "is required"
            lines.append(f"{source}: {_location(err['loc'])}: {msg}")
        raise PolicyError("\n".join(lines)) from None
    try:
        policy = Policy(parsed, source)
        policy.reference_rates  # noqa: B018 - validate the table now, not at the first demand
    except ValueError as exc:
        raise PolicyError(f"{source}: interest.reference_rates: {exc}") from None
    return policy


def default_policy_text() -> str:
    return resources.files("likvid").joinpath("default_policy.toml").read_text(encoding="utf-8")


def load_policy(path: Path | None) -> Policy:
    """The file at ``path`` (LIKVID_POLICY), else the commented default that ships."""
    if path is None:
        return parse_policy(default_policy_text(), "default policy")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"LIKVID_POLICY={path}: cannot be read: {exc.strerror}") from None
    return parse_policy(text, str(path))
