"""subscriptions and digest delivery

Revision ID: 0003_digests
Revises: 0002_moderation
Create Date: 2026-11-25

A delivery becomes one row per digest and chat, its message parts in a JSON list, so a
multi-part digest is claimed, paced and resumed as one unit (`parts_sent` records progress).
`digest_key` alone is unique: a digest window is never enqueued twice for a subscription.
Schema 0001 never shipped with digests switched on, so there are no deliveries to convert;
any stray rows in the old one-row-per-part layout are discarded.

Subscriptions gain a channel's @username, when their last digest went out, and why an
inactive one ended (unsubscribed, blocked the bot, ...).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003_digests"
down_revision: str | None = "0002_moderation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM delivery")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_constraint("uq_delivery_digest_part", type_="unique")
        batch_op.drop_column("text")
        batch_op.drop_column("part")
        batch_op.add_column(sa.Column("texts", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("parts_sent", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_unique_constraint("uq_delivery_digest_key", ["digest_key"])
        batch_op.create_index("ix_delivery_due", ["state", "not_before"], unique=False)

    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("last_digest_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("ended_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_column("ended_reason")
        batch_op.drop_column("last_digest_at")
        batch_op.drop_column("username")

    op.execute("DELETE FROM delivery")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_due")
        batch_op.drop_constraint("uq_delivery_digest_key", type_="unique")
        batch_op.drop_column("parts_sent")
        batch_op.drop_column("texts")
        batch_op.add_column(sa.Column("part", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(
            sa.Column(
                "text", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""
            )
        )
        batch_op.create_unique_constraint("uq_delivery_digest_part", ["digest_key", "part"])
