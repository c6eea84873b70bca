"""searchword.newest: on PostgreSQL, the newest documents that have each word

Revision ID: 0014_newest_matches
Revises: 0013_languages
Create Date: 2026-12-02

A question ranks the newest matches of any of its words. Finding them through the GIN index
reads one table page per match (thousands for a word in a few per cent of 100,000 entries);
each word's newest documents, kept beside its count, make it a union of short lists:
knowledge/storage/search_words.py explains the lists and how writes keep them exact.
SQLite's full-text index finds them fast enough, so it has no such column. Upgrade with
every process of the earlier version stopped: its writes would count words without their
lists.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014_newest_matches"
down_revision: str | None = "0013_languages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEWEST = 320  # knowledge/storage/search_words.py: NEWEST


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE searchword ADD COLUMN newest integer[] NOT NULL DEFAULT '{}'")
    # Counted afresh with the lists, so that a list and its count agree from the start.
    op.execute("UPDATE searchword SET docs = 0")
    op.execute(
        "INSERT INTO searchword (word, docs, newest) "
        f"SELECT word, count(*), (array_agg(entry_id ORDER BY entry_id DESC))[1:{NEWEST}] "
        "FROM searchdoc, unnest(tsvector_to_array(document)) AS word GROUP BY word "
        "ON CONFLICT (word) DO UPDATE SET docs = EXCLUDED.docs, newest = EXCLUDED.newest"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE searchword DROP COLUMN newest")
