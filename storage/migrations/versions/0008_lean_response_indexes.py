"""lean response indexes (issue 13): every insert of a large import maintains one B-tree fewer

`ix_response_submitted_at` is a prefix of `ix_response_submitted_segment`, which serves the same
queries.

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.drop_index('ix_response_submitted_at')


def downgrade() -> None:
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.create_index('ix_response_submitted_at', ['submitted_at'], unique=False)
