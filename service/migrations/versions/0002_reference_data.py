"""reference data: topics, audiences and the 19 municipalities of Region Midtjylland

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

from service.db import seed

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    topics = sa.table(
        "topics",
        sa.column("slug"), sa.column("name_da"), sa.column("name_en"),
        sa.column("description_da"), sa.column("description_en"),
        sa.column("position"), sa.column("retired"),
    )
    audiences = sa.table("audiences", sa.column("slug"), sa.column("name_da"), sa.column("name_en"), sa.column("position"))
    municipalities = sa.table("municipalities", sa.column("code"), sa.column("name"), sa.column("region_code"))
    op.bulk_insert(topics, seed.topic_rows())
    op.bulk_insert(audiences, seed.audience_rows())
    op.bulk_insert(municipalities, seed.municipality_rows())


def downgrade() -> None:
    op.execute("DELETE FROM municipalities")
    op.execute("DELETE FROM audiences")
    op.execute("DELETE FROM topics")
