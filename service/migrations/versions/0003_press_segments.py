"""press segments: named filters of the press contact list that a release can be sent to

Revision ID: 0003
Revises: 0004

(0003 was this change's reserved number; 0004 landed first, so this one follows it.)
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import service.db.base

revision = "0003"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "press_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("filter", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", service.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_press_segments")),
        sa.UniqueConstraint("name", name=op.f("uq_press_segments_name")),
    )


def downgrade() -> None:
    op.drop_table("press_segments")
