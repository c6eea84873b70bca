"""The full-text index's word list: a prefix asked for as the words it starts finds exactly
what the prefix finds, on SQLite and on PostgreSQL, after curation writes too."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from knowledge.models import Entry, EntryKind
from knowledge.storage.database import is_postgres, session_scope
from knowledge.storage.search_index import (
    EXPANSION,
    has_word,
    search_entries,
    words_of,
    words_starting,
)
from knowledge.write.curation import IMPORTER, update_entry

pytestmark = pytest.mark.usefixtures("backend")


def _prefix_matches(session: Session, prefix: str) -> set[int]:
    """What the index itself finds for a prefix, asked for as a prefix."""
    if is_postgres(session):
        statement = "SELECT entry_id FROM searchdoc WHERE document @@ to_tsquery('simple', :q)"
        query = f"'{prefix}':*"
    else:
        statement = "SELECT rowid FROM searchdoc WHERE searchdoc MATCH :q"
        query = f'"{prefix}"*'
    return {int(i) for (i,) in session.execute(text(statement), {"q": query})}


def _prefixes(session: Session) -> list[str]:
    titles = session.execute(text("SELECT title FROM searchdoc")).scalars()
    words = {w for title in titles for w in words_of(title) if w.isascii() and w.isalnum()}
    return sorted({w[:n] for w in words for n in (2, 3, 5, 8) if len(w) >= n})


def test_a_prefix_as_its_words_finds_what_the_prefix_finds(engine: Engine) -> None:
    with session_scope(engine) as session:
        prefixes = _prefixes(session)
        assert len(prefixes) > 200
        expanded = 0
        for prefix in prefixes:
            found = search_entries(session, prefix, limit=1000, any_word=True)
            wanted = _prefix_matches(session, prefix)
            hits = {h.entry_id for h in found.hits}
            hidden = set(session.exec(select(Entry.id).where(Entry.state != "published")))
            assert hits == wanted - hidden, prefix
            assert has_word(session, prefix) == bool(wanted), prefix
            expanded += words_starting(session, prefix) is not None
    # Most prefixes of three or more letters start few words: they are asked for whole.
    assert expanded > len(prefixes) // 2


def test_words_of_a_changed_entry_join_the_list(engine: Engine) -> None:
    with session_scope(engine) as session:
        event_id = session.exec(select(Entry.id).where(Entry.kind == EntryKind.EVENT)).first()
        assert event_id is not None
        assert words_starting(session, "zyxwvut") is None
        update_entry(session, event_id, {"title": "Zyxwvuts and Zyxwvutq meet"}, author=IMPORTER)
    with session_scope(engine) as session:
        assert words_starting(session, "zyxwvut") == ["zyxwvutq", "zyxwvuts"]
        found = search_entries(session, "zyxwvut", limit=5, any_word=True)
        assert [h.entry_id for h in found.hits] == [event_id]


def test_a_prefix_of_many_words_stays_a_prefix(engine: Engine) -> None:
    with session_scope(engine) as session:
        starts = session.execute(
            text("SELECT count(*) FROM searchword WHERE word >= 'a' AND word < 'b'")
        ).scalar_one()
        assert starts > EXPANSION
        assert words_starting(session, "a") is None
        assert words_starting(session, "кий") is None  # not plain letters: asked as a prefix
