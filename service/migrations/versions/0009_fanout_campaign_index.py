"""only campaign messages in the deliveries' campaign index (issue 19)

A fan-out's alerts and a digest run's digests have no campaign, yet every one of them
was written into `ix_deliveries_campaign_id` as a NULL entry: one index insert in six
for the ~33,000 alerts of a 100,000-subscriber fan-out, for an index nothing reads them
by. Every lookup by campaign names one (`campaign_id = …`, `IN (…)`, the key's
SET NULL when a campaign goes), so the index now holds only the deliveries that have one.

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_campaign_id")
        batch_op.create_index("ix_deliveries_campaign_id", ["campaign_id"], unique=False,
                              postgresql_where=sa.text("campaign_id IS NOT NULL"),
                              sqlite_where=sa.text("campaign_id IS NOT NULL"))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_campaign_id")
        batch_op.create_index("ix_deliveries_campaign_id", ["campaign_id"], unique=False)
