"""briefing: what the knowledge base was curated from

Revision ID: 0008_briefing
Revises: 0007_chronology
Create Date: 2026-12-01

The `briefing:` block of a curated file (its title, what it covers, where it comes from) was
read and dropped; it is kept now, so /about can tell a newcomer what they are reading.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008_briefing"
down_revision: str | None = "0007_chronology"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "briefing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_briefing"),
        sa.UniqueConstraint("slug", name="uq_briefing_slug"),
    )


def downgrade() -> None:
    op.drop_table("briefing")
