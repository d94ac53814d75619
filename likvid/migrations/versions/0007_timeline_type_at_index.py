"""timeline (type, at) index for the report and the risk list

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 05:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_timeline_type_at', 'timeline', ['type', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_timeline_type_at', table_name='timeline')
