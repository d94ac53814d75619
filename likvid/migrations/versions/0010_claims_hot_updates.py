"""claims: index the case alone, and leave room on each page, so a change of status or stage
updates the row in place

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 13:40:00.000000

A claim's status and stage change a few times in its life (due, reminded, demanded,
settled). With both in ``ix_claims_case_stage`` every such change wrote a new entry into each
of the claim's five indexes; a settled payment's ``UPDATE claims`` cost about 27 µs of server
time a row, a third of everything a BgMax payment costs PostgreSQL besides its inserts.
Indexed on ``case_id`` alone (a case holds a handful of claims: the index still finds them,
and status and stage are tested on those rows) and with a fill factor of 85 on PostgreSQL
(room on the page for the new version), such an update is a heap-only tuple update that
touches no index. The fill factor applies to pages written from now on.
"""

from __future__ import annotations

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

#: Percent of each claims page that inserts fill; the rest is for updated row versions.
CLAIMS_FILLFACTOR = 85


def upgrade() -> None:
    with op.batch_alter_table('claims') as batch:
        batch.drop_index('ix_claims_case_stage')
        batch.create_index('ix_claims_case', ['case_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'ALTER TABLE claims SET (fillfactor = {CLAIMS_FILLFACTOR})')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE claims RESET (fillfactor)')
    with op.batch_alter_table('claims') as batch:
        batch.drop_index('ix_claims_case')
        batch.create_index('ix_claims_case_stage', ['case_id', 'status', 'stage'], unique=False)
