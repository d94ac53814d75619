"""The database fixtures give real, working, isolated databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

metadata = sa.MetaData()
notes = sa.Table(
    "fixture_notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("amount_ore", sa.BigInteger, nullable=False),
)


def test_database_url_is_a_working_database(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
            metadata.create_all(conn)
            conn.execute(
                notes.insert(),
                [
                    {"body": "påminnelse", "amount_ore": 6000},
                    {"body": "inkassokrav", "amount_ore": 18000},
                ],
            )
        with engine.connect() as conn:
            rows = conn.execute(sa.select(notes.c.body, notes.c.amount_ore).order_by(notes.c.id))
            assert rows.all() == [("påminnelse", 6000), ("inkassokrav", 18000)]
            total = conn.execute(sa.select(sa.func.sum(notes.c.amount_ore))).scalar_one()
            assert total == 24000
    finally:
        engine.dispose()


def test_database_url_backend_matches_the_param(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    backend = make_url(database_url).get_backend_name()
    expected = "postgresql" if request.node.callspec.id.endswith("postgres") else "sqlite"
    assert backend == expected
    if backend == "postgresql":
        assert make_url(database_url).drivername == "postgresql+psycopg"
        assert request.node.get_closest_marker("postgres") is not None


def test_sqlite_url_lives_in_tmp_path(sqlite_url: str, tmp_path) -> None:
    assert sqlite_url == f"sqlite:///{tmp_path}/likvid.db"
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    assert (tmp_path / "likvid.db").exists()


def test_postgres_url_is_a_fresh_database_per_test(postgres_url: str, postgres_server) -> None:
    url = make_url(postgres_url)
    assert url.drivername == "postgresql+psycopg"
    assert url.database.startswith("t_")
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar_one() == url.database
            # Nothing from other tests: no user tables at all.
            tables = conn.execute(
                sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            ).scalar_one()
            assert tables == 0
    finally:
        engine.dispose()


def test_postgres_databases_are_isolated(postgres_server) -> None:
    """Two per-test databases on the same server do not see each other's tables."""
    name_a, url_a = postgres_server.create_database()
    name_b, url_b = postgres_server.create_database()
    try:
        assert name_a != name_b
        engine_a, engine_b = sa.create_engine(url_a), sa.create_engine(url_b)
        with engine_a.begin() as conn:
            metadata.create_all(conn)
            conn.execute(notes.insert(), {"body": "a", "amount_ore": 1})
        with engine_b.connect() as conn:
            assert not sa.inspect(conn).has_table("fixture_notes")
        # Dropping works even with a connection still open (WITH (FORCE)).
        held = engine_a.connect()
        postgres_server.drop_database(name_a)
        held.invalidate()
        engine_a.dispose()
        engine_b.dispose()
        with postgres_server.connect_admin() as admin:
            names = {
                row[0]
                for row in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 't_%'")
            }
        assert name_a not in names
        assert name_b in names
    finally:
        postgres_server.drop_database(name_a)
        postgres_server.drop_database(name_b)
