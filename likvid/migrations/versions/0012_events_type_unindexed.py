"""events: drop the index on type, which nothing reads

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 19:10:00.000000

Every stored event (the ingest inbox, one row per accepted event) wrote an entry into
``ix_events_type``, but no query of the service looks events up by type: the inbox is read by
id (duplicates, ``--wait``), and what happened to whom is read from the timeline, which has its
own (type, at) index. One index entry less per event, for every event type.
"""

from __future__ import annotations

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.drop_index('ix_events_type')


def downgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.create_index('ix_events_type', ['type'], unique=False)
