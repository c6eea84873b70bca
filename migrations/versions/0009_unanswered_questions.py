"""unanswered questions: what readers asked that the briefing could not answer

Revision ID: 0009_unanswered_questions
Revises: 0008_briefing
Create Date: 2026-12-02

The question text only (no user or chat), kept for GAPS_RETENTION_DAYS and listed by /gaps.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_unanswered_questions"
down_revision: str | None = "0008_briefing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unansweredquestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("unsure", sa.Boolean(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_unansweredquestion"),
    )
    op.create_index("ix_unansweredquestion_text", "unansweredquestion", ["text"], unique=False)
    op.create_index(
        "ix_unansweredquestion_asked_at", "unansweredquestion", ["asked_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_unansweredquestion_asked_at", table_name="unansweredquestion")
    op.drop_index("ix_unansweredquestion_text", table_name="unansweredquestion")
    op.drop_table("unansweredquestion")
