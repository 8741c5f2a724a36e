"""hardening (issue 11): staff names and ids sized for platform limits; the command inbox

Revision ID: 0003
Revises: 0002

Entra display names go up to 256 characters and Teams user ids (`29:…`, Entra object ids) are
long, so the columns holding people are widened (bot/limits.py bounds what may be written).
`inbox` holds every acknowledged Slack command until it has been applied (bot/inbox.py).
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WIDER = (
    ('followup', 'claimant_id', 200, 300, True),
    ('followup', 'claimant_name', 200, 256, True),
    ('event', 'actor_id', 200, 300, False),
    ('event', 'actor_name', 200, 256, False),
    ('subscription', 'created_by', 200, 300, True),
)


def upgrade() -> None:
    for table, column, old, new, nullable in _WIDER:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.VARCHAR(length=old), type_=sa.VARCHAR(length=new),
                                  existing_nullable=nullable)
    op.create_table(
        'inbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('lease_owner', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('request_key'),
    )
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.create_index('ix_inbox_pending', ['status', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_pending')
    op.drop_table('inbox')
    for table, column, old, new, nullable in reversed(_WIDER):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.VARCHAR(length=new), type_=sa.VARCHAR(length=old),
                                  existing_nullable=nullable)
