"""Engines and transactions for SQLite (the embedded default) and PostgreSQL.

SQLite serves several processes (workers, scheduler, relay, the command line): WAL mode, a
generous busy timeout, and ``BEGIN IMMEDIATE`` so a writer takes the lock when its
transaction starts instead of failing half-way when it first writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    TypeDecorator,
    and_,
    any_,
    create_engine,
    event,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from likvid import jsontext

#: Milliseconds a SQLite writer waits for the lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 60_000


def is_sqlite(url_or_engine: str | Engine) -> bool:
    url = url_or_engine if isinstance(url_or_engine, str) else str(url_or_engine.url)
    return url.startswith("sqlite")


def make_engine(url: str) -> Engine:
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            json_serializer=jsontext.dumps, json_deserializer=jsontext.loads,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # Let SQLAlchemy, not the driver, decide when a transaction begins.
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    _register_array_text()
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True,
                           connect_args={"options": POSTGRES_OPTIONS},
                           json_serializer=jsontext.dumps, json_deserializer=jsontext.loads)
    # Many rows inserted at once (an executemany: a set-based run's timers, timeline entries,
    # letter links, and the ORM's flush of new claims or letters) go as multi-row INSERTs of
    # up to a thousand rows, as SQLAlchemy already sends those with RETURNING ("insertmany-
    # values"), not as one statement per row: PostgreSQL starts an executor, takes a snapshot
    # and (plan_cache_mode below) plans once per statement. bench/profile_stages.py: 13-17%
    # less of PostgreSQL's CPU for the burst of invoices to reminders.
    engine.dialect.use_insertmanyvalues_wo_returning = True
    return engine


#: Planner settings for this service's sessions on PostgreSQL. Every statement is planned for
#: its values (a batch's array of keys), never from a generic plan. And a page read at random
#: costs about what one read in sequence does (``random_page_cost`` 1.1, the usual setting for
#: a database on SSD or in memory; the server default 4 assumes spinning disks): with 4, a set-
#: based batch's 1,000 key lookups in tables of 50,000-100,000 rows were planned as whole-table
#: scans (auto_explain in bench/bgmax_import.py: 24-46 ms each instead of about 2).
POSTGRES_OPTIONS = "-c plan_cache_mode=force_custom_plan -c random_page_cost=1.1"


_ENGINES: dict[str, Engine] = {}
_MAKERS: dict[str, sessionmaker[Session]] = {}


def engine_for(url: str) -> Engine:
    """One engine per URL and process."""
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = make_engine(url)
    return engine


def _sessionmaker(url: str) -> sessionmaker[Session]:
    maker = _MAKERS.get(url)
    if maker is None:
        maker = _MAKERS[url] = sessionmaker(
            bind=engine_for(url), expire_on_commit=False, autoflush=True
        )
    return maker


@contextmanager
def transaction(url: str) -> Iterator[Session]:
    """A session in one transaction: committed on normal exit, rolled back on an exception."""
    session = _sessionmaker(url)()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


@contextmanager
def read_session(url: str) -> Iterator[Session]:
    """A session for reading; nothing it does is committed."""
    session = _sessionmaker(url)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def dispose_engines() -> None:
    """Drop pooled connections (after a fork, or in tests between databases)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()
    _MAKERS.clear()


#: Values per IN list: PostgreSQL takes at most 65,535 parameters in one statement, and a
#: file published at once may hold more events than that.
IN_CHUNK = 10_000


def among(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``: one parameter instead of one
    per value (the driver parses every placeholder of a long IN list, and the statement text
    is the same whatever the number of values)."""
    values = list(values)
    if is_sqlite(session.get_bind()):
        return column.in_(values)  # type: ignore[no-any-return]
    if values and all(type(v) is str for v in values):
        # Strings go as one array literal: psycopg's array dumper costs a Python call per
        # element, several times this join (a set-based run sends 1,000s). It goes as a typed
        # array parameter, which the server reads when it binds it, so the planner sees the
        # values as it does a list's (not an expression it cannot look into).
        return column == any_(literal(_ArrayText(array_literal(values)), _text_array(column.type)))  # type: ignore[no-any-return]
    if values and all(type(v) is int for v in values):
        # Integers (case ids) likewise: the server casts the literal's elements when it binds
        # the parameter, and the custom plan sees the values as constants.
        return column == any_(literal(int_array(values), _text_array(column.type)))  # type: ignore[no-any-return]
    return column == any_(literal(values, ARRAY(column.type)))  # type: ignore[no-any-return]


def among_pairs(session: Session, outer: Any, inner: Any, pairs: Iterable[tuple[Any, Any]]) -> ColumnElement[bool]:
    """``(outer, inner) IN pairs`` as ``outer = o AND inner IN (...)`` per distinct ``o``. A
    row-value IN list is planned from the statistics: with them behind a bulk load, PostgreSQL
    took the index for ``outer`` alone and tested every pair on every row of it (17-38 ms per
    statement for 100 invoices in bench/pipeline_burst.py). Grouped, both columns of a
    two-column index bound the scan whatever the statistics say."""
    grouped: dict[Any, list[Any]] = {}
    for o, i in pairs:
        grouped.setdefault(o, []).append(i)
    return or_(*(and_(outer == o, among(session, inner, sorted(set(vs)))) for o, vs in sorted(grouped.items())))


def array_literal(values: Iterable[str]) -> str:
    """PostgreSQL's text form of a one-dimensional array of ``values``: each element quoted,
    with ``\\`` and ``"`` escaped, so that any string (a comma, a brace, NULL) is taken as it is."""
    values = list(values)
    probe = "".join(values)
    if '"' not in probe and "\\" not in probe:  # the usual ids: nothing to escape (one search)
        return '{"' + '","'.join(values) + '"}' if values else "{}"
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def int_array(values: Iterable[int]) -> _ArrayText:
    """Integers as one array literal sent as a ``text[]`` parameter (cast where it is used, as
    ``CAST(:p AS bigint[])``): one join instead of psycopg's array dumper, a Python call per
    element (a set-based run sends 1,000s)."""
    return _ArrayText("{" + ",".join(map(str, values)) + "}")


class _ArrayText(str):
    """An array literal (``array_literal``) that psycopg sends as a ``text[]`` parameter."""


@cache
def _register_array_text() -> None:
    """Teach psycopg to send an ``_ArrayText`` as a ``text[]`` parameter. Done when the first
    PostgreSQL engine is made, so that a process on SQLite never imports psycopg."""
    import psycopg
    from psycopg.adapt import Dumper

    class ArrayTextDumper(Dumper):
        oid = psycopg.postgres.types["text"].array_oid

        def dump(self, obj: str) -> bytes:
            return obj.encode("utf-8")

    psycopg.adapters.register_dumper(_ArrayText, ArrayTextDumper)


class _TextArray(TypeDecorator[Any]):
    """``ARRAY(item_type)`` in the statement (its bind cast) for a value that is already an
    ``_ArrayText``: no per-element processing of the value."""

    impl = ARRAY
    cache_ok = True

    def bind_processor(self, dialect: Any) -> None:
        return None


@lru_cache(maxsize=256)  # (bounded: an expression's type may be made afresh each time)
def _text_array(item_type: Any) -> _TextArray:
    """The ``_TextArray`` of a column's type, made once per column: SQLAlchemy builds a type
    decorator's comparator class on first use and keeps it on the instance, so a new instance
    per statement built it again each time (``among`` took 157 µs instead of 94 for two values,
    medians of seven alternated timings; a payment batch calls it about twenty times)."""
    return _TextArray(item_type)


def present(session: Session, column: Any, values: Sequence[Any], chunk: int = IN_CHUNK) -> set[Any]:
    """Which of ``values`` occur in ``column``, looked up ``chunk`` values at a time."""
    found: set[Any] = set()
    for i in range(0, len(values), chunk):
        found.update(session.scalars(select(column).where(among(session, column, values[i : i + chunk]))))
    return found
