"""Shared fixtures: REAL servers only (no fakeredis, no mocks).

Fixtures (keep this list in sync when adding one):

=================  ========  ==========================================================
``redis_server``   session   a running, non-persistent :class:`RedisServer` (own tmp dir)
``redis_url``      function  ``redis://127.0.0.1:PORT/0`` of that server, FLUSHALLed first
``postgres_server`` session  :class:`tests.support.postgres.PostgresServer`: the server from
                             ``$LIKVID_TEST_POSTGRES_URL`` or a throwaway cluster
``postgres_url``   function  SQLAlchemy URL of a fresh, empty database on it, dropped after
``sqlite_url``     function  ``sqlite:///<tmp_path>/likvid.db``
``database_url``   function  parametrized: ``sqlite_url`` and ``postgres_url``
                             (test ids ``[sqlite]`` / ``[postgres]``: ``-k postgres`` selects)
=================  ========  ==========================================================

Tests using PostgreSQL are marked ``postgres`` automatically (``-m "not postgres"`` skips
them). When no PostgreSQL can be found or started they are skipped locally, but FAIL when
``$CI`` is set: in CI a missing server must never pass silently.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

# Make `tests.support` importable however pytest was started (`uv run pytest` does not put
# the repository root on sys.path).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from likvid.runtime.redis_server import RedisServer  # noqa: E402
from tests.support.postgres import (  # noqa: E402
    PostgresServer,
    PostgresUnavailable,
    start_postgres,
)


@pytest.fixture(scope="session", autouse=True)
def _capture_logs() -> Iterator[None]:
    """Keep every log line for `tests/unit/test_zz_log_scan.py` (no identity number unmasked)."""
    from tests.support import logscan

    handler = logscan.install()
    yield
    logging.getLogger().removeHandler(handler)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> NoReturn:
    """Skip locally; fail in CI."""
    if _in_ci():
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


# --------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the whole session (non-persistent, noeviction)."""
    # die_with_parent: a killed pytest does not leave the server behind.
    server = RedisServer(tmp_path_factory.mktemp("redis"), persistent=False, die_with_parent=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """URL of the session's Redis, emptied (FLUSHALL) before the test (started again if a
    fault-injection test stopped or killed it)."""
    from tests.support.pipeline import emptied_redis

    yield emptied_redis(redis_server)


# --------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server: ``$LIKVID_TEST_POSTGRES_URL``, else a throwaway cluster."""
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        _unavailable(f"no PostgreSQL for the tests: {exc}")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh empty database (``t_<random>``) for this test; dropped (FORCE) afterwards."""
    name, url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in the test's own tmp dir."""
    return f"sqlite:///{tmp_path}/likvid.db"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """The test runs twice: once on SQLite, once on a fresh PostgreSQL database."""
    return str(request.getfixturevalue(f"{request.param}_url"))


# --------------------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses PostgreSQL directly with ``postgres``."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "postgres_url" in names or "postgres_server" in names:
            item.add_marker(pytest.mark.postgres)
