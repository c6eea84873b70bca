"""moderation (moderators, audit, drafts)

Revision ID: 0002_moderation
Revises: 0001_initial
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0002_moderation"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
