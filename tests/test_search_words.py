"""The full-text index's word list: a prefix asked for as the words it starts finds exactly
what the prefix finds, on SQLite and on PostgreSQL, after curation writes too."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from knowledge.models import Entry, EntryKind
from knowledge.storage.database import is_postgres, session_scope
from knowledge.storage.search_index import (
    have_words,
    search_entries,
    words_of,
)
from knowledge.storage.search_words import EXPANSION, Prefix, prefixes_words
from knowledge.write.curation import IMPORTER, update_entry

pytestmark = pytest.mark.usefixtures("backend")


def prefix_words(session: Session, term: str) -> Prefix:
    return prefixes_words(session, [term])[0]


def has_word(session: Session, term: str) -> bool:
    return have_words(session, [term])[term]


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
            expanded += prefix_words(session, prefix).words is not None
    # Most prefixes of three or more letters start few words: they are asked for whole.
    assert expanded > len(prefixes) // 2


def test_the_words_of_a_changed_entry_are_counted_in_and_out(engine: Engine) -> None:
    with session_scope(engine) as session:
        event_id = session.exec(select(Entry.id).where(Entry.kind == EntryKind.EVENT)).first()
        assert event_id is not None
        assert prefix_words(session, "zyxwvut") == Prefix(None, 0)
        update_entry(session, event_id, {"title": "Zyxwvuts and Zyxwvutq meet"}, author=IMPORTER)
    with session_scope(engine) as session:
        assert prefix_words(session, "zyxwvut") == Prefix(["zyxwvutq", "zyxwvuts"], 2)
        found = search_entries(session, "zyxwvut", limit=5, any_word=True)
        assert [h.entry_id for h in found.hits] == [event_id]
        assert has_word(session, "zyxwvu")
        # Edited again, the words are no document's any more: counted out, not offered.
        update_entry(session, event_id, {"title": "Summit talks resume"}, author=IMPORTER)
    with session_scope(engine) as session:
        assert prefix_words(session, "zyxwvut") == Prefix(None, 0)
        assert not has_word(session, "zyxwvu")
        assert search_entries(session, "zyxwvut", limit=5, any_word=True).hits == []


def test_a_prefix_of_many_words_stays_a_prefix(engine: Engine) -> None:
    with session_scope(engine) as session:
        starts = session.execute(
            text("SELECT count(*) FROM searchword WHERE word >= 'a' AND word < 'b'")
        ).scalar_one()
        assert starts > EXPANSION
        many = prefix_words(session, "a")
        assert many.words is None and many.documents is not None and many.documents > EXPANSION
        assert prefix_words(session, "кий") == Prefix(None, None)  # not plain: a prefix


def test_both_ways_of_finding_the_newest_matches_agree(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL finds a rare query's matches through the GIN index, a common one's by walking
    the entries down: the same hits either way (on SQLite there is one way)."""
    import knowledge.storage.search_index as search_index

    queries = ["summit", "vilnius summit", "nato", "sanctions talks", "yermak", "kyiv"]
    with session_scope(engine) as session:
        rare = [
            search_entries(session, q, limit=20, any_word=w)
            for q in queries
            for w in (False, True)
        ]
    monkeypatch.setattr(search_index, "SELECTIVE", -1)
    with session_scope(engine) as session:
        common = [
            search_entries(session, q, limit=20, any_word=w) for q in queries for w in (0, 1)
        ]
    assert rare == common
    assert sum(len(r.hits) for r in rare) > 30
