"""Engines and transactions for SQLite (the embedded default) and PostgreSQL.

SQLite serves several processes (workers, scheduler, relay, the command line): WAL mode, a
generous busy timeout, and ``BEGIN IMMEDIATE`` so a writer takes the lock when its
transaction starts instead of failing half-way when it first writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    String,
    any_,
    cast,
    create_engine,
    event,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

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
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True,
                         connect_args={"options": "-c plan_cache_mode=force_custom_plan"})


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
        # Strings go as one array literal the server parses: the driver's array dumper costs
        # a Python call per element, several times this join (a set-based run has 1,000s).
        return column == any_(cast(literal(array_literal(values), String), ARRAY(column.type)))  # type: ignore[no-any-return]
    return column == any_(literal(values, ARRAY(column.type)))  # type: ignore[no-any-return]


def array_literal(values: Iterable[str]) -> str:
    """PostgreSQL's text form of a one-dimensional array of ``values``: each element quoted,
    with ``\\`` and ``"`` escaped, so that any string (a comma, a brace, NULL) is taken as it is."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def present(session: Session, column: Any, values: Sequence[Any], chunk: int = IN_CHUNK) -> set[Any]:
    """Which of ``values`` occur in ``column``, looked up ``chunk`` values at a time."""
    found: set[Any] = set()
    for i in range(0, len(values), chunk):
        found.update(session.scalars(select(column).where(among(session, column, values[i : i + chunk]))))
    return found
