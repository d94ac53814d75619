"""outbox: compress large payloads with lz4 (PostgreSQL)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 18:20:00.000000

An outbox row's payload is a whole batch: an ingest message of up to 1,000 events, or the
outbound events a batch of payments raised, a few hundred kilobytes of JSON. PostgreSQL
compresses a value that large before storing it, by default with its own pglz, which took
4-7 ms of server CPU per row in ``bench/profile_import.py --statements`` (the import's
``INSERT INTO outbox`` and each payment batch's ``COPY outbox``). lz4 does the same several
times faster, and decompresses faster for the relay. Only where the server was built with
lz4 (PostgreSQL 14 or later, as Debian's and the official images are); elsewhere nothing
changes. Rows already stored keep the compression they were written with.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _lz4_supported() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return False
    return bool(bind.execute(text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar())


def upgrade() -> None:
    if _lz4_supported():
        op.execute('ALTER TABLE outbox ALTER COLUMN payload SET COMPRESSION lz4')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE outbox ALTER COLUMN payload SET COMPRESSION DEFAULT')
