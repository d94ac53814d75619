"""likvid.jsontext: orjson where it can, the standard library where orjson refuses; the same
JSON either way, and dramatiq's messages through it as through dramatiq's own encoder."""

from __future__ import annotations

import json
from datetime import date

import pytest
from dramatiq.errors import DecodeError
from hypothesis import given
from hypothesis import strategies as st

from likvid import jsontext
from likvid.workers.broker import FastJSONEncoder

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=25,
)


@given(_json)
def test_what_is_written_reads_back_the_same_by_either_library(value: object) -> None:
    text = jsontext.dumps(value)
    assert json.loads(text) == value
    assert jsontext.loads(text) == value
    assert jsontext.loads(jsontext.dumpb(value)) == value


def test_values_orjson_refuses_are_written_as_the_standard_library_writes_them() -> None:
    for value in ({"name": "Kund \ud800"}, {"big": 2**70}, [-(2**64)]):
        assert jsontext.dumps(value) == json.dumps(value, separators=(",", ":"))
        assert jsontext.loads(jsontext.dumps(value)) == value
    assert jsontext.dumps({1: "a"}) == '{"1":"a"}'  # a non-string key as json writes it
    assert jsontext.dumps({"å": "ö"}) == '{"å":"ö"}'  # UTF-8, compact


def test_text_that_is_not_json_raises_value_error() -> None:
    for bad in ("{", "{'a': 1}", b"\xff", ""):
        with pytest.raises(ValueError):
            jsontext.loads(bad)


def test_values_neither_library_writes_still_raise() -> None:
    with pytest.raises(TypeError):
        jsontext.dumps({"when": object()})
    assert jsontext.dumps({"day": date(2026, 1, 5)}) == '{"day":"2026-01-05"}'


def test_broker_messages_round_trip_and_bad_bytes_raise_decode_error() -> None:
    enc = FastJSONEncoder()
    message = {"queue_name": "payments", "actor_name": "ingest_payments", "args": [[{"id": "e\ud83d", "n": 1}]],
               "kwargs": {}, "options": {"x": 1}, "message_id": "m", "message_timestamp": 1}
    assert enc.decode(enc.encode(message)) == message
    plain = {k: v for k, v in message.items() if k != "args"}
    assert enc.decode(json.dumps(plain).encode()) == plain  # from a process with dramatiq's encoder
    for bad in (b"{not json", b"\xff\xfe", b"[1, 2]"):
        with pytest.raises(DecodeError):
            enc.decode(bad)


def test_not_a_number_is_written_as_null_not_as_invalid_json() -> None:
    assert jsontext.dumps({"x": float("nan"), "y": float("inf")}) == '{"x":null,"y":null}'
