"""subscriber imports: a CSV import written in the background, with its progress (issue 17)

Revision ID: 0005
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import service.db.base

revision = '0005'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('subscriber_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('consent_source', sa.String(length=200), nullable=False),
    sa.Column('started_by', sa.String(length=320), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('started_at', service.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', service.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', service.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriber_imports'))
    )


def downgrade() -> None:
    op.drop_table('subscriber_imports')
