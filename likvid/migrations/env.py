"""Alembic environment: the URL comes from the caller (``likvid migrate``), never from an ini file."""

from __future__ import annotations

from alembic import context

from likvid.db import engine_for
from likvid.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = engine_for(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
