"""history storms (issue 13): the alert-storm summaries of bot/storms.py

Revision ID: 0004
Revises: 0003
"""
from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401
from alembic import op  # noqa: F401

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alertstorm',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('message_ref', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alertstorm', schema=None) as batch_op:
        batch_op.create_index('ix_alertstorm_channel_started', ['platform', 'channel_id', 'started_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('alertstorm', schema=None) as batch_op:
        batch_op.drop_index('ix_alertstorm_channel_started')
    op.drop_table('alertstorm')
