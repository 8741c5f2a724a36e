"""routing (issue 16)

Revision ID: 0005
Revises: 0004
"""
from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401
from alembic import op  # noqa: F401

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_arr', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('theme', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('tag_filter', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('alerts_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('duty', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('escalate_to', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
        batch_op.add_column(sa.Column('escalate_after_minutes', sa.Integer(), nullable=True))
    with op.batch_alter_table('followup', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'escalation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('followup_id', sa.Integer(), nullable=False),
        sa.Column('subscription_id', sa.Integer(), nullable=False),
        sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['followup_id'], ['followup.id']),
        sa.ForeignKeyConstraint(['subscription_id'], ['subscription.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('followup_id', 'subscription_id', name='uq_escalation_rule'),
    )
    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalation_followup_id'), ['followup_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_escalation_followup_id'))
    op.drop_table('escalation')
    with op.batch_alter_table('followup', schema=None) as batch_op:
        batch_op.drop_column('snoozed_until')
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        for name in ('escalate_after_minutes', 'escalate_to', 'duty', 'alerts_since', 'tag_filter',
                     'theme', 'min_arr'):
            batch_op.drop_column(name)
