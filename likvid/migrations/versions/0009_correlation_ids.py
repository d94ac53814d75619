"""correlation ids on outbox messages, timers and letters

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 07:10:00.000000

The inbound event id a message, timer or letter follows from (likvid.correlation). Nullable:
rows written before, and work no event started (a CLI hold, the scheduler's own cycle), have
none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TABLES = ('outbox', 'timers', 'letters')


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column('correlation_id', sa.String(length=100), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('correlation_id')
