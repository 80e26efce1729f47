"""English descriptions of the seeded topics

The taxonomy the topics were seeded from (0002) has Danish descriptions only, so the
English signup page listed the topics without the line under each name that the Danish
one has. This gives the eleven seeded topics their English description where none has
been written; a description an admin wrote is kept, and so is every topic an admin added.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

DESCRIPTIONS = {
    "ledighedstal": "The monthly unemployment figures for the region and each municipality.",
    "analyser": "Analyses, labour market monitoring and the annual analysis report.",
    "resultater": "Follow-up on the job centres' effects and results.",
    "best-practice": "Good examples and methods that give the best results.",
    "retningslinjer": "Guidelines for the administrative areas the job centres must follow.",
    "flaskehalse": "Demand for labour, bottleneck areas and education.",
    "virksomheder": "Rules and news for companies on notice of large redundancies, work sharing and work permits.",
    "beskaeftigelsesplan": "The planning process, the employment plan and the minister's targets.",
    "forsoeg": "An overview of trials and development activities and their results.",
    "arrangementer": "The annual conference on the analysis report, network meetings and other events.",
    "presse": "The council's press releases.",
}

topics = sa.table("topics", sa.column("slug"), sa.column("description_en"))


def upgrade() -> None:
    for slug, text in DESCRIPTIONS.items():
        op.execute(topics.update().where(topics.c.slug == slug, topics.c.description_en == "")
                   .values(description_en=text))


def downgrade() -> None:
    for slug, text in DESCRIPTIONS.items():
        op.execute(topics.update().where(topics.c.slug == slug, topics.c.description_en == text)
                   .values(description_en=""))
