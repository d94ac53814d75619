"""Lone surrogates in a raw event are found, and named by their path, before pydantic sees
the event (``ingest.validate``); the quick test that clears the usual event says the same as
the walk that names the path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from likvid.clock import STOCKHOLM, to_db
from likvid.service.ingest import _lone_surrogate, _no_surrogate, decoded_and_clean, validate


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"id": "x", "data": {"name": "Å\ud800"}}, "data.name"),
        ({"id": "x", "data": {"lines": ["ok", {"text": "\udfff"}]}}, "data.lines.1.text"),
        ({"id": "x", "data": {"k\udc00": 1}}, "data.k\\udc00"),
        ("\ud83d", "$"),
        ({"id": "x", "data": {"name": "Åsa 😀", "n": [1, None, True]}}, None),
    ],
)
def test_lone_surrogate_path(doc: Any, path: str | None) -> None:
    assert _lone_surrogate(doc) == path
    assert _no_surrogate(doc) is (path is None)


def test_validate_names_the_field_with_a_lone_surrogate() -> None:
    line = json.dumps({"id": "e1", "type": "customer-registered", "version": 1,
                       "occurred_at": "2026-01-05T08:00:00+01:00", "source": "t",
                       "data": {"customer_id": "C1", "name": "Kund \ud800"}})
    event, result = validate(line)
    assert event is None and result.status == "rejected"
    assert result.errors == [{"field": "data.name", "reason": "must be valid Unicode text (it holds a lone surrogate)"}]


#: Text with lone surrogates now and then (hypothesis's own text never holds one).
_text = st.text(alphabet=st.characters() | st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]), max_size=6)
_json = st.recursive(st.none() | st.booleans() | st.integers() | _text,
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
                     max_leaves=20)


@given(_json)
def test_quick_check_agrees_with_the_walk(doc: Any) -> None:
    assert _no_surrogate(doc) is (_lone_surrogate(doc, "$") is None)


@pytest.mark.parametrize(
    ("raws", "clean"),
    [
        ([{"id": "a", "data": {"name": "Åsa 😀", "n": [1, None, 2**70]}}], False),  # past 64 bits: look closer
        ([{"id": "a", "data": {"name": "Åsa 😀", "n": [1, None, True]}}, {"id": "b"}], True),
        ([{"id": "a"}, {"id": "b", "data": {"name": "Kund \ud800"}}], False),
        ([{"id": "a", "data": {"k\udc00": 1}}], False),
        ([{"id": "a", "data": {"lines": ["ok", {"text": "\udfff"}]}}], False),
        # Text still to be decoded: its escapes may decode to a lone surrogate.
        (['{"id": "a", "data": {"name": "\\ud800"}}'], False),
        ([{"id": "a"}, '{"id": "b"}'], False),
        ([], True),
    ],
)
def test_a_batch_is_cleared_at_once_only_when_decoded_and_clean(raws: list[Any], clean: bool) -> None:
    assert decoded_and_clean(raws) is clean


_events = st.lists(st.fixed_dictionaries({"id": _text, "type": st.just("customer-registered"),
                                          "version": st.just(1), "occurred_at": st.just("2026-01-05T08:00:00+01:00"),
                                          "source": _text, "data": st.dictionaries(_text, _json, max_size=3)}),
                   max_size=4)


@given(_events)
def test_a_cleared_batch_validates_as_each_event_alone(raws: list[Any]) -> None:
    clean = decoded_and_clean(raws)
    for raw in raws:
        assert validate(raw, clean)[1] == validate(raw)[1]


def test_to_db_converts_each_instant_even_when_it_remembers_the_last_ones() -> None:
    a = datetime(2026, 3, 29, 1, 30, tzinfo=STOCKHOLM)  # before the change to summer time
    b = datetime(2026, 3, 29, 3, 30, tzinfo=STOCKHOLM)  # after it
    c = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
    for _ in range(2):
        for dt in (a, b, a, c, b, c, c):
            assert to_db(dt) == dt.astimezone(UTC).replace(tzinfo=None)
    equal_but_other = datetime(2026, 3, 29, 1, 30, tzinfo=STOCKHOLM)
    assert to_db(equal_but_other) == datetime(2026, 3, 29, 0, 30)
    with pytest.raises(ValueError, match="naive"):
        to_db(datetime(2026, 1, 1))


def test_to_db_tells_the_two_passes_of_the_autumn_hour_apart() -> None:
    # Equal in one zone (fold is ignored there), an hour apart as instants.
    first = datetime(2026, 10, 25, 2, 30, tzinfo=STOCKHOLM)
    second = first.replace(fold=1)
    assert first == second
    for _ in range(2):
        assert (to_db(first), to_db(second)) == (datetime(2026, 10, 25, 0, 30), datetime(2026, 10, 25, 1, 30))


def test_to_db_keeps_the_instant_every_row_shares_while_each_event_brings_its_own() -> None:
    from likvid import clock

    now = datetime(2026, 1, 20, 9, 0, tzinfo=STOCKHOLM)
    wall = datetime(2026, 11, 29, 16, 0, tzinfo=STOCKHOLM)
    to_db(now)
    to_db(wall)
    for minute in range(5):
        occurred = datetime(2026, 1, 19, 8, minute, tzinfo=STOCKHOLM)  # each event's own
        assert to_db(occurred) == datetime(2026, 1, 19, 7, minute)
        assert to_db(now) == datetime(2026, 1, 20, 8, 0)
        assert clock._recent.pairs[0][0] is now  # remembered, used last
        assert to_db(wall) == datetime(2026, 11, 29, 15, 0)
        assert [seen for seen, _ in clock._recent.pairs[:2]] == [wall, now]  # neither pushed out


def test_to_db_in_threads_converts_each_threads_own_instants() -> None:
    import threading

    wrong: list[tuple[datetime, datetime]] = []

    def convert(hours: int) -> None:
        mine = [datetime(2026, 3, 29, 0, 30, tzinfo=STOCKHOLM) + timedelta(hours=hours + h) for h in range(3)]
        for _ in range(20_000):
            for dt in mine:
                got = to_db(dt)
                if got != dt.astimezone(UTC).replace(tzinfo=None):
                    wrong.append((dt, got))

    threads = [threading.Thread(target=convert, args=(k * 5,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
