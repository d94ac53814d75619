"""claims: index the case alone, and leave half of each page free, so a change of status or
stage updates the row in place

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 13:40:00.000000

A claim's status and stage change a few times in its life (due, reminded, demanded,
settled). With both in ``ix_claims_case_stage`` every such change wrote a new entry into each
of the claim's five indexes: a settled payment's ``UPDATE claims`` cost about 27 µs of server
time a row in the BgMax profile. Now the case alone is indexed (a case holds a handful of
claims: the index still finds them, and status and stage are tested on those rows), and on
PostgreSQL inserts fill half of each page. A billing run's claims lie side by side and fall
due, are reminded and are paid together, so one transaction changes most rows of a page: the
page needs room for a new version of every row on it. Then each such update is heap-only
(touches no index): 7-8 µs a row, and 18,000 of 18,000 in place in ``bench/profile_import.py``
(3,841 with a fill factor of 85). The table takes twice the pages; the fill factor applies to
pages written from now on.
"""

from __future__ import annotations

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

#: Percent of each claims page that inserts fill; the rest is for updated row versions.
CLAIMS_FILLFACTOR = 50


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
