"""records.record_rows: the timeline row and the outbound event of one happening, as column
values; what it remembers between calls (the last instant's text) never changes what it writes."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from likvid.clock import STOCKHOLM, isoformat, to_db
from likvid.service.records import Stamps, jsonable, outbound_rows, record_rows, wall_now


def test_a_settled_claim_gives_its_timeline_row_and_its_outbound_event() -> None:
    now = datetime(2026, 1, 20, 9, 0, tzinfo=STOCKHOLM)
    timeline, outbox = record_rows(now, "claim-settled", claim_id="INV1", customer_id="C1", case_id=5,
                                   how="paid", cancelled_steps=1, paid_on=date(2026, 1, 19), correlation_id="E1")
    assert timeline == {"at": to_db(now), "type": "claim-settled", "claim_id": "INV1", "customer_id": "C1",
                        "case_id": 5, "details": {"how": "paid", "cancelled_steps": 1, "paid_on": "2026-01-19"},
                        "basis": None}
    assert outbox is not None
    payload = outbox["payload"]
    assert payload["occurred_at"] == "2026-01-20T09:00:00+01:00" and payload["correlation_id"] == "E1"
    assert payload["data"] == {"invoice_id": "INV1", "customer_id": "C1", "how": "paid", "cancelled_steps": 1,
                               "paid_on": "2026-01-19"}


_instants = st.lists(st.sampled_from([
    datetime(2026, 10, 25, 2, 30, tzinfo=STOCKHOLM),
    datetime(2026, 10, 25, 2, 30, tzinfo=STOCKHOLM, fold=1),  # equal to the one before, an hour later
    datetime(2026, 3, 29, 3, 30, tzinfo=STOCKHOLM),
    datetime(2026, 1, 1, 12, 0, tzinfo=STOCKHOLM) + timedelta(microseconds=5),
]), max_size=12)


@given(_instants)
def test_the_remembered_text_is_always_the_instants_own(instants: list[datetime]) -> None:
    for dt in instants + instants:
        assert isoformat(dt) == dt.isoformat()


def test_jsonable_writes_dates_and_keeps_nesting() -> None:
    value = {"a": 1, "b": None, "c": [date(2026, 1, 2), {"d": datetime(2026, 1, 2, 3, 4, tzinfo=STOCKHOLM)}],
             "e": (True, 1.5)}
    assert jsonable(value) == {"a": 1, "b": None, "c": ["2026-01-02", {"d": "2026-01-02T03:04:00+01:00"}],
                               "e": [True, 1.5]}


def test_rows_from_stamps_are_the_rows_from_the_instants() -> None:
    # A set-based path converts its instants once (Stamps) for thousands of rows: the rows are
    # those record_rows writes from the instants themselves, but for their random ids.
    now, wall = datetime(2026, 10, 25, 2, 30, tzinfo=STOCKHOLM, fold=1), wall_now()
    stamps = Stamps.of(now, wall)
    for type_ in ("claim-settled", "step-cancelled"):
        kw = {"claim_id": "INV1", "customer_id": "C1", "case_id": 5, "how": "paid", "paid_on": date(2026, 1, 19),
              "at": datetime(2026, 1, 19, 8, 0, tzinfo=STOCKHOLM), "correlation_id": "E1"}
        before = to_db(wall_now())
        plain, fast = record_rows(now, type_, **kw), record_rows(now, type_, stamps=stamps, **kw)
        after = to_db(wall_now())
        assert plain[0] == fast[0] and plain[0]["at"] == to_db(now)
        assert plain[0]["details"]["at"] == "2026-01-19T08:00:00+01:00"
        if plain[1] is None:
            assert fast[1] is None
            continue
        assert fast[1] is not None
        # (The ids are random; without stamps the outbox row's time is the system clock's.)
        drop = lambda row: {**row, "id": None, "created_at": None, "payload": {**row["payload"], "id": None}}  # noqa: E731
        assert drop(plain[1]) == drop(fast[1])
        assert before <= plain[1]["created_at"] <= after
        assert fast[1]["created_at"] == to_db(wall) and fast[1]["payload"]["occurred_at"] == now.isoformat()


def test_outbox_rows_get_their_ids_where_they_are_written() -> None:
    # record_rows leaves the outbox row's id to the writer: outbound_rows gives each row it
    # writes (one per 500 events, or one event alone) an id of its own.
    now = datetime(2026, 1, 20, 9, 0, tzinfo=STOCKHOLM)
    written = [record_rows(now, "claim-settled", claim_id=f"I{n}", how="paid")[1] for n in range(1001)]
    assert all(w is not None and "id" not in w for w in written)
    rows = outbound_rows([w for w in written if w is not None])
    assert [len(r["payload"].get("events", [r["payload"]])) for r in rows] == [500, 500, 1]
    assert len({r["id"] for r in rows}) == 3 and all(len(r["id"]) == 32 for r in rows)
