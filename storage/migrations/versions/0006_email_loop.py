"""email loop (issue 14): sent/received mail, re-surveys and opt-outs

Revision ID: 0006
Revises: 0005
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'mailmessage',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('followup_id', sa.Integer(), nullable=True),
        sa.Column('actor_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column('body', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('raw', sa.LargeBinary(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['followup_id'], ['followup.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('direction', 'message_id', name='uq_mail_message_direction_id'),
    )
    with op.batch_alter_table('mailmessage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mailmessage_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_mailmessage_followup_id'), ['followup_id'], unique=False)

    op.create_table(
        'resurvey',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('followup_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=True),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('response_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id']),
        sa.ForeignKeyConstraint(['followup_id'], ['followup.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('followup_id'),
    )
    with op.batch_alter_table('resurvey', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resurvey_customer_id'), ['customer_id'], unique=False)

    op.create_table(
        'mailoptout',
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id']),
        sa.PrimaryKeyConstraint('customer_id'),
    )


def downgrade() -> None:
    op.drop_table('mailoptout')
    with op.batch_alter_table('resurvey', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resurvey_customer_id'))
    op.drop_table('resurvey')
    with op.batch_alter_table('mailmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mailmessage_followup_id'))
        batch_op.drop_index(batch_op.f('ix_mailmessage_at'))
    op.drop_table('mailmessage')
