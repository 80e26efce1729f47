"""figures parts (one per table and period, joined into one figures item) and the release calendar

Revision ID: 0004
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import service.db.base
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('release_calendar',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('tables', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('at', service.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('moved_from', service.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('moves', sa.Integer(), nullable=False),
    sa.Column('follow_up', sa.Text(), nullable=False),
    sa.Column('follow_up_at', service.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('seen_at', service.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('late_at', service.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', service.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', service.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_release_calendar'))
    )
    with op.batch_alter_table('release_calendar', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_release_calendar_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_release_calendar_period'), ['period'], unique=False)

    op.create_table('figures_parts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('group_key', sa.String(length=64), nullable=False),
    sa.Column('table_id', sa.String(length=32), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('measure', sa.String(length=8), nullable=False),
    sa.Column('unit', sa.String(length=32), nullable=False),
    sa.Column('updated', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('first_seen_at', service.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('changed_at', service.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_figures_parts_item_id_items'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_figures_parts_source_id_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_figures_parts')),
    sa.UniqueConstraint('source_id', 'period', name=op.f('uq_figures_parts_source_id_period'))
    )
    with op.batch_alter_table('figures_parts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_figures_parts_group_key'), ['group_key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('figures_parts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_figures_parts_group_key'))

    op.drop_table('figures_parts')
    with op.batch_alter_table('release_calendar', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_release_calendar_period'))
        batch_op.drop_index(batch_op.f('ix_release_calendar_at'))

    op.drop_table('release_calendar')
