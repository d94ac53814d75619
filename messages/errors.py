"""Why an inbound event was rejected, in words an operator can act on.

Pydantic's error types are translated into short English reasons that read after a dotted
field path ("data.address.postal_code: must be five digits like 123 45"). Pydantic's own
messages and documentation links never reach the rejected-events list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

#: The error type of the validators in this package; its context carries the reason and,
#: for a check made on a whole object, the field inside it that the reason is about ("at").
CUSTOM_ERROR_TYPE = "likvid"

#: Field path used for an error about the event as a whole (not JSON, not an object).
ROOT = "$"

#: Readable reasons for the regular expressions used in `StringConstraints(pattern=...)`,
#: filled in by the modules that declare them.
PATTERN_REASONS: dict[str, str] = {}


@dataclass(frozen=True)
class FieldError:
    """One reason an event was rejected: a dotted field path and a reason in English."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class EventRejected(Exception):
    """An inbound event broke the contract (EVENTS.md) and must not be applied.

    `event_id` and `event_type` are filled in when the envelope had readable values, so the
    rejection can be listed next to the event it belongs to.
    """

    def __init__(
        self,
        errors: Iterable[FieldError],
        *,
        event_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        self.errors: list[FieldError] = list(errors)
        self.event_id = event_id
        self.event_type = event_type
        super().__init__(str(self))

    def __str__(self) -> str:
        return "; ".join(str(error) for error in self.errors)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments survive pickling (e.g. across a process boundary).
        return (_rebuild_rejection, (self.errors, self.event_id, self.event_type))

    def as_dicts(self) -> list[dict[str, str]]:
        """The errors as plain dicts, for storing with the rejected event."""
        return [{"field": error.field, "reason": error.reason} for error in self.errors]


def _rebuild_rejection(
    errors: list[FieldError], event_id: str | None, event_type: str | None
) -> EventRejected:
    return EventRejected(errors, event_id=event_id, event_type=event_type)


def fail(reason: str, *, at: str | None = None) -> PydanticCustomError:
    """An error to raise from a validator: `raise fail("must be more than 0")`.

    `at` names a field relative to the object being validated ("reference",
    "installments.1.due_date"), for checks that look at several fields at once.
    """
    context: dict[str, Any] = {"reason": reason}
    if at is not None:
        context["at"] = at
    return PydanticCustomError(CUSTOM_ERROR_TYPE, "{reason}", context)


def field_errors(exc: ValidationError, prefix: Sequence[str | int] = ()) -> list[FieldError]:
    """Translate a pydantic ValidationError into FieldErrors with dotted paths."""
    result: list[FieldError] = []
    for error in exc.errors(include_url=False):
        loc: list[str | int] = [*prefix, *error["loc"]]
        at = (error.get("ctx") or {}).get("at") if error["type"] == CUSTOM_ERROR_TYPE else None
        if at:
            loc.extend(str(at).split("."))
        field = ".".join(str(part) for part in loc) or ROOT
        result.append(FieldError(field, reason(error)))
    return result


def reason(error: ErrorDetails) -> str:
    """The readable reason for one pydantic error."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == CUSTOM_ERROR_TYPE:
        return str(ctx["reason"])
    if error.get("input", ...) is None and kind in _TYPE_ERRORS:
        return "must not be null"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        several = "," in expected or " or " in expected
        return f"must be one of {expected}" if several else f"must be {expected}"
    if kind == "string_too_short":
        minimum = int(ctx.get("min_length", 1))
        return "must not be empty" if minimum <= 1 else f"must be at least {minimum} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        minimum = int(ctx.get("min_length", 1))
        return "must not be empty" if minimum <= 1 else f"must have at least {minimum} items"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    if kind == "string_pattern_mismatch":
        return PATTERN_REASONS.get(str(ctx.get("pattern")), "has the wrong format")
    if kind in _FIXED_REASONS:
        return _FIXED_REASONS[kind]
    message = error["msg"]
    return message[:1].lower() + message[1:]


#: Errors that mean "a value of the wrong JSON type"; for a null the reason says so.
_TYPE_ERRORS = frozenset(
    {
        "string_type",
        "bool_type",
        "int_type",
        "model_type",
        "model_attributes_type",
        "dict_type",
        "list_type",
        "literal_error",
    }
)

_FIXED_REASONS = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be a string",
    "string_unicode": "must be valid Unicode text",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "json_invalid": "is not valid JSON",
    "json_type": "must be JSON text",
}
