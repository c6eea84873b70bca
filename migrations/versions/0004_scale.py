"""running at scale (update dedupe, health)

No schema change: the `processedupdate` table the webhook dedupe writes (primary key
update_id, indexed `at` for pruning) has existed since 0001_initial, and health and
metrics keep no state. The revision stays so the chain has one step per feature.

Revision ID: 0004_scale
Revises: 0003_digests
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0004_scale"
down_revision: str | None = "0003_digests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
