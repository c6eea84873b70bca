"""Full-text search over entries: SQLite FTS5 or PostgreSQL tsvector, one interface.

The index holds one document per entry (title + body). The curation write path calls
`index_entry` after every change, so the index never drifts from the entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from alembic import op
from sqlalchemy import text
from sqlmodel import Session

from knowledge.db import is_postgres
from knowledge.text import fold

_TOKEN = re.compile(r"\w+", re.UNICODE)


def create_search_index() -> None:
    """Create the dialect's index (called from the initial migration)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE TABLE searchdoc (
                entry_id INTEGER PRIMARY KEY REFERENCES entry(id),
                title TEXT NOT NULL,
                body TEXT NOT NULL,
                document tsvector GENERATED ALWAYS AS (
                    setweight(to_tsvector('simple', title), 'A') ||
                    setweight(to_tsvector('simple', body), 'B')
                ) STORED
            )
            """
        )
        op.execute("CREATE INDEX ix_searchdoc_document ON searchdoc USING GIN (document)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE searchdoc USING fts5("
            "title, body, tokenize = 'unicode61 remove_diacritics 2')"
        )


def drop_search_index() -> None:
    op.execute("DROP TABLE IF EXISTS searchdoc")


def _document_text(value: str) -> str:
    # Index the original words and their transliterated fold, so Київ finds Kyiv and back.
    folded = fold(value)
    return f"{value} {folded}" if folded and folded != value.casefold() else value


def index_entry(session: Session, entry_id: int, title: str, body: str) -> None:
    """Insert or replace an entry's search document."""
    title, body = _document_text(title), _document_text(body)
    if is_postgres(session):
        session.execute(
            text(
                "INSERT INTO searchdoc (entry_id, title, body) VALUES (:id, :title, :body) "
                "ON CONFLICT (entry_id) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body"
            ),
            {"id": entry_id, "title": title, "body": body},
        )
    else:
        session.execute(text("DELETE FROM searchdoc WHERE rowid = :id"), {"id": entry_id})
        session.execute(
            text("INSERT INTO searchdoc (rowid, title, body) VALUES (:id, :title, :body)"),
            {"id": entry_id, "title": title, "body": body},
        )


def index_entries(session: Session, documents: Iterable[tuple[int, str, str]]) -> None:
    """Add many new entries' documents at once (entry id, title, body), shaped as `index_entry`
    shapes them; for bulk loads of entries that have no document yet."""
    rows = [
        {"id": entry_id, "title": _document_text(title), "body": _document_text(body)}
        for entry_id, title, body in documents
    ]
    column = "entry_id" if is_postgres(session) else "rowid"
    statement = text(
        f"INSERT INTO searchdoc ({column}, title, body) VALUES (:id, :title, :body)"
    )
    for start in range(0, len(rows), 5_000):
        session.execute(statement, rows[start : start + 5_000])


def search_terms(query: str) -> list[str]:
    """The words of a user's query, folded; punctuation and operators never reach SQL."""
    words: list[str] = []
    for token in _TOKEN.findall(query.casefold()):
        words.extend(fold(token).split() or [token])
    seen: list[str] = []
    for word in words:
        if word not in seen:
            seen.append(word)
    return seen[:12]


@dataclass(frozen=True)
class SearchHit:
    entry_id: int
    rank: float


def search_entries(
    session: Session, query: str, *, limit: int, offset: int = 0
) -> tuple[list[SearchHit], int]:
    """Published entries matching every word of `query` (prefix match), best first, and a count."""
    terms = search_terms(query)
    if not terms:
        return [], 0
    if is_postgres(session):
        tsquery = " & ".join(f"{_pg_quote(t)}:*" for t in terms)
        where = (
            "FROM searchdoc s JOIN entry e ON e.id = s.entry_id "
            "WHERE s.document @@ to_tsquery('simple', :q) AND e.state = 'published'"
        )
        total = session.execute(text(f"SELECT count(*) {where}"), {"q": tsquery}).scalar_one()
        rows = session.execute(
            text(
                f"SELECT s.entry_id, ts_rank(s.document, to_tsquery('simple', :q)) AS r {where} "
                "ORDER BY r DESC, s.entry_id LIMIT :limit OFFSET :offset"
            ),
            {"q": tsquery, "limit": limit, "offset": offset},
        ).all()
        return [SearchHit(int(r[0]), float(r[1])) for r in rows], int(total)
    match = " ".join(f'"{t}"*' for t in terms)
    where = (
        "FROM searchdoc JOIN entry e ON e.id = searchdoc.rowid "
        "WHERE searchdoc MATCH :q AND e.state = 'published'"
    )
    total = session.execute(text(f"SELECT count(*) {where}"), {"q": match}).scalar_one()
    rows = session.execute(
        text(
            f"SELECT searchdoc.rowid, bm25(searchdoc, 4.0, 1.0) AS r {where} "
            "ORDER BY r, searchdoc.rowid LIMIT :limit OFFSET :offset"
        ),
        {"q": match, "limit": limit, "offset": offset},
    ).all()
    # bm25 is lower-is-better; flip it so callers always read higher as better.
    return [SearchHit(int(r[0]), -float(r[1])) for r in rows], int(total)


def _pg_quote(term: str) -> str:
    return "'" + term.replace("'", "''").replace("\\", "") + "'"
