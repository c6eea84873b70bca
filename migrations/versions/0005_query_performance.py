"""query performance at 100,000 events (issue 2, section 7)

Two indexes that let lists be read in order instead of sorted: a source's citations by entry
(what `/sources <name>` lists, and how many entries cite each source, counted from the index
alone), and actors by kind and name (`/who` without a name).

Revision ID: 0005_query_performance
Revises: 0004_scale
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_query_performance"
down_revision: str | None = "0004_scale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("citation", schema=None) as batch_op:
        batch_op.create_index("ix_citation_source_entry", ["source_id", "entry_id"], unique=False)
    with op.batch_alter_table("actor", schema=None) as batch_op:
        batch_op.create_index("ix_actor_kind_name", ["kind", "name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("actor", schema=None) as batch_op:
        batch_op.drop_index("ix_actor_kind_name")
    with op.batch_alter_table("citation", schema=None) as batch_op:
        batch_op.drop_index("ix_citation_source_entry")
