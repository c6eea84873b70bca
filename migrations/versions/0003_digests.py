"""subscriptions and digest delivery

Revision ID: 0003_digests
Revises: 0002_moderation
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0003_digests"
down_revision: str | None = "0002_moderation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
