"""languages: the interface language each chat chose with /language

Revision ID: 0013_languages
Revises: 0012_search_words
Create Date: 2026-12-02

A reader's choice is the row of their private chat (its id is the user's); a group's or a
channel's is set by its admins or the bot's moderators. Chats without a row follow Telegram's
language_code, then DEFAULT_LANGUAGE.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013_languages"
down_revision: str | None = "0012_search_words"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chatlanguage",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("set_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name="pk_chatlanguage"),
    )


def downgrade() -> None:
    op.drop_table("chatlanguage")
