"""lean response indexes (issue 13): every insert of a large import maintains fewer B-trees

`ix_response_submitted_at` is a prefix of `ix_response_submitted_segment`, which serves the same
queries; `ix_response_followup_id` keeps only the answers that have a follow-up.

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_NULL = sa.text("followup_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.drop_index('ix_response_submitted_at')
        batch_op.drop_index('ix_response_followup_id')
        batch_op.create_index('ix_response_followup_id', ['followup_id'], unique=False,
                              sqlite_where=NOT_NULL, postgresql_where=NOT_NULL)


def downgrade() -> None:
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.drop_index('ix_response_followup_id')
        batch_op.create_index('ix_response_followup_id', ['followup_id'], unique=False)
        batch_op.create_index('ix_response_submitted_at', ['submitted_at'], unique=False)
