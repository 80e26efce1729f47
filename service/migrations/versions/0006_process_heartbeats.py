"""process heartbeats: every `budbringer run` process's roles and when it last came round (`budbringer status`)

Revision ID: 0006
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

import service.db.base

revision = '0006'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('process_heartbeats',
    sa.Column('id', sa.String(length=160), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('roles', sa.String(length=100), nullable=False),
    sa.Column('started_at', service.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('seen_at', service.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', service.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('healthy', sa.Boolean(), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_heartbeats'))
    )
    with op.batch_alter_table('process_heartbeats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_heartbeats_seen_at'), ['seen_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('process_heartbeats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_heartbeats_seen_at'))

    op.drop_table('process_heartbeats')
