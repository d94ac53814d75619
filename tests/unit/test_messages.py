"""The inbound event contract (EVENTS.md): what is accepted, what is rejected and why."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest

from likvid.messages import (
    DATA_MODELS,
    EVENT_MODELS,
    EVENT_TYPES,
    OUTBOUND_EVENT_TYPES,
    Event,
    EventRejected,
    FieldError,
    data_json_text,
    data_to_json,
    default_claim_nature,
    event_to_json,
    parse_event,
)
from likvid.rules.identity import normalise_identity
from likvid.rules.ocr import validate_ocr

# --- Examples -------------------------------------------------------------------------------

PERSONNUMMER_12 = "198112189876"
PERSONNUMMER_10 = "811218-9876"
SAMORDNINGSNUMMER = "701063-2391"
ORGNR_KOMMUN = "212000-0415"  # Åtvidabergs kommun
ORGNR_AB = "556036-0793"
OCR = "655969"  # Bankgirot's example file

ADDRESS = {"street": "Storgatan 1", "postal_code": "597 30", "city": "Åtvidaberg"}

#: A minimal valid `data` for every inbound type (required fields only).
VALID: dict[str, dict[str, Any]] = {
    "customer-registered": {
        "customer_id": "C-1",
        "party_type": "person",
        "identity_number": PERSONNUMMER_10,
        "name": "Anna Andersson",
        "address": ADDRESS,
    },
    "customer-updated": {"customer_id": "C-1", "email": "anna@example.se"},
    "invoice-issued": {
        "invoice_id": "I-1",
        "creditor_id": "KOMMUN",
        "customer_id": "C-1",
        "invoice_number": "2026-000123",
        "issue_date": "2026-10-30",
        "due_date": "2026-11-29",
        "amount": "1234.50",
        "claim_kind": "water",
    },
    "invoice-due": {"invoice_id": "I-1"},
    "invoice-credited": {"invoice_id": "I-1", "credit_id": "CR-1", "amount": "200.00"},
    "payment-received": {
        "payment_id": "P-1",
        "amount": "1234.50",
        "paid_on": "2026-11-28",
        "reference": OCR,
    },
    "payment-reversed": {"payment_id": "P-1"},
    "objection-filed": {
        "objection_id": "O-1",
        "invoice_id": "I-1",
        "received_on": "2026-12-01",
        "reason": "Fel mätarställning.",
    },
    "objection-withdrawn": {"objection_id": "O-1"},
    "handler-statement-recorded": {
        "objection_id": "O-1",
        "handler": "Bo Handläggare",
        "statement": "Mätaren avlästes 2026-09-30.",
    },
    "review-decided": {
        "objection_id": "O-1",
        "decided_by": "Cecilia Chef",
        "outcome": "upheld",
        "reasons": "Avläsningen stämmer.",
    },
    "deferral-granted": {
        "deferral_id": "D-1",
        "invoice_id": "I-1",
        "until": "2027-01-31",
        "reason": "Väntar på lön.",
        "granted_by": "Bo Handläggare",
    },
    "deferral-revoked": {"deferral_id": "D-1"},
    "payment-plan-proposed": {
        "plan_id": "PL-1",
        "customer_id": "C-1",
        "creditor_id": "KOMMUN",
        "invoice_ids": ["I-1", "I-2"],
        "installments": [
            {"due_date": "2027-01-31", "amount": "600.00"},
            {"due_date": "2027-02-28", "amount": "634.50"},
        ],
    },
    "payment-plan-signed": {"plan_id": "PL-1", "signed_on": "2026-12-15"},
    "payment-plan-cancelled": {"plan_id": "PL-1"},
    "notice-served": {"notice_id": "N-1", "served_on": "2027-02-01"},
    "social-services-undertaking": {"invoice_id": "I-1", "decided_on": "2027-02-03"},
    "delivery-point-flagged": {"delivery_point_id": "DP-1", "flag": "health_risk"},
    "debtor-status-changed": {
        "customer_id": "C-1",
        "status": "deceased",
        "effective_on": "2027-03-01",
    },
    "enforcement-title-obtained": {
        "handoff_id": "H-1",
        "title_reference": "UTSLAG-123-27",
        "obtained_on": "2027-05-01",
    },
    "handoff-closed": {"handoff_id": "H-1", "outcome": "paid"},
    "credit-check-requested": {
        "request_id": "R-1",
        "customer_id": "C-1",
        "creditor_id": "KOMMUN",
        "amount": "5000",
    },
}

#: Examples with the optional fields filled in, for the types that have many.
FULL: dict[str, dict[str, Any]] = {
    "customer-registered": {
        **VALID["customer-registered"],
        "address": {**ADDRESS, "care_of": "Berit Berg", "country": "SE"},
        "email": "anna@example.se",
        "phone": "+46 120 123 45",
        "language": "en",
        "consumer": False,
        "protected_identity": True,
        "representative": {
            "kind": "guardian",
            "name": "Gustav God Man",
            "address": {"street": "Box 1", "postal_code": "0150", "city": "Oslo", "country": "NO"},
            "email": "gustav@example.se",
        },
    },
    "customer-updated": {
        "customer_id": "C-1",
        "party_type": "organisation",
        "identity_number": ORGNR_AB,
        "name": "Bolaget AB",
        "address": ADDRESS,
        "phone": None,
        "language": "sv",
        "consumer": None,
        "protected_identity": False,
        "representative": None,
    },
    "invoice-issued": {
        **VALID["invoice-issued"],
        "claim_kind": "permit_fee",
        "claim_nature": "public_law",
        "ocr_reference": OCR,
        "reminder_fee_agreed": True,
        "delivery_point_id": "DP-1",
        "decision_final_on": "2026-10-01",
        "description": "Bygglov\n\tAttefallshus",
    },
    "invoice-credited": {**VALID["invoice-credited"], "reason": "Felaktig taxa."},
    "payment-received": {
        **VALID["payment-received"],
        "invoice_id": "I-1",
        "payer": {
            "name": "Anna Andersson",
            "identity_number": PERSONNUMMER_12,
            "bankgiro": "5050-1055",
        },
        "channel": "bankgiro",
    },
    "payment-reversed": {**VALID["payment-reversed"], "reason": "Återkallad av banken."},
    "objection-filed": {
        **VALID["objection-filed"],
        "disputed_amount": "0.50",
        "channel": "letter",
        "filed_by": "Anna Andersson",
    },
    "review-decided": {
        **VALID["review-decided"],
        "outcome": "credited_in_part",
        "credited_amount": "100.00",
    },
    "deferral-granted": {**VALID["deferral-granted"], "confirm_in_writing": False},
    "payment-plan-proposed": {**VALID["payment-plan-proposed"], "proposed_by": "Anna Andersson"},
    "payment-plan-cancelled": {**VALID["payment-plan-cancelled"], "reason": "Två missade."},
    "debtor-status-changed": {
        **VALID["debtor-status-changed"],
        "details": "Dödsbo, bouppteckning.",
    },
    "handoff-closed": {**VALID["handoff-closed"], "amount_recovered": "0"},
    "credit-check-requested": {**VALID["credit-check-requested"], "purpose": "Hyreskontrakt"},
}


def envelope(event_type: str, data: Any = None, **fields: Any) -> dict[str, Any]:
    document = {
        "id": f"evt-{event_type}",
        "type": event_type,
        "version": 1,
        "occurred_at": "2026-11-29T10:15:00+01:00",
        "source": "test",
        "data": copy.deepcopy(VALID[event_type] if data is None else data),
    }
    document.update(fields)
    return document


def with_data(event_type: str, **changes: Any) -> dict[str, Any]:
    """A valid envelope whose data has `changes` applied; a value of DELETE removes the key."""
    data = copy.deepcopy(VALID[event_type])
    for key, value in changes.items():
        if value is DELETE:
            data.pop(key, None)
        else:
            data[key] = value
    return envelope(event_type, data)


DELETE = object()


def rejection(document: Any) -> EventRejected:
    with pytest.raises(EventRejected) as caught:
        parse_event(document)
    return caught.value


def reasons_for(document: Any) -> dict[str, str]:
    return {error.field: error.reason for error in rejection(document).errors}


# --- The type lists -------------------------------------------------------------------------

CONTRACT_INBOUND = (
    "customer-registered customer-updated invoice-issued invoice-due invoice-credited "
    "payment-received payment-reversed objection-filed objection-withdrawn "
    "handler-statement-recorded review-decided deferral-granted deferral-revoked "
    "payment-plan-proposed payment-plan-signed payment-plan-cancelled notice-served "
    "social-services-undertaking delivery-point-flagged debtor-status-changed "
    "enforcement-title-obtained handoff-closed credit-check-requested"
).split()

CONTRACT_OUTBOUND = (
    "reminder-sent collection-demand-sent claim-settled claim-written-off payment-unmatched "
    "overpayment-recorded objection-acknowledged review-decision-sent deferral-confirmed "
    "payment-plan-sent payment-plan-broken delivery-suspension-warned social-services-notified "
    "delivery-suspension-ordered delivery-restoration-ordered collection-handed-off "
    "handoff-adjusted limitation-interrupted credit-decision-made letter-ready email-sent "
    "email-failed"
).split()


def test_inbound_types_are_the_contracts_in_its_order() -> None:
    assert EVENT_TYPES == tuple(CONTRACT_INBOUND)
    assert tuple(DATA_MODELS) == EVENT_TYPES
    assert tuple(EVENT_MODELS) == EVENT_TYPES


def test_outbound_types_are_the_contracts_in_its_order() -> None:
    assert OUTBOUND_EVENT_TYPES == tuple(CONTRACT_OUTBOUND)
    assert not set(OUTBOUND_EVENT_TYPES) & set(EVENT_TYPES)


def test_every_type_has_an_example() -> None:
    assert set(VALID) == set(EVENT_TYPES)


@pytest.mark.parametrize(
    ("number", "party_type"),
    [
        (PERSONNUMMER_12, "person"),
        (PERSONNUMMER_10, "person"),
        (SAMORDNINGSNUMMER, "person"),
        (ORGNR_KOMMUN, "organisation"),
        (ORGNR_AB, "organisation"),
    ],
)
def test_the_example_numbers_are_valid(number: str, party_type: str) -> None:
    normalise_identity(number, party_type)
    validate_ocr(OCR)


# --- Every type: a valid example is accepted, malformed ones are rejected -------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize("examples", [VALID, FULL], ids=["minimal", "full"])
def test_valid_example_is_accepted(event_type: str, examples: dict[str, Any]) -> None:
    data = examples.get(event_type, VALID[event_type])
    event = parse_event(json.dumps(envelope(event_type, data)))
    assert type(event) is EVENT_MODELS[event_type]
    assert isinstance(event, Event)
    assert isinstance(event.data, DATA_MODELS[event_type])
    assert event.type == event_type
    assert event.occurred_at == datetime(2026, 11, 29, 9, 15, tzinfo=UTC)


REQUIRED_FIELDS = [
    (event_type, name)
    for event_type, model in DATA_MODELS.items()
    for name, field in model.model_fields.items()
    if field.is_required()
]


def test_required_fields_are_the_contracts_bold_ones() -> None:
    required = {(t, n) for t, n in REQUIRED_FIELDS}
    assert ("payment-received", "reference") not in required  # one of reference / invoice_id
    assert ("customer-updated", "name") not in required
    assert {n for t, n in required if t == "invoice-issued"} == {
        "invoice_id",
        "creditor_id",
        "customer_id",
        "invoice_number",
        "issue_date",
        "due_date",
        "amount",
        "claim_kind",
    }
    assert {n for t, n in required if t == "review-decided"} == {
        "objection_id",
        "decided_by",
        "outcome",
        "reasons",
    }


@pytest.mark.parametrize(("event_type", "field"), REQUIRED_FIELDS)
def test_missing_required_field_is_rejected(event_type: str, field: str) -> None:
    rejected = rejection(with_data(event_type, **{field: DELETE}))
    assert FieldError(f"data.{field}", "is required") in rejected.errors
    assert rejected.event_id == f"evt-{event_type}"
    assert rejected.event_type == event_type


def _wrong_json_type(value: Any) -> Any:
    if isinstance(value, str):
        return 12345
    if isinstance(value, bool):
        return "true"
    return "not an object or list"


WRONG_TYPES = [
    (event_type, name)
    for event_type, data in VALID.items()
    for name in data
    if not (event_type == "customer-updated" and name == "customer_id")
]


@pytest.mark.parametrize(("event_type", "field"), WRONG_TYPES)
def test_field_of_the_wrong_type_is_rejected(event_type: str, field: str) -> None:
    wrong = _wrong_json_type(VALID[event_type][field])
    fields = {error.field for error in rejection(with_data(event_type, **{field: wrong})).errors}
    assert fields == {f"data.{field}"}


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_unknown_field_is_rejected(event_type: str) -> None:
    rejected = rejection(with_data(event_type, colour="blue"))
    assert rejected.errors == [FieldError("data.colour", "is not a known field")]
    assert str(rejected) == "data.colour: is not a known field"


@pytest.mark.parametrize(
    ("event_type", "path"),
    [
        ("customer-registered", ["address"]),
        ("customer-registered", ["representative"]),
        ("customer-registered", ["representative", "address"]),
        ("payment-received", ["payer"]),
        ("payment-plan-proposed", ["installments", 1]),
    ],
)
def test_unknown_field_in_a_nested_object_is_rejected(event_type: str, path: list[Any]) -> None:
    document = envelope(event_type, FULL[event_type])
    node = document["data"]
    for step in path:
        node = node[step]
    node["colour"] = "blue"
    dotted = ".".join(str(step) for step in ["data", *path, "colour"])
    assert reasons_for(document) == {dotted: "is not a known field"}


# --- Field rules, table-driven ------------------------------------------------------------

NEGATIVE = "-1.00"

#: (event type, changes to the minimal data, field named, reason)
REJECTED: list[tuple[str, dict[str, Any], str, str]] = [
    # Negative, zero and malformed amounts
    ("invoice-issued", {"amount": NEGATIVE}, "data.amount", "must not be negative"),
    ("invoice-credited", {"amount": NEGATIVE}, "data.amount", "must not be negative"),
    ("payment-received", {"amount": NEGATIVE}, "data.amount", "must not be negative"),
    ("credit-check-requested", {"amount": NEGATIVE}, "data.amount", "must not be negative"),
    (
        "objection-filed",
        {"disputed_amount": NEGATIVE},
        "data.disputed_amount",
        "must not be negative",
    ),
    (
        "handoff-closed",
        {"amount_recovered": NEGATIVE},
        "data.amount_recovered",
        "must not be negative",
    ),
    (
        "review-decided",
        {"outcome": "credited_in_part", "credited_amount": NEGATIVE},
        "data.credited_amount",
        "must not be negative",
    ),
    (
        "payment-plan-proposed",
        {"installments": [{"due_date": "2027-01-31", "amount": NEGATIVE}]},
        "data.installments.0.amount",
        "must not be negative",
    ),
    ("invoice-issued", {"amount": "0.00"}, "data.amount", "must be more than 0"),
    ("invoice-credited", {"amount": "0"}, "data.amount", "must be more than 0"),
    ("payment-received", {"amount": "0.0"}, "data.amount", "must be more than 0"),
    (
        "payment-plan-proposed",
        {"installments": [{"due_date": "2027-01-31", "amount": "0"}]},
        "data.installments.0.amount",
        "must be more than 0",
    ),
    (
        "invoice-issued",
        {"amount": 1234.5},
        "data.amount",
        'must be a decimal string like "1234.50"',
    ),
    ("payment-received", {"amount": 100}, "data.amount", 'must be a decimal string like "1234.50"'),
    (
        "payment-received",
        {"amount": True},
        "data.amount",
        'must be a decimal string like "1234.50"',
    ),
    ("payment-received", {"amount": None}, "data.amount", "must not be null"),
    ("payment-received", {"amount": "12.345"}, "data.amount", "at most two decimals"),
    ("payment-received", {"amount": "1 234,50"}, "data.amount", "at most two decimals"),
    ("payment-received", {"amount": "1e3"}, "data.amount", "at most two decimals"),
    ("payment-received", {"amount": "1000000000.01"}, "data.amount", "is too large"),
    # Identity numbers
    (
        "customer-registered",
        {"identity_number": "811218-9875"},
        "data.identity_number",
        "has a wrong check digit",
    ),
    (
        "customer-registered",
        {"identity_number": ORGNR_KOMMUN},
        "data.identity_number",
        "is not a valid date of birth",
    ),
    (
        "customer-registered",
        {"party_type": "organisation", "identity_number": "212000-0416"},
        "data.identity_number",
        "has a wrong check digit",
    ),
    (
        "customer-registered",
        {"identity_number": "81-12-18"},
        "data.identity_number",
        "must be 10 or 12 digits",
    ),
    (
        "customer-registered",
        {"identity_number": 8112189876},
        "data.identity_number",
        "must be a string",
    ),
    (
        "customer-updated",
        {"identity_number": "556036-0794"},
        "data.identity_number",
        "has a wrong check digit",
    ),
    (
        "customer-updated",
        {"party_type": "person", "identity_number": ORGNR_AB},
        "data.identity_number",
        "is not a valid date of birth",
    ),
    (
        "payment-received",
        {"payer": {"identity_number": "811218-9875"}},
        "data.payer.identity_number",
        "has a wrong check digit",
    ),
    # OCR references
    (
        "invoice-issued",
        {"ocr_reference": "655968"},
        "data.ocr_reference",
        "has a wrong check digit",
    ),
    ("payment-received", {"reference": "655968"}, "data.reference", "has a wrong check digit"),
    ("payment-received", {"reference": "65 5969"}, "data.reference", "must contain only digits"),
    ("payment-received", {"reference": 655969}, "data.reference", "must be a string"),
    ("payment-received", {"reference": "6"}, "data.reference", "must be 2 to 25 digits long"),
    # Dates
    (
        "payment-received",
        {"paid_on": "2026-11-28T00:00:00"},
        "data.paid_on",
        "must be a date like 2026-11-29",
    ),
    (
        "payment-received",
        {"paid_on": "28/11/2026"},
        "data.paid_on",
        "must be a date like 2026-11-29",
    ),
    ("payment-received", {"paid_on": "20261128"}, "data.paid_on", "must be a date like 2026-11-29"),
    ("payment-received", {"paid_on": 20261128}, "data.paid_on", "must be a date like 2026-11-29"),
    ("payment-received", {"paid_on": "2026-02-30"}, "data.paid_on", "is not a valid date"),
    ("payment-received", {"paid_on": None}, "data.paid_on", "must not be null"),
    (
        "invoice-issued",
        {"due_date": "2026-10-29"},
        "data.due_date",
        "must not be before issue_date",
    ),
    # Booleans are real booleans
    (
        "customer-registered",
        {"protected_identity": "true"},
        "data.protected_identity",
        "must be true or false",
    ),
    ("customer-registered", {"consumer": 1}, "data.consumer", "must be true or false"),
    (
        "invoice-issued",
        {"reminder_fee_agreed": 0},
        "data.reminder_fee_agreed",
        "must be true or false",
    ),
    (
        "deferral-granted",
        {"confirm_in_writing": "no"},
        "data.confirm_in_writing",
        "must be true or false",
    ),
    (
        "deferral-granted",
        {"confirm_in_writing": None},
        "data.confirm_in_writing",
        "must not be null",
    ),
    # Enumerations
    (
        "customer-registered",
        {"party_type": "company"},
        "data.party_type",
        "must be one of 'person'",
    ),
    ("customer-registered", {"language": "de"}, "data.language", "must be one of 'sv' or 'en'"),
    ("customer-registered", {"language": None}, "data.language", "must not be null"),
    (
        "customer-registered",
        {"representative": {"kind": "uncle"}},
        "data.representative.kind",
        "must be one of 'guardian'",
    ),
    ("invoice-issued", {"claim_kind": "gas"}, "data.claim_kind", "must be one of 'water'"),
    ("invoice-issued", {"claim_nature": "private"}, "data.claim_nature", "must be one of 'civil'"),
    ("payment-received", {"channel": "swish"}, "data.channel", "must be one of 'bankgiro'"),
    ("review-decided", {"outcome": "rejected"}, "data.outcome", "must be one of 'upheld'"),
    (
        "delivery-point-flagged",
        {"flag": "HEALTH_RISK"},
        "data.flag",
        "must be one of 'health_risk'",
    ),
    ("debtor-status-changed", {"status": "dead"}, "data.status", "must be one of 'deceased'"),
    ("handoff-closed", {"outcome": "lost"}, "data.outcome", "must be one of 'paid'"),
    # Strings: lengths, blanks, control characters
    ("invoice-due", {"invoice_id": "x" * 101}, "data.invoice_id", "must be at most 100 characters"),
    ("invoice-due", {"invoice_id": ""}, "data.invoice_id", "must not be empty"),
    ("invoice-due", {"invoice_id": "   "}, "data.invoice_id", "must not be blank"),
    (
        "invoice-due",
        {"invoice_id": "I-1\x00"},
        "data.invoice_id",
        "must not contain control characters",
    ),
    ("invoice-due", {"invoice_id": "I-\ud800"}, "data.invoice_id", "must be valid Unicode text"),
    ("customer-registered", {"name": "x" * 201}, "data.name", "must be at most 200 characters"),
    (
        "customer-registered",
        {"name": "Anna\nAndersson"},
        "data.name",
        "must not contain control characters",
    ),
    ("customer-registered", {"name": None}, "data.name", "must not be null"),
    ("objection-filed", {"reason": "x" * 4001}, "data.reason", "must be at most 4000 characters"),
    ("objection-filed", {"reason": "a\x07b"}, "data.reason", "other than newline and tab"),
    ("objection-filed", {"reason": "a\r\nb"}, "data.reason", "other than newline and tab"),
    ("objection-filed", {"reason": "a\x85b"}, "data.reason", "other than newline and tab"),
    ("customer-registered", {"email": "anna.example.se"}, "data.email", "must be an email address"),
    ("customer-registered", {"email": "anna@example"}, "data.email", "must be an email address"),
    (
        "customer-registered",
        {"email": "an na@example.se"},
        "data.email",
        "must be an email address",
    ),
    ("customer-registered", {"phone": "call me"}, "data.phone", "must be a phone number"),
    (
        "payment-received",
        {"payer": {"bankgiro": "12"}},
        "data.payer.bankgiro",
        "must be a bankgiro number",
    ),
    # Addresses
    (
        "customer-registered",
        {"address": {**ADDRESS, "postal_code": "5973"}},
        "data.address.postal_code",
        "must be five digits like 123 45",
    ),
    (
        "customer-registered",
        {"address": {**ADDRESS, "postal_code": "597-30"}},
        "data.address.postal_code",
        "must be five digits like 123 45",
    ),
    (
        "customer-registered",
        {"address": {**ADDRESS, "country": "se"}},
        "data.address.country",
        "must be a two-letter country code like SE",
    ),
    (
        "customer-registered",
        {"address": {"street": "Storgatan 1"}},
        "data.address.postal_code",
        "is required",
    ),
    ("customer-registered", {"address": "Storgatan 1"}, "data.address", "must be an object"),
    (
        "customer-registered",
        {"representative": {"address": {**ADDRESS, "postal_code": "1"}}},
        "data.representative.address.postal_code",
        "must be five digits like 123 45",
    ),
    # payment-received needs a reference or an invoice_id
    (
        "payment-received",
        {"reference": DELETE},
        "data.reference",
        "is required unless invoice_id is given",
    ),
    (
        "payment-received",
        {"reference": None, "invoice_id": None},
        "data.reference",
        "is required unless invoice_id is given",
    ),
    # customer-updated changes something and refuses null where a value is needed
    (
        "customer-updated",
        {"email": DELETE},
        "data",
        "must change at least one field besides customer_id",
    ),
    ("customer-updated", {"address": None}, "data.address", "must not be null"),
    ("customer-updated", {"party_type": None}, "data.party_type", "must not be null"),
    (
        "customer-updated",
        {"protected_identity": None},
        "data.protected_identity",
        "must not be null",
    ),
    # payment-plan-proposed
    ("payment-plan-proposed", {"installments": []}, "data.installments", "must not be empty"),
    ("payment-plan-proposed", {"invoice_ids": []}, "data.invoice_ids", "must not be empty"),
    ("payment-plan-proposed", {"invoice_ids": "I-1"}, "data.invoice_ids", "must be a list"),
    (
        "payment-plan-proposed",
        {"invoice_ids": ["I-1", "I-2", "I-1"]},
        "data.invoice_ids.2",
        "repeats invoice_ids.0",
    ),
    (
        "payment-plan-proposed",
        {"invoice_ids": ["I-1", 2]},
        "data.invoice_ids.1",
        "must be a string",
    ),
    (
        "payment-plan-proposed",
        {
            "installments": [
                {"due_date": "2027-02-28", "amount": "600.00"},
                {"due_date": "2027-01-31", "amount": "634.50"},
            ]
        },
        "data.installments.1.due_date",
        "must be after the previous installment's due date",
    ),
    (
        "payment-plan-proposed",
        {
            "installments": [
                {"due_date": "2027-01-31", "amount": "600.00"},
                {"due_date": "2027-01-31", "amount": "634.50"},
            ]
        },
        "data.installments.1.due_date",
        "must be after the previous installment's due date",
    ),
    (
        "payment-plan-proposed",
        {"installments": [{"amount": "600.00"}]},
        "data.installments.0.due_date",
        "is required",
    ),
    # review-decided
    (
        "review-decided",
        {"outcome": "credited_in_part"},
        "data.credited_amount",
        "is required when outcome is credited_in_part",
    ),
    (
        "review-decided",
        {"outcome": "credited_in_part", "credited_amount": "0"},
        "data.credited_amount",
        "must be more than 0",
    ),
]


@pytest.mark.parametrize(
    ("event_type", "changes", "field", "reason"),
    REJECTED,
    ids=[f"{t}:{f}:{r[:30]}" for t, _, f, r in REJECTED],
)
def test_malformed_field_is_rejected_naming_the_field(
    event_type: str, changes: dict[str, Any], field: str, reason: str
) -> None:
    reasons = reasons_for(with_data(event_type, **changes))
    assert field in reasons, reasons
    assert reason in reasons[field]


#: (event type, changes to the minimal data) that are accepted.
ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("payment-received", {"reference": DELETE, "invoice_id": "I-1"}),
    ("payment-received", {"reference": None, "invoice_id": "I-1"}),
    ("payment-received", {"payer": {"identity_number": ORGNR_KOMMUN}}),
    ("payment-received", {"payer": {}}),
    ("payment-received", {"amount": "0.01"}),
    ("payment-received", {"amount": "1000000000.00"}),
    ("customer-registered", {"identity_number": PERSONNUMMER_12}),
    ("customer-registered", {"identity_number": SAMORDNINGSNUMMER}),
    ("customer-registered", {"party_type": "organisation", "identity_number": ORGNR_KOMMUN}),
    ("customer-registered", {"party_type": "estate", "identity_number": PERSONNUMMER_10}),
    ("customer-registered", {"name": "Åsa Öberg-Ängström"}),
    ("customer-registered", {"email": None, "phone": None, "representative": None}),
    ("customer-registered", {"address": {**ADDRESS, "country": "DK", "postal_code": "DK-1050"}}),
    ("customer-updated", {"identity_number": ORGNR_KOMMUN}),
    ("customer-updated", {"identity_number": SAMORDNINGSNUMMER}),
    ("customer-updated", {"email": None}),
    ("customer-updated", {"consumer": None}),
    ("objection-filed", {"reason": "Rad ett\n\tRad två", "disputed_amount": None}),
    ("invoice-issued", {"due_date": "2026-10-30"}),
    ("invoice-issued", {"ocr_reference": None}),
    ("handoff-closed", {"amount_recovered": "0.00"}),
    ("review-decided", {"outcome": "credited_in_full"}),
    ("payment-plan-proposed", {"installments": [{"due_date": "2027-01-31", "amount": "1234.50"}]}),
    ("invoice-due", {"invoice_id": "x" * 100}),
]


@pytest.mark.parametrize(("event_type", "changes"), ACCEPTED)
def test_edge_case_is_accepted(event_type: str, changes: dict[str, Any]) -> None:
    parse_event(with_data(event_type, **changes))


# --- Values and defaults ------------------------------------------------------------------


def data_of(event_type: str, **changes: Any) -> Any:
    return parse_event(with_data(event_type, **changes)).data


@pytest.mark.parametrize(
    ("text", "ore"),
    [("1234.50", 123450), ("1234.5", 123450), ("100", 10000), ("0.01", 1), ("007.10", 710)],
)
def test_amounts_become_ore(text: str, ore: int) -> None:
    assert data_of("payment-received", amount=text).amount == ore


def test_dates_become_dates_and_identity_numbers_are_normalised() -> None:
    data = data_of("customer-registered", identity_number=PERSONNUMMER_10)
    assert data.identity_number == PERSONNUMMER_12
    assert data_of("customer-registered", identity_number=SAMORDNINGSNUMMER).identity_number == (
        "197010632391"
    )
    organisation = data_of(
        "customer-registered", party_type="organisation", identity_number=ORGNR_AB
    )
    assert organisation.identity_number == "5560360793"
    payer = data_of("payment-received", payer={"identity_number": PERSONNUMMER_10}).payer
    assert payer.identity_number == PERSONNUMMER_12
    assert data_of("payment-received").paid_on == date(2026, 11, 28)


def test_the_same_date_text_gives_one_date_and_each_text_its_own() -> None:
    # The last date text read is remembered (a BgMax section's payments share their date).
    texts = ["2026-01-20", "2026-01-20", "2026-01-21", "2026-01-20"]
    days = [data_of("payment-received", paid_on=t).paid_on for t in texts]
    assert days == [date.fromisoformat(t) for t in texts] and days[0] is days[1]
    for bad, reason in (("2026-02-30", "is not a valid date"), ("2026-1-20", "must be a date like")):
        data_of("payment-received", paid_on="2026-01-20")
        assert reason in reasons_for(with_data("payment-received", paid_on=bad))["data.paid_on"]


def test_customer_registered_defaults() -> None:
    data = data_of("customer-registered")
    assert data.address.country == "SE"
    assert data.language == "sv"
    assert data.consumer is True
    assert data.protected_identity is False
    assert data.email is None and data.representative is None


def test_swedish_postal_code_is_stored_with_a_space() -> None:
    data = data_of("customer-registered", address={**ADDRESS, "postal_code": "59730"})
    assert data.address.postal_code == "597 30"
    foreign = data_of(
        "customer-registered", address={**ADDRESS, "country": "NO", "postal_code": "0150"}
    )
    assert foreign.address.postal_code == "0150"


@pytest.mark.parametrize(
    ("party_type", "number", "given", "expected"),
    [
        ("person", PERSONNUMMER_10, DELETE, True),
        ("person", PERSONNUMMER_10, None, True),
        ("person", PERSONNUMMER_10, False, False),
        ("organisation", ORGNR_KOMMUN, DELETE, False),
        ("organisation", ORGNR_KOMMUN, True, True),
        ("estate", PERSONNUMMER_10, DELETE, False),
    ],
)
def test_consumer_defaults_to_true_for_persons_only(
    party_type: str, number: str, given: Any, expected: bool
) -> None:
    data = data_of(
        "customer-registered", party_type=party_type, identity_number=number, consumer=given
    )
    assert data.consumer is expected


@pytest.mark.parametrize(
    ("kind", "nature"),
    [
        ("water", "civil"),
        ("waste", "civil"),
        ("district_heating", "civil"),
        ("electricity", "civil"),
        ("childcare", "civil"),
        ("rent", "civil"),
        ("elderly_care", "public_law"),
        ("permit_fee", "public_law"),
        ("food_inspection", "public_law"),
        ("other", "civil"),
    ],
)
def test_claim_nature_defaults_from_claim_kind(kind: str, nature: str) -> None:
    assert default_claim_nature(kind) == nature
    assert data_of("invoice-issued", claim_kind=kind).claim_nature == nature
    assert data_of("invoice-issued", claim_kind=kind, claim_nature=None).claim_nature == nature


def test_given_claim_nature_wins_over_the_default() -> None:
    assert data_of(
        "invoice-issued", claim_kind="water", claim_nature="public_law"
    ).claim_nature == ("public_law")
    with pytest.raises(ValueError):
        default_claim_nature("gas")


def test_other_defaults() -> None:
    invoice = data_of("invoice-issued")
    assert invoice.reminder_fee_agreed is False
    assert invoice.ocr_reference is None
    assert data_of("deferral-granted").confirm_in_writing is True
    assert data_of("objection-filed").disputed_amount is None  # the whole open balance
    assert data_of("handoff-closed").amount_recovered is None


def test_customer_updated_knows_which_fields_were_given() -> None:
    data = data_of("customer-updated", email=None, language="en")
    assert data.model_fields_set == {"customer_id", "email", "language"}
    assert data.consumer is None  # not given: nothing to change


# --- The envelope -------------------------------------------------------------------------

ENVELOPE_REJECTED: list[tuple[dict[str, Any], str, str]] = [
    ({"id": DELETE}, "id", "is required"),
    ({"id": ""}, "id", "must not be empty"),
    ({"id": "x" * 101}, "id", "must be at most 100 characters"),
    ({"id": 42}, "id", "must be a string"),
    ({"type": DELETE}, "type", "is required"),
    ({"type": "payment-recieved"}, "type", "is not a known event type"),
    ({"type": "reminder-sent"}, "type", "is not a known event type"),
    ({"type": 7}, "type", "must be a string"),
    ({"version": DELETE}, "version", "is required"),
    ({"version": 2}, "version", "must be 1"),
    ({"version": "1"}, "version", "must be 1"),
    ({"version": True}, "version", "must be 1"),
    ({"version": 1.0}, "version", "must be 1"),
    ({"occurred_at": DELETE}, "occurred_at", "is required"),
    ({"occurred_at": "2026-11-29T10:15:00"}, "occurred_at", "must include a UTC offset"),
    ({"occurred_at": "2026-11-29 10:15:00"}, "occurred_at", "must include a UTC offset"),
    ({"occurred_at": "2026-11-29"}, "occurred_at", "must be a date and time with offset"),
    ({"occurred_at": 1_790_000_000}, "occurred_at", "must be a date and time with offset"),
    (
        {"occurred_at": "29 Nov 2026 10:15 +0100"},
        "occurred_at",
        "must be a date and time with offset",
    ),
    ({"occurred_at": "2026-11-29T25:15:00+01:00"}, "occurred_at", "is not a valid date and time"),
    ({"occurred_at": None}, "occurred_at", "must not be null"),
    ({"source": DELETE}, "source", "is required"),
    ({"source": ""}, "source", "must not be empty"),
    ({"source": ["bank"]}, "source", "must be a string"),
    ({"data": DELETE}, "data", "is required"),
    ({"data": None}, "data", "must not be null"),
    ({"data": ["payment_id"]}, "data", "must be an object"),
    ({"data": "{}"}, "data", "must be an object"),
    ({"trace": "abc"}, "trace", "is not a known field"),
]


@pytest.mark.parametrize(("changes", "field", "reason"), ENVELOPE_REJECTED)
def test_envelope_rules(changes: dict[str, Any], field: str, reason: str) -> None:
    document = envelope("payment-received")
    for key, value in changes.items():
        if value is DELETE:
            del document[key]
        else:
            document[key] = value
    reasons = reasons_for(document)
    assert field in reasons, reasons
    assert reason in reasons[field]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-29T10:15:00+01:00", datetime(2026, 11, 29, 9, 15, tzinfo=UTC)),
        ("2026-11-29T09:15:00Z", datetime(2026, 11, 29, 9, 15, tzinfo=UTC)),
        ("2026-11-29T10:15+01:00", datetime(2026, 11, 29, 9, 15, tzinfo=UTC)),
        (
            "2026-11-29T04:15:00.123456789-05:00",
            datetime(2026, 11, 29, 9, 15, 0, 123456, tzinfo=UTC),
        ),
    ],
)
def test_occurred_at_accepts_iso_8601_with_offset(text: str, expected: datetime) -> None:
    event = parse_event(envelope("payment-received", occurred_at=text))
    assert event.occurred_at == expected
    assert event.occurred_at.utcoffset() is not None


def test_the_same_occurred_at_text_gives_one_instant_and_each_text_its_own() -> None:
    # The last text read is remembered (a BgMax file's payments share theirs): the same text
    # gives the same instant object, any other text its own instant, and a bad text still
    # its error, whatever was read before.
    texts = ["2026-11-29T10:15:00+01:00", "2026-11-29T10:15:00+01:00", "2026-11-29T09:15:00Z",
             "2026-11-29T10:15:00.123456789+01:00", "2026-11-29T10:15:00+01:00", "2026-10-25T02:30:00+02:00",
             "2026-10-25T02:30:00+01:00"]
    instants = [parse_event(envelope("payment-received", occurred_at=t)).occurred_at for t in texts]
    expected = [datetime.fromisoformat(t.replace(".123456789", ".123456")) for t in texts]
    assert [(i, i.utcoffset()) for i in instants] == [(e, e.utcoffset()) for e in expected]
    assert instants[0] is instants[1]
    assert instants[5] != instants[6]  # the repeated autumn hour: two instants an hour apart
    for bad in ("", "2026-11-29T10:15:00", "2026-13-29T10:15:00+01:00"):
        parse_event(envelope("payment-received", occurred_at=texts[0]))
        assert "occurred_at" in reasons_for(envelope("payment-received", occurred_at=bad))


def test_occurred_at_may_be_an_aware_datetime_but_not_a_naive_one() -> None:
    aware = datetime(2026, 11, 29, 10, 15, tzinfo=timezone(timedelta(hours=1)))
    assert parse_event(envelope("payment-received", occurred_at=aware)).occurred_at == aware
    naive = datetime(2026, 11, 29, 10, 15)
    assert (
        "must include a UTC offset"
        in reasons_for(envelope("payment-received", occurred_at=naive))["occurred_at"]
    )


def test_every_broken_field_is_reported_at_once() -> None:
    document = envelope(
        "invoice-issued",
        {**VALID["invoice-issued"], "amount": "-5", "due_date": "soon", "colour": "red"},
        version=2,
        source="",
    )
    document["data"].pop("claim_kind")
    assert reasons_for(document) == {
        "version": "must be 1",
        "source": "must not be empty",
        "data.due_date": "must be a date like 2026-11-29",
        "data.amount": "must not be negative",
        "data.claim_kind": "is required",
        "data.colour": "is not a known field",
    }


def test_unknown_type_still_reports_the_other_envelope_errors() -> None:
    rejected = rejection({"id": "e-1", "type": "invoice-paid", "version": 1, "data": []})
    assert {e.field: e.reason for e in rejected.errors} == {
        "type": "is not a known event type",
        "occurred_at": "is required",
        "source": "is required",
        "data": "must be an object",
    }
    assert rejected.event_id == "e-1"
    assert rejected.event_type == "invoice-paid"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{", "is not valid JSON"),
        (b"\xff\xfe\xfa", "is not valid JSON"),
        ("", "is not valid JSON"),
        ('{"amount": NaN}', "is not valid JSON"),
        ("[]", "must be a JSON object"),
        ('"payment-received"', "must be a JSON object"),
        ("null", "must be a JSON object"),
        (None, "must be a JSON object"),
        (42, "must be a JSON object"),
        ('{"id": "a", "id": "b"}', "has the key 'id' more than once"),
        ("[" * 100_000 + "]" * 100_000, "is not valid JSON"),
        (" " * 1_048_577, "must be at most 1048576 bytes"),
    ],
)
def test_text_that_is_not_a_json_object_is_rejected(raw: Any, reason: str) -> None:
    rejected = rejection(raw)
    assert rejected.errors == [FieldError("$", reason)]
    assert rejected.event_id is None and rejected.event_type is None


def test_bytes_str_and_mappings_are_all_accepted() -> None:
    document = envelope("payment-received")
    text = json.dumps(document)
    events = [
        parse_event(text),
        parse_event(text.encode()),
        parse_event(bytearray(text.encode())),
        parse_event(document),
        parse_event(MappingProxyType(document)),
    ]
    assert all(event == events[0] for event in events)


def test_rejection_carries_id_and_type_only_when_readable() -> None:
    rejected = rejection(envelope("payment-received", id="x" * 101, data={}))
    assert rejected.event_id is None
    assert rejected.event_type == "payment-received"
    rejected = rejection(envelope("payment-received", type=["payment-received"]))
    assert rejected.event_id == "evt-payment-received"
    assert rejected.event_type is None


def test_rejection_message_is_field_colon_reason_joined() -> None:
    rejected = rejection(with_data("payment-received", amount="-1", paid_on="igår"))
    assert str(rejected) == (
        "data.amount: must not be negative; data.paid_on: must be a date like 2026-11-29"
    )
    assert rejected.as_dicts() == [
        {"field": "data.amount", "reason": "must not be negative"},
        {"field": "data.paid_on", "reason": "must be a date like 2026-11-29"},
    ]
    assert str(FieldError("data.x", "is required")) == "data.x: is required"


def test_rejection_never_leaks_pydantic() -> None:
    document = envelope("customer-registered", {"address": 1, "consumer": "yes", "x": None})
    message = str(rejection(document))
    assert "pydantic" not in message.lower()
    assert "http" not in message
    assert "Input should" not in message


def test_rejection_survives_pickling() -> None:
    rejected = rejection(with_data("payment-received", amount="-1"))
    copied = pickle.loads(pickle.dumps(rejected))
    assert copied.errors == rejected.errors
    assert (copied.event_id, copied.event_type) == (rejected.event_id, rejected.event_type)
    assert str(copied) == str(rejected)


def test_events_are_immutable() -> None:
    event = parse_event(envelope("payment-received"))
    with pytest.raises(ValueError):
        event.data.amount = 1  # type: ignore[misc]
    with pytest.raises(ValueError):
        event.id = "other"  # type: ignore[misc]


# --- Round trip -----------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize("examples", [VALID, FULL], ids=["minimal", "full"])
def test_round_trip_through_event_to_json(event_type: str, examples: dict[str, Any]) -> None:
    event = parse_event(envelope(event_type, examples.get(event_type, VALID[event_type])))
    stored = event_to_json(event)
    assert parse_event(stored) == event
    assert parse_event(json.dumps(stored)) == event
    assert event_to_json(parse_event(stored)) == stored


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize("examples", [VALID, FULL], ids=["minimal", "full"])
def test_data_json_text_is_the_contract_form_written(event_type: str, examples: dict[str, Any]) -> None:
    event = parse_event(envelope(event_type, examples.get(event_type, VALID[event_type])))
    text = data_json_text(event)
    assert json.loads(text) == data_to_json(event)
    assert list(json.loads(text)) == list(data_to_json(event))  # the same keys in the same order


def test_contract_form_has_amounts_and_dates_as_strings() -> None:
    event = parse_event(envelope("payment-plan-proposed"))
    stored = event_to_json(event)
    assert stored["occurred_at"] == "2026-11-29T10:15:00+01:00"
    assert stored["data"]["installments"] == [
        {"due_date": "2027-01-31", "amount": "600.00"},
        {"due_date": "2027-02-28", "amount": "634.50"},
    ]
    payment = event_to_json(parse_event(with_data("payment-received", amount="0.5")))
    assert payment["data"]["amount"] == "0.50"
    assert list(payment) == ["id", "type", "version", "occurred_at", "source", "data"]


def test_contract_form_writes_resolved_defaults() -> None:
    stored = event_to_json(parse_event(envelope("invoice-issued")))["data"]
    assert stored["claim_nature"] == "civil"
    assert stored["reminder_fee_agreed"] is False
    customer = event_to_json(parse_event(envelope("customer-registered")))["data"]
    assert customer["consumer"] is True
    assert customer["address"]["country"] == "SE"


def test_customer_updated_round_trip_keeps_only_the_given_fields() -> None:
    event = parse_event(with_data("customer-updated", email=None, language="en"))
    stored = event_to_json(event)
    assert stored["data"] == {"customer_id": "C-1", "email": None, "language": "en"}
    again = parse_event(stored)
    assert again == event
    assert again.data.model_fields_set == event.data.model_fields_set
