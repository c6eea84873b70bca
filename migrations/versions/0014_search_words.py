"""searchword: every word the full-text index holds, for turning a prefix into its words

Revision ID: 0014_search_words
Revises: 0011_sender
Create Date: 2026-12-02

A prefix query ("allianc"*) makes SQLite's FTS5 merge the lists of every word it starts, and
PostgreSQL's GIN index read them all, before anything is ranked: at 100,000 entries a common
word costs 10–20 ms. The same query as the few whole words it stands for ("alliance" OR
"alliances") costs a quarter of that. This table lists the index's words, so a prefix can be
looked up in it first (knowledge/storage/search_index.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_search_words"
down_revision: str | None = "0011_sender"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # Byte order on PostgreSQL too, so that a range of the index is the words of a prefix
    # whatever the database's collation.
    word = sa.String(collation="C") if postgres else sa.String()
    op.create_table(
        "searchword",
        sa.Column("word", word, nullable=False),
        sa.PrimaryKeyConstraint("word", name="pk_searchword"),
    )
    if postgres:
        op.execute(
            "INSERT INTO searchword (word) SELECT DISTINCT unnest(tsvector_to_array(document)) "
            "FROM searchdoc ON CONFLICT DO NOTHING"
        )
    else:
        # FTS5 lists its own words: exactly what the index holds.
        op.execute(
            "CREATE VIRTUAL TABLE temp.searchdoc_words USING fts5vocab(main, searchdoc, row)"
        )
        op.execute("INSERT OR IGNORE INTO searchword (word) SELECT term FROM temp.searchdoc_words")
        op.execute("DROP TABLE temp.searchdoc_words")


def downgrade() -> None:
    op.drop_table("searchword")
