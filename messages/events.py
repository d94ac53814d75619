"""The `data` of each inbound event type (EVENTS.md, version 1), validated strictly.

Contract types are JSON types: amounts are kronor as decimal strings ("1234.50") and become
int öre here; dates are "YYYY-MM-DD" strings and become `datetime.date`; booleans must be
real booleans. Identity numbers, OCR references and amounts are checked by the pure rules in
`likvid.rules`; identity numbers are stored normalised (a person 12 digits, an organisation
10). Every object forbids unknown fields and every string has a maximum length.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from likvid.rules.identity import PARTY_TYPES, normalise_identity
from likvid.rules.money import kronor_str, parse_kronor
from likvid.rules.ocr import MAX_OCR_LENGTH, MIN_OCR_LENGTH, validate_ocr

from .errors import PATTERN_REASONS, fail

# --- Enumerations (EVENTS.md) -------------------------------------------------------------

PartyType = Literal["person", "organisation", "estate"]
Language = Literal["sv", "en"]
RepresentativeKind = Literal["guardian", "trustee", "estate_contact"]
ClaimKind = Literal[
    "water",
    "waste",
    "district_heating",
    "electricity",
    "childcare",
    "rent",
    "elderly_care",
    "permit_fee",
    "food_inspection",
    "other",
]
ClaimNature = Literal["civil", "public_law"]
PaymentChannel = Literal["bankgiro", "plusgiro", "autogiro", "card", "cash", "other"]
ReviewOutcome = Literal["upheld", "credited_in_full", "credited_in_part"]
DeliveryPointFlag = Literal["health_risk", "cleared"]
DebtorStatus = Literal[
    "deceased",
    "debt_restructuring_opened",
    "debt_restructuring_decided",
    "bankruptcy",
    "guardian_appointed",
    "cleared",
]
HandoffOutcome = Literal["paid", "partially_paid", "withdrawn", "uncollectable"]

#: Claim kinds that are fees set by decision or taxa: public law unless the event says
#: otherwise (EVENTS.md, invoice-issued).
PUBLIC_LAW_CLAIM_KINDS = frozenset({"permit_fee", "food_inspection", "elderly_care"})

assert set(get_args(PartyType)) == set(PARTY_TYPES), "party types differ from likvid.rules"


def default_claim_nature(kind: str) -> ClaimNature:
    """The claim nature an invoice gets when the event does not say: public law for
    permit_fee, food_inspection and elderly_care, civil for the rest."""
    if kind not in get_args(ClaimKind):
        raise ValueError(f"unknown claim kind {kind!r}")
    return "public_law" if kind in PUBLIC_LAW_CLAIM_KINDS else "civil"


# --- Strings --------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_EXCEPT_NEWLINE_AND_TAB = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _single_line(value: str) -> str:
    if not value.isprintable() and _CONTROL.search(value):  # printable: no control character
        raise fail("must not contain control characters")
    if not value.strip():
        raise fail("must not be blank")
    return value


def _multi_line(value: str) -> str:
    if _CONTROL_EXCEPT_NEWLINE_AND_TAB.search(value):
        raise fail("must not contain control characters other than newline and tab")
    if not value.strip():
        raise fail("must not be blank")
    return value


def _text(max_length: int, *, multiline: bool = False) -> Any:
    check = _multi_line if multiline else _single_line
    constraints = StringConstraints(strict=True, min_length=1, max_length=max_length)
    return Annotated[str, constraints, AfterValidator(check)]


def _pattern(pattern: str, reason: str, max_length: int) -> Any:
    PATTERN_REASONS[pattern] = reason
    return Annotated[
        str, StringConstraints(strict=True, min_length=1, max_length=max_length, pattern=pattern)
    ]


#: An identifier (customer_id, invoice_id, ...): 1-100 characters on one line.
Id = _text(100)
#: A person's or organisation's name, a street: 1-200 characters on one line.
Name = _text(200)
#: A short label (city, channel): 1-100 characters on one line.
Label = _text(100)
#: Free text (reason, statement, description): 1-4000 characters, newlines and tabs allowed.
FreeText = _text(4000, multiline=True)

Email = _pattern(
    r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f.]+(\.[^@\s\x00-\x1f\x7f.]+)+$",
    "must be an email address like namn@example.se",
    254,
)
Phone = _pattern(
    r"^\+?[0-9(][0-9 ()\-]{3,28}[0-9]$",
    "must be a phone number like +46 8 123 456 78 (digits, spaces, +, - and parentheses)",
    30,
)
Country = _pattern(r"^[A-Z]{2}$", "must be a two-letter country code like SE", 2)
Bankgiro = _pattern(r"^[0-9]{3,4}-?[0-9]{4}$", "must be a bankgiro number like 5050-1055", 9)
PostalCode = _text(20)

_SE_POSTAL_CODE = re.compile(r"([0-9]{3}) ?([0-9]{2})")


# --- Identity numbers and OCR references (likvid.rules) -------------------------------------

_CHECK_DIGIT_REASON = "has a wrong check digit"

#: Accepted with or without century and separator; normalised by `likvid.rules.identity`.
IdentityNumber = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=20)]


def _normalised_identity(number: str, party_type: str | None) -> str:
    """Normalise for the given party type, or for any party type when it is not known."""
    kinds = [party_type] if party_type in PARTY_TYPES else list(PARTY_TYPES)
    reasons: list[str] = []
    for kind in kinds:
        try:
            return normalise_identity(number, kind)
        except ValueError as error:
            reasons.append(str(error))
    distinct = list(dict.fromkeys(reasons))
    if len(distinct) == 1:
        raise fail(distinct[0])
    if _CHECK_DIGIT_REASON in distinct:
        raise fail(_CHECK_DIGIT_REASON)
    raise fail("is not a valid personnummer, samordningsnummer or organisationsnummer")


def _any_party_identity(number: str) -> str:
    return _normalised_identity(number, None)


def _valid_ocr(reference: str) -> str:
    try:
        validate_ocr(reference)
    except ValueError as error:
        raise fail(str(error)) from None
    return reference


#: An OCR reference (Bankgirot): digits with a Luhn check digit, checked by likvid.rules.ocr.
OcrReference = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=100),
    AfterValidator(_valid_ocr),
    WithJsonSchema({"type": "string", "pattern": f"^[0-9]{{{MIN_OCR_LENGTH},{MAX_OCR_LENGTH}}}$"}),
]


# --- Amounts and dates ----------------------------------------------------------------------

AMOUNT_PATTERN = r"^[0-9]+(\.[0-9]{1,2})?$"
POSITIVE_AMOUNT_PATTERN = r"^([0-9]*[1-9][0-9]*(\.[0-9]{1,2})?|[0-9]+\.([1-9][0-9]?|0[1-9]))$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATE = re.compile(DATE_PATTERN[1:-1])


def _kronor(value: Any) -> int:
    if value is None:
        raise fail("must not be null")
    if not isinstance(value, str):
        raise fail('must be a decimal string like "1234.50"')
    try:
        return parse_kronor(value)
    except ValueError as error:
        raise fail(str(error)) from None


def _more_than_zero(ore: int) -> int:
    if ore <= 0:
        raise fail("must be more than 0")
    return ore


class LastRead:
    """The last text a parser read and what it made of it, given again for the same text: the
    events of a batch often share one (a BgMax file's payments their ``occurred_at``, a
    section's their payment date), and the same object lets ``clock.to_db``, which remembers
    instants by identity, convert it once. Shared by every thread: the pair is replaced whole,
    and both halves are immutable. A ``str`` subclass, whose equality could be anything, is
    neither kept nor matched; only what a parse accepted is kept."""

    __slots__ = ("_pair",)

    def __init__(self) -> None:
        self._pair: tuple[str | None, Any] = (None, None)

    def get(self, value: Any) -> Any:
        """What the last read made of ``value``; None when it was not the last text read."""
        text, made = self._pair
        return made if value.__class__ is str and text == value else None

    def keep(self, value: Any, made: Any) -> None:
        if value.__class__ is str:
            self._pair = (value, made)


_last_date = LastRead()


def _date(value: Any) -> Any:
    day = _last_date.get(value)
    if day is not None:
        return day
    if value is None:
        raise fail("must not be null")
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise fail("must be a date like 2026-11-29")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise fail("is not a valid date") from None
    _last_date.keep(value, day)
    return day


_AMOUNT_JSON = PlainSerializer(kronor_str, return_type=str, when_used="json")

#: Kronor as a decimal string with at most two decimals in the contract; int öre here.
Amount = Annotated[
    int,
    BeforeValidator(_kronor),
    _AMOUNT_JSON,
    WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["1234.50"]}),
]
#: An amount that must be more than 0.
PositiveAmount = Annotated[
    int,
    BeforeValidator(_kronor),
    AfterValidator(_more_than_zero),
    _AMOUNT_JSON,
    WithJsonSchema({"type": "string", "pattern": POSITIVE_AMOUNT_PATTERN, "examples": ["1234.50"]}),
]
#: A calendar date, "YYYY-MM-DD" in the contract.
IsoDate = Annotated[
    date,
    BeforeValidator(_date),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN}),
]


def _not_null() -> Any:
    """Optional, but null is refused: the field is either left out or given a value."""
    return Field(default=None, json_schema_extra=_drop_default)


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


# --- Models ---------------------------------------------------------------------------------


class EventData(BaseModel):
    """Base of every event's data (and the objects inside it): frozen, no unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    def _resolve(self, field: str, value: Any) -> None:
        # A default that depends on another field, filled in after validation. The model is
        # frozen; this is the one place that writes to it, and only during validation.
        self.__dict__[field] = value


class Address(EventData):
    """A postal address."""

    street: Name
    """Street address (gatuadress)."""
    postal_code: PostalCode
    """Postal code; for a Swedish address five digits with an optional space, stored as
    "123 45"."""
    city: Label
    """Postal town (postort)."""
    care_of: Name | None = None
    """c/o line."""
    country: Country = "SE"
    """ISO 3166-1 alpha-2 country code."""

    @model_validator(mode="after")
    def _swedish_postal_code(self) -> Address:
        if self.country == "SE":
            match = _SE_POSTAL_CODE.fullmatch(self.postal_code)
            if match is None:
                raise fail("must be five digits like 123 45", at="postal_code")
            self._resolve("postal_code", f"{match[1]} {match[2]}")
        return self


class Representative(EventData):
    """Someone who acts for the customer: a guardian (god man), trustee (förvaltare) or the
    contact for an estate (dödsbo)."""

    kind: RepresentativeKind | None = None
    """guardian, trustee or estate_contact."""
    name: Name | None = None
    """The representative's name."""
    address: Address | None = None
    """Where letters to the representative go."""
    email: Email | None = None
    """The representative's email address."""


class Payer(EventData):
    """Who paid, as the bank reported it."""

    name: Name | None = None
    """The payer's name."""
    identity_number: Annotated[IdentityNumber, AfterValidator(_any_party_identity)] | None = None
    """The payer's personnummer or organisationsnummer; stored normalised."""
    bankgiro: Bankgiro | None = None
    """The payer's bankgiro number."""


class Installment(EventData):
    """One installment of a payment plan."""

    due_date: IsoDate
    """When the installment is due."""
    amount: PositiveAmount
    """The installment's amount in kronor, more than 0."""


class CustomerRegistered(EventData):
    """Creates or replaces the customer record."""

    customer_id: Id
    """The customer's id in the publishing system."""
    party_type: PartyType
    """person, organisation or estate (dödsbo)."""
    identity_number: IdentityNumber
    """Personnummer, samordningsnummer or organisationsnummer, with or without century and
    separator; stored normalised (a person 12 digits, an organisation 10)."""
    name: Name
    """The customer's name."""
    address: Address
    """The customer's postal address."""
    email: Email | None = None
    """Email address for notices."""
    phone: Phone | None = None
    """Phone number."""
    language: Language = "sv"
    """Language of letters and emails: sv or en."""
    consumer: StrictBool | None = None
    """Whether the customer is a consumer; when absent, true for a person and false
    otherwise (the resolved value is stored)."""
    protected_identity: StrictBool = False
    """Skyddad identitet: no address is ever printed; letters go through Skatteverket."""
    representative: Representative | None = None
    """Guardian, trustee or estate contact who receives the letters."""

    @field_validator("identity_number")
    @classmethod
    def _valid_identity(cls, number: str, info: ValidationInfo) -> str:
        return _normalised_identity(number, info.data.get("party_type"))

    @model_validator(mode="after")
    def _resolve_consumer(self) -> CustomerRegistered:
        if self.consumer is None:
            self._resolve("consumer", self.party_type == "person")
        return self


class CustomerUpdated(EventData):
    """Changes only the fields given. A field given as null is cleared (email, phone,
    representative); consumer given as null goes back to its default for the party type.
    Fields that cannot be cleared refuse null."""

    customer_id: Id
    """The customer's id in the publishing system."""
    party_type: PartyType = _not_null()
    """person, organisation or estate (dödsbo)."""
    identity_number: IdentityNumber = _not_null()
    """Personnummer, samordningsnummer or organisationsnummer; checked against party_type
    when it is given, otherwise accepted if valid for any party type. Stored normalised."""
    name: Name = _not_null()
    """The customer's name."""
    address: Address = _not_null()
    """The customer's postal address (replaced as a whole)."""
    email: Email | None = None
    """Email address for notices; null clears it."""
    phone: Phone | None = None
    """Phone number; null clears it."""
    language: Language = _not_null()
    """Language of letters and emails: sv or en."""
    consumer: StrictBool | None = None
    """Whether the customer is a consumer; null means the default for the party type."""
    protected_identity: StrictBool = _not_null()
    """Skyddad identitet."""
    representative: Representative | None = None
    """Guardian, trustee or estate contact (replaced as a whole); null removes it."""

    @field_validator("identity_number")
    @classmethod
    def _valid_identity(cls, number: str, info: ValidationInfo) -> str:
        return _normalised_identity(number, info.data.get("party_type"))

    @model_validator(mode="after")
    def _changes_something(self) -> CustomerUpdated:
        if not self.model_fields_set - {"customer_id"}:
            raise fail("must change at least one field besides customer_id")
        return self


class InvoiceIssued(EventData):
    """Registers the claim in the customer ledger and schedules its due date."""

    invoice_id: Id
    """The invoice's id in the publishing system."""
    creditor_id: Id
    """The creditor (the municipality's legal entity or company) that owns the claim."""
    customer_id: Id
    """The customer who owes the claim."""
    invoice_number: Id
    """The invoice number printed on the invoice."""
    issue_date: IsoDate
    """The invoice date."""
    due_date: IsoDate
    """The due date (förfallodag); not before issue_date."""
    amount: PositiveAmount
    """The invoiced amount in kronor, more than 0."""
    claim_kind: ClaimKind
    """What the claim is for."""
    claim_nature: ClaimNature | None = None
    """civil or public_law; when absent, public_law for permit_fee, food_inspection and
    elderly_care, civil otherwise (the resolved value is stored)."""
    ocr_reference: OcrReference | None = None
    """The OCR reference; generated with check and length digit when absent."""
    reminder_fee_agreed: StrictBool = False
    """Whether a reminder fee was agreed when the debt arose."""
    delivery_point_id: Id | None = None
    """The delivery point (anläggning) the claim is for, if any."""
    decision_final_on: IsoDate | None = None
    """For a public-law claim: when the decision became final (laga kraft)."""
    description: FreeText | None = None
    """What the invoice is for."""

    @model_validator(mode="after")
    def _dates_and_nature(self) -> InvoiceIssued:
        if self.due_date < self.issue_date:
            raise fail("must not be before issue_date", at="due_date")
        if self.claim_nature is None:
            self._resolve("claim_nature", default_claim_nature(self.claim_kind))
        return self


class InvoiceDue(EventData):
    """The claim is due. The service raises this itself at the due date; a publisher may
    send it too (it has effect once)."""

    invoice_id: Id
    """The invoice that is due."""


class InvoiceCredited(EventData):
    """Reduces the claim (a full credit closes it)."""

    invoice_id: Id
    """The credited invoice."""
    credit_id: Id
    """The credit note's id."""
    amount: PositiveAmount
    """The credited amount in kronor, more than 0."""
    reason: FreeText | None = None
    """Why the invoice was credited."""


class PaymentReceived(EventData):
    """Allocates the money; stops every pending step the payment makes unnecessary. Needs a
    reference (OCR) or an invoice_id, or both."""

    payment_id: Id
    """The payment's id in the publishing system."""
    amount: PositiveAmount
    """The paid amount in kronor, more than 0."""
    paid_on: IsoDate
    """The payment date."""
    reference: OcrReference | None = None
    """The OCR reference the payer gave; required unless invoice_id is given."""
    invoice_id: Id | None = None
    """The invoice paid; required unless reference is given."""
    payer: Payer | None = None
    """Who paid, as the bank reported it."""
    channel: PaymentChannel | None = None
    """How the money came in."""

    @model_validator(mode="after")
    def _placeable(self) -> PaymentReceived:
        if self.reference is None and self.invoice_id is None:
            raise fail("is required unless invoice_id is given", at="reference")
        return self


class PaymentReversed(EventData):
    """Undoes the allocation and re-opens what it had settled."""

    payment_id: Id
    """The payment that is reversed."""
    reason: FreeText | None = None
    """Why the payment was reversed."""


class ObjectionFiled(EventData):
    """Pauses collection of the disputed amount at once; acknowledgement to the customer
    (policy 6)."""

    objection_id: Id
    """The objection's id."""
    invoice_id: Id
    """The invoice objected to."""
    received_on: IsoDate
    """When the objection was received."""
    reason: FreeText
    """The customer's grounds."""
    disputed_amount: PositiveAmount | None = None
    """The disputed amount in kronor; absent or null means the whole open balance."""
    channel: Label | None = None
    """How the objection came in (letter, email, phone, ...)."""
    filed_by: Name | None = None
    """Who filed it."""


class ObjectionWithdrawn(EventData):
    """Resumes collection."""

    objection_id: Id
    """The withdrawn objection."""


class HandlerStatementRecorded(EventData):
    """The handler's statement that a review requires (policy 7)."""

    objection_id: Id
    """The objection under review."""
    handler: Name
    """The handler who made the statement."""
    statement: FreeText
    """The statement."""


class ReviewDecided(EventData):
    """Upheld: collection resumes with a reasoned letter. Credited: the claim is reduced.
    Refused without a recorded handler statement."""

    objection_id: Id
    """The objection decided."""
    decided_by: Name
    """Who decided."""
    outcome: ReviewOutcome
    """upheld, credited_in_full or credited_in_part."""
    credited_amount: PositiveAmount | None = None
    """The credited amount in kronor; required when outcome is credited_in_part."""
    reasons: FreeText
    """The reasons for the decision, quoted in the letter."""

    @model_validator(mode="after")
    def _partial_credit_has_amount(self) -> ReviewDecided:
        if self.outcome == "credited_in_part" and self.credited_amount is None:
            raise fail("is required when outcome is credited_in_part", at="credited_amount")
        return self


class DeferralGranted(EventData):
    """Holds collection until the date; noted on the ledger; confirmation letter (policy 9)."""

    deferral_id: Id
    """The deferral's id."""
    invoice_id: Id
    """The deferred invoice."""
    until: IsoDate
    """Collection is held until this date."""
    reason: FreeText
    """Why the deferral was granted."""
    granted_by: Name
    """Who granted it."""
    confirm_in_writing: StrictBool = True
    """Whether to send the customer a confirmation letter."""


class DeferralRevoked(EventData):
    """Lifts the hold."""

    deferral_id: Id
    """The revoked deferral."""


class PaymentPlanProposed(EventData):
    """Sends the plan for signature; collection continues until it is signed."""

    plan_id: Id
    """The plan's id."""
    customer_id: Id
    """The customer the plan is for."""
    creditor_id: Id
    """The creditor whose claims the plan covers."""
    invoice_ids: Annotated[list[Id], Strict(), Field(min_length=1, max_length=500)]
    """The invoices the plan covers; at least one, no repeats."""
    installments: Annotated[list[Installment], Strict(), Field(min_length=1, max_length=360)]
    """The installments, due dates strictly increasing."""
    proposed_by: Name | None = None
    """Who proposed the plan."""

    @field_validator("invoice_ids")
    @classmethod
    def _unique_invoices(cls, invoice_ids: list[str]) -> list[str]:
        first_seen: dict[str, int] = {}
        for position, invoice_id in enumerate(invoice_ids):
            if invoice_id in first_seen:
                raise fail(f"repeats invoice_ids.{first_seen[invoice_id]}", at=str(position))
            first_seen[invoice_id] = position
        return invoice_ids

    @field_validator("installments")
    @classmethod
    def _increasing_due_dates(cls, installments: list[Installment]) -> list[Installment]:
        for position in range(1, len(installments)):
            if installments[position].due_date <= installments[position - 1].due_date:
                raise fail(
                    "must be after the previous installment's due date",
                    at=f"{position}.due_date",
                )
        return installments


class PaymentPlanSigned(EventData):
    """Plan in force: collection held, installments watched."""

    plan_id: Id
    """The signed plan."""
    signed_on: IsoDate
    """When the customer signed."""


class PaymentPlanCancelled(EventData):
    """Plan ends; collection resumes."""

    plan_id: Id
    """The cancelled plan."""
    reason: FreeText | None = None
    """Why the plan was cancelled."""


class NoticeServed(EventData):
    """Proof of service (delgivning) of a suspension notice."""

    notice_id: Id
    """The served notice."""
    served_on: IsoDate
    """When it was served."""


class SocialServicesUndertaking(EventData):
    """Social services will pay: suspension is blocked."""

    invoice_id: Id
    """The invoice social services will pay."""
    decided_on: IsoDate
    """When social services decided."""


class DeliveryPointFlagged(EventData):
    """A known risk of harm blocks suspension."""

    delivery_point_id: Id
    """The delivery point (anläggning)."""
    flag: DeliveryPointFlag
    """health_risk, or cleared to lift it."""


class DebtorStatusChanged(EventData):
    """Freezes, re-addresses or releases collection as the rules say."""

    customer_id: Id
    """The customer whose status changed."""
    status: DebtorStatus
    """The new status."""
    effective_on: IsoDate
    """From when the status applies."""
    details: FreeText | None = None
    """Details (case number, court, ...)."""


class EnforcementTitleObtained(EventData):
    """The claim has an enforceable title (utslag); surveillance starts."""

    handoff_id: Id
    """The hand-off to Kronofogden or an agency."""
    title_reference: Id
    """The title's reference (målnummer)."""
    obtained_on: IsoDate
    """When the title was obtained."""


class HandoffClosed(EventData):
    """Result reported back by Kronofogden or an agency."""

    handoff_id: Id
    """The closed hand-off."""
    outcome: HandoffOutcome
    """paid, partially_paid, withdrawn or uncollectable."""
    amount_recovered: Amount | None = None
    """The amount recovered in kronor."""


class CreditCheckRequested(EventData):
    """A credit decision with reasons (policy 4-5)."""

    request_id: Id
    """The request's id."""
    customer_id: Id
    """The customer to check."""
    creditor_id: Id
    """The creditor asking."""
    amount: PositiveAmount
    """The amount of credit asked for in kronor, more than 0."""
    purpose: FreeText | None = None
    """What the credit is for."""


#: The data model of each inbound event type, in EVENTS.md order.
DATA_MODELS: dict[str, type[EventData]] = {
    "customer-registered": CustomerRegistered,
    "customer-updated": CustomerUpdated,
    "invoice-issued": InvoiceIssued,
    "invoice-due": InvoiceDue,
    "invoice-credited": InvoiceCredited,
    "payment-received": PaymentReceived,
    "payment-reversed": PaymentReversed,
    "objection-filed": ObjectionFiled,
    "objection-withdrawn": ObjectionWithdrawn,
    "handler-statement-recorded": HandlerStatementRecorded,
    "review-decided": ReviewDecided,
    "deferral-granted": DeferralGranted,
    "deferral-revoked": DeferralRevoked,
    "payment-plan-proposed": PaymentPlanProposed,
    "payment-plan-signed": PaymentPlanSigned,
    "payment-plan-cancelled": PaymentPlanCancelled,
    "notice-served": NoticeServed,
    "social-services-undertaking": SocialServicesUndertaking,
    "delivery-point-flagged": DeliveryPointFlagged,
    "debtor-status-changed": DebtorStatusChanged,
    "enforcement-title-obtained": EnforcementTitleObtained,
    "handoff-closed": HandoffClosed,
    "credit-check-requested": CreditCheckRequested,
}

#: The inbound event types, in EVENTS.md order.
EVENT_TYPES: tuple[str, ...] = tuple(DATA_MODELS)

#: The outbound event types (EVENTS.md), emitted by the service and named on the timeline.
OUTBOUND_EVENT_TYPES: tuple[str, ...] = (
    "reminder-sent",
    "collection-demand-sent",
    "claim-settled",
    "claim-written-off",
    "payment-unmatched",
    "overpayment-recorded",
    "objection-acknowledged",
    "review-decision-sent",
    "deferral-confirmed",
    "payment-plan-sent",
    "payment-plan-broken",
    "delivery-suspension-warned",
    "social-services-notified",
    "delivery-suspension-ordered",
    "delivery-restoration-ordered",
    "collection-handed-off",
    "handoff-adjusted",
    "limitation-interrupted",
    "credit-decision-made",
    "letter-ready",
    "email-sent",
    "email-failed",
)
