"""likvid.db.among / present: ``column IN values`` as one array parameter on PostgreSQL; strings
go as one array literal, so every string must come back as it was, whatever it holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from likvid.db import among, array_literal, dispose_engines, present, read_session, transaction
from likvid.models import Customer
from likvid.service.app import bootstrap, prepare
from likvid.settings import Settings

AWKWARD = ['plain', 'a,comma', '{brace}', 'quote"d', 'back\\slash', '\\"both', 'NULL', 'null', '', ' spaced ',
           'ÅÄÖ åäö', 'emoji 🧾', "single'quote", 'semi;colon', 'tab\there', 'new\nline', '\\', '"', '{', '}',
           'ends with \\']


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Any]:
    dispose_engines()
    a = bootstrap(Settings.from_env({"LIKVID_HOME": str(tmp_path), "LIKVID_DATABASE_URL": database_url,
                                     "LIKVID_CLOCK": "simulated"}), fresh=True)
    prepare(a)
    yield a
    dispose_engines()


def test_every_string_is_matched_as_it_is(app: Any) -> None:
    stored = [s for s in AWKWARD if s]  # (a customer id is never empty)
    with transaction(app.db) as s:
        for n, cid in enumerate(stored):
            s.add(Customer(id=cid, party_type="person", identity_number=f"19800101{n:04d}", name=f"Kund {n}",
                           address={"street": "Gatan 1", "postal_code": "111 11", "city": "Stad"}, consumer=True,
                           created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1)))
    with read_session(app.db) as s:
        # each value finds exactly itself; look-alikes (other quoting, other case) find nothing
        assert present(s, Customer.id, AWKWARD) == set(stored)
        for cid in stored:
            assert present(s, Customer.id, [cid]) == {cid}
        assert present(s, Customer.id, ['"plain"', 'PLAIN', 'a', 'comma', 'NULL ', 'quote\\"d', 'x']) == set()
        # in chunks, with duplicates
        assert present(s, Customer.id, AWKWARD * 3, chunk=4) == set(stored)
        assert present(s, Customer.id, []) == set()
        assert set(s.scalars(select(Customer.id))) == set(stored)


@pytest.mark.postgres
def test_on_postgresql_the_planner_sees_the_values(postgres_url: str, tmp_path: Path) -> None:
    # A lookup of many ids must be planned for its values (an index scan on a big table), as
    # when psycopg sent a list: an array it has to compute at run time (a cast of text) was
    # planned as an unknown and, with a table's statistics lagging a bulk load, scanned it
    # whole for every message (BENCHMARKS.md, the BgMax import).
    dispose_engines()
    a = bootstrap(Settings.from_env({"LIKVID_HOME": str(tmp_path), "LIKVID_DATABASE_URL": postgres_url,
                                     "LIKVID_CLOCK": "simulated"}), fresh=True)
    prepare(a)
    with read_session(a.db) as s:
        statement = select(Customer.id).where(among(s, Customer.id, ["C1", 'quo"te', "C3"]))
        compiled = statement.compile(dialect=s.get_bind().dialect)
        cur = s.connection().connection.driver_connection.cursor()
        cur.execute("EXPLAIN (VERBOSE, FORMAT JSON) " + str(compiled), compiled.params)
        plan = json.dumps(cur.fetchone()[0])
    dispose_engines()
    assert "$1" not in plan and '{C1,\\"quo\\\\\\"te\\",C3}' in plan, plan


@pytest.mark.postgres
def test_postgresql_sessions_plan_for_their_values_on_cached_pages(postgres_url: str) -> None:
    # likvid.db.POSTGRES_OPTIONS: with the server's random_page_cost of 4, a batch's 1,000 key
    # lookups in a table of 50,000 rows were planned as whole-table scans (BENCHMARKS.md).
    from sqlalchemy import text

    dispose_engines()
    with read_session(postgres_url) as s:
        settings = {name: s.execute(text(f"SHOW {name}")).scalar() for name in ("random_page_cost", "plan_cache_mode")}
    dispose_engines()
    assert settings == {"random_page_cost": "1.1", "plan_cache_mode": "force_custom_plan"}


@pytest.mark.postgres
def test_on_postgresql_integers_are_matched_and_planned_as_values(postgres_url: str, tmp_path: Path) -> None:
    # Case ids go as one text literal cast where they are used (likvid.db.int_array): the
    # custom plan must still see the values, and every id, negative or past 32 bits, find itself.
    from likvid.clock import STOCKHOLM
    from likvid.db import int_array
    from likvid.models import CollectionCase
    from likvid.service.parking import lock_keys
    from tests.support.inline import Inline

    a = Inline.fresh(postgres_url, tmp_path, datetime(2026, 1, 5, 8, 0, tzinfo=STOCKHOLM)).app
    ids = [1, 2, 3, 2**40, 77]
    with transaction(a.db) as s:
        s.add_all(CollectionCase(id=i, customer_id=f"C{i}", creditor_id="kommun", ocr_reference=f"9{i}",
                                 policy_version="1", opened_at=datetime(2026, 1, 1)) for i in ids)
    with transaction(a.db) as s:
        assert set(s.scalars(select(CollectionCase.id).where(among(s, CollectionCase.id, [2**40, 3, 4, -5])))) == {2**40, 3}
        assert set(s.scalars(select(CollectionCase.id).where(among(s, CollectionCase.id, ids)))) == set(ids)
        statement = select(CollectionCase.id).where(among(s, CollectionCase.id, [3, 2**40]))
        compiled = statement.compile(dialect=s.get_bind().dialect)
        cur = s.connection().connection.driver_connection.cursor()
        cur.execute("EXPLAIN (VERBOSE, FORMAT JSON) " + str(compiled), compiled.params)
        plan = json.dumps(cur.fetchone()[0])
        lock_keys(s, ["payment:a", "payment:b"])  # the advisory locks take the same literal
        held = s.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")).scalar()
    dispose_engines()
    assert "$1" not in plan and "{3,1099511627776}" in plan, plan
    assert held == 2
    assert int_array([-1, 0, 2**63 - 1]) == "{-1,0,9223372036854775807}"


@given(st.lists(st.text(max_size=6) | st.sampled_from(['"', "\\", 'a"b', "c\\d", "", "NULL", "{,}"]), max_size=6))
def test_array_literal_writes_every_element_escaped_whether_or_not_one_needs_it(values: list[str]) -> None:
    # The quick path (nothing to escape: one join) writes what escaping each element writes.
    escaped = "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"
    assert array_literal(values) == escaped
