"""sender: what each process of the bot has sent, for one send budget per bot token

Revision ID: 0011_sender
Revises: 0010_translations
Create Date: 2026-12-02

Telegram's ~30 messages a second is per bot, whichever process sends. Replicas on one
PostgreSQL database publish their counts here so each keeps to what the others leave.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011_sender"
down_revision: str | None = "0010_translations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sender",
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("replies", sa.BigInteger(), nullable=False),
        sa.Column("digests", sa.BigInteger(), nullable=False),
        sa.Column("floods", sa.BigInteger(), nullable=False),
        sa.Column("digest_rate", sa.Float(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker", name="pk_sender"),
    )
    op.create_index("ix_sender_seen_at", "sender", ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sender_seen_at", table_name="sender")
    op.drop_table("sender")
