"""The envelope every inbound event comes in, and the one way in: `parse_event`.

`parse_event` reads the envelope, picks the data model by `type` and validates both in one
pass, so a rejection lists every broken field at once. `event_to_json` gives back the
contract form, so a stored event re-parses to an equal one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    WithJsonSchema,
    create_model,
)

from .errors import ROOT, EventRejected, FieldError, fail, field_errors
from .events import DATA_MODELS, EVENT_TYPES, CustomerUpdated, EventData, Id, Label, LastRead

#: Largest event accepted, in bytes (or characters for a str); real events are a few kB.
MAX_EVENT_SIZE = 1_048_576

#: The only contract version.
CONTRACT_VERSION = 1

_WITH_OFFSET = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.([0-9]{1,9}))?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_WITHOUT_OFFSET = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
)
_OFFSET_REASON = "must include a UTC offset, like 2026-11-29T10:15:00+01:00"
_TIMESTAMP_REASON = "must be a date and time with offset, like 2026-11-29T10:15:00+01:00"


_last_timestamp = LastRead()


def _timestamp(value: Any) -> datetime:
    """An aware instant from ISO text with an offset (or an aware datetime); the text read last
    gives its instant again (``LastRead``: every payment of a BgMax file carries the file's time)."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise fail(_OFFSET_REASON)
        return value
    if value is None:
        raise fail("must not be null")
    if not isinstance(value, str):
        raise fail(_TIMESTAMP_REASON)
    instant: datetime | None = _last_timestamp.get(value)
    if instant is not None:
        return instant
    match = _WITH_OFFSET.fullmatch(value)
    if match is None:
        raise fail(_OFFSET_REASON if _WITHOUT_OFFSET.fullmatch(value) else _TIMESTAMP_REASON)
    text = value  # (the instant's text, nanoseconds cut to microseconds)
    if match[1] and len(match[1]) > 6:  # nanoseconds from some publishers: keep microseconds
        text = value[: match.start(1) + 6] + value[match.end(1) :]
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise fail("is not a valid date and time") from None
    _last_timestamp.keep(value, instant)
    return instant


def _event_type(value: Any) -> str:
    if not isinstance(value, str):
        raise fail("must be a string")
    if value not in DATA_MODELS:
        raise fail("is not a known event type")
    return value


def _version(value: Any) -> int:
    if type(value) is not int or value != CONTRACT_VERSION:
        raise fail(f"must be {CONTRACT_VERSION}")
    return value


#: ISO 8601 with an offset ("2026-11-29T10:15:00+01:00" or "...Z"); an aware datetime here.
Timestamp = Annotated[
    datetime,
    BeforeValidator(_timestamp),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "pattern": "^" + _WITH_OFFSET.pattern + "$"}
    ),
]


class Event(BaseModel):
    """An inbound event (EVENTS.md, version 1): the envelope around the data of its type.

    Each type has its own subclass (`EVENT_MODELS`) whose `data` is that type's model;
    build events with `parse_event`, not by validating this base class.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    id: Id
    """Unique per event, at most 100 characters; the idempotency key."""
    type: Annotated[str, BeforeValidator(_event_type)]
    """The event type."""
    version: Annotated[Literal[1], BeforeValidator(_version)]
    """The contract version: 1."""
    occurred_at: Timestamp
    """When it happened: ISO 8601 with offset."""
    source: Label
    """The publishing system's name."""
    data: EventData
    """The event's data, as the type says."""


class _UnknownTypeEvent(Event):
    # Used only to report every envelope error when `type` is missing or unknown.
    data: Annotated[dict[str, Any], Strict()]  # type: ignore[assignment]


class _TypedEvent(Event):
    # The base of each type's envelope below. Those declare only `type` and `data`, each with
    # its description, so there are no attribute docstrings to read; reading them anyway,
    # pydantic walked the whole call stack for each class that create_model made (it has no
    # class statement to find), which cost every process's start-up about 0.4 s.
    model_config = ConfigDict(use_attribute_docstrings=False)


def _event_model(event_type: str, data_model: type[EventData]) -> type[Event]:
    summary = (data_model.__doc__ or "").strip()
    model = create_model(
        f"{data_model.__name__}Event",
        __base__=_TypedEvent,
        __module__=__name__,
        __doc__=f"The `{event_type}` event. {summary}",
        type=(Literal[event_type], Field(description="The event type.")),  # type: ignore[valid-type]
        data=(data_model, Field(description=f"The `{event_type}` data.")),
    )
    return model


#: The envelope model of each inbound event type (a subclass of Event), in EVENTS.md order.
EVENT_MODELS: dict[str, type[Event]] = {
    event_type: _event_model(event_type, DATA_MODELS[event_type]) for event_type in EVENT_TYPES
}


def parse_event(raw: str | bytes | bytearray | Mapping[str, Any]) -> Event:
    """Validate an inbound event (JSON text or an already decoded object).

    Returns an instance of the type's Event subclass; raises EventRejected listing every
    broken field, with the event's id and type when they could be read.
    """
    document = _load(raw)
    event_type = document.get("type")
    model = EVENT_MODELS.get(event_type, _UnknownTypeEvent) if event_type.__class__ is str else _UnknownTypeEvent
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise EventRejected(field_errors(exc), event_id=_readable(document.get("id")),
                            event_type=_readable(event_type)) from None


def event_to_json(event: Event) -> dict[str, Any]:
    """The contract form of an event (amounts as "1234.50", dates as strings), for storing.

    `parse_event(event_to_json(event)) == event`. Defaults are written out as resolved,
    except for customer-updated, whose data keeps only the fields that were given.
    """
    document = event.model_dump(mode="json", exclude={"data"})
    document["data"] = data_to_json(event)
    return document


def data_to_json(event: Event) -> dict[str, Any]:
    """The contract form of the event's ``data`` alone, as in ``event_to_json``."""
    return event.data.model_dump(mode="json", exclude_unset=isinstance(event.data, CustomerUpdated))


def data_json_text(event: Event) -> str:
    """``data_to_json(event)`` as compact JSON text, written by the model's serializer without
    the dict in between: half the time of the dict and its dumping (a set-based run stores
    every event's data)."""
    data = event.data
    return data.__pydantic_serializer__.to_json(data, exclude_unset=isinstance(data, CustomerUpdated)).decode()


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    if not isinstance(raw, str | bytes | bytearray):
        raise EventRejected([FieldError(ROOT, "must be a JSON object")])
    if len(raw) > MAX_EVENT_SIZE:
        raise EventRejected([FieldError(ROOT, f"must be at most {MAX_EVENT_SIZE} bytes")])
    try:
        document = json.loads(
            raw, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant
        )
    except _DuplicateKey as duplicate:
        raise EventRejected(
            [FieldError(ROOT, f"has the key {duplicate.key!r} more than once")]
        ) from None
    except (ValueError, RecursionError):
        raise EventRejected([FieldError(ROOT, "is not valid JSON")]) from None
    if not isinstance(document, dict):
        raise EventRejected([FieldError(ROOT, "must be a JSON object")])
    return document


def _readable(value: Any) -> str | None:
    """An envelope value worth recording with a rejection: a short string."""
    if isinstance(value, str) and 0 < len(value) <= 100 and value.isprintable():
        return value
    return None
