"""translations: entries' text in another language than the curated English

Revision ID: 0010_translations
Revises: 0009_unanswered_questions
Create Date: 2026-12-02

Events' titles and summaries, actors' names, roles and descriptions and sources' names and
reliability notes may be given in Ukrainian too: one row per entry, language and field.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_translations"
down_revision: str | None = "0009_unanswered_questions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "translation",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["entry.id"], name="fk_translation_entry_id_entry"),
        sa.PrimaryKeyConstraint("entry_id", "language", "field", name="pk_translation"),
    )


def downgrade() -> None:
    op.drop_table("translation")
