"""The schema comes only from Alembic migrations, and they match the models on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from likvid.db import dispose_engines, engine_for
from likvid.migrate import current_revision, upgrade
from likvid.models import Base


def test_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    dispose_engines()
    upgrade(database_url)
    assert current_revision(database_url) is not None
    with engine_for(database_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    upgrade(database_url)  # idempotent
    dispose_engines()
