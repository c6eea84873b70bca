"""searchword: every word the full-text index holds, and in how many documents

Revision ID: 0012_search_words
Revises: 0011_sender
Create Date: 2026-12-02

A prefix query ("allianc"*) is asked for as the few whole words it stands for, and
PostgreSQL's search picks how to find the newest matches by how many there are:
knowledge/storage/search_words.py explains both.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_search_words"
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
        sa.Column("docs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("word", name="pk_searchword"),
    )
    if postgres:
        op.execute(
            "INSERT INTO searchword (word, docs) "
            "SELECT word, ndoc FROM ts_stat('SELECT document FROM searchdoc')"
        )
    else:
        # FTS5 lists its own words and counts their documents: exactly what the index holds.
        op.execute(
            "CREATE VIRTUAL TABLE temp.searchdoc_words USING fts5vocab(main, searchdoc, row)"
        )
        op.execute(
            "INSERT INTO searchword (word, docs) SELECT term, doc FROM temp.searchdoc_words"
        )
        op.execute("DROP TABLE temp.searchdoc_words")


def downgrade() -> None:
    op.drop_table("searchword")
