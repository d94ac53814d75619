"""outbox: notify the relay when rows are written (PostgreSQL)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 07:00:00.000000

A statement-level trigger sends ``NOTIFY likvid_outbox`` for every statement that inserts
outbox rows (INSERT or COPY). PostgreSQL delivers it when the transaction commits, once per
transaction however many statements sent it, so the relay wakes the moment there is
something to publish instead of polling for it. SQLite has no notifications: the relay
polls there, as before.
"""

from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

#: The channel the relay listens on (likvid.workers.relay.CHANNEL).
CHANNEL = "likvid_outbox"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"CREATE FUNCTION likvid_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION likvid_outbox_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS likvid_outbox_notify()")
