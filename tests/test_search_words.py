"""The full-text index's word list: a prefix asked for as the words it starts finds exactly
what the prefix finds, on SQLite and on PostgreSQL, after curation writes too."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from knowledge.models import Entry, EntryKind
from knowledge.storage.database import is_postgres, session_scope
from knowledge.storage.search_index import (
    SearchResults,
    have_words,
    index_entries,
    index_entry,
    search_entries,
    words_of,
)
from knowledge.storage.search_words import EXPANSION, NEWEST, Prefix, prefixes_words
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


@pytest.mark.parametrize("backend", ["postgres"])  # SQLite's index needs no lists
def test_each_words_newest_documents_stay_exact_through_writes(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL keeps each word's newest documents beside its count (NEWEST of them). Added
    in a batch and one by one, reworded away and back, retracted: each list still holds
    exactly the newest documents with its word, and a question's search finds from the lists
    what the full-text index finds."""
    import knowledge.storage.search_index as search_index

    many = NEWEST + 40
    with session_scope(engine) as session:
        entries = [Entry(kind=EntryKind.EVENT, slug=f"qwzx-{i}") for i in range(many)]
        session.add_all(entries)
        session.flush()
        ids = [e.id for e in entries if e.id is not None]
        index_entries(session, [(i, f"Qwzx report {n}", "common body") for n, i in
                                enumerate(ids[:-40])])  # fmt: skip
        for n, i in enumerate(ids[-40:], start=many - 40):
            index_entry(session, i, f"Qwzx report {n}", "common body")
        # The word leaves the newest, one in the middle of the list and the oldest; one comes
        # back; two entries are retracted.
        for i in (ids[-1], ids[-20], ids[0]):
            index_entry(session, i, "Other report", "plain body")
        index_entry(session, ids[-20], "Qwzx again", "plain body")
        for i in (ids[-2], ids[-30]):
            session.get_one(Entry, i).state = "retracted"
    with session_scope(engine) as session:
        documents: dict[str, list[int]] = {}
        for word, entry_id in session.execute(
            text("SELECT word, entry_id FROM searchdoc, unnest(tsvector_to_array(document)) word")
        ):
            documents.setdefault(word, []).append(entry_id)
        checked = 0
        for word, count, newest in session.execute(
            text("SELECT word, docs, newest FROM searchword WHERE docs > 0")
        ):
            have = sorted(documents[word], reverse=True)
            assert count == len(have), word
            assert newest == have[: len(newest)], word  # exact from the newest down
            # Shorter only by the documents that left the word's newest (three at most here).
            assert min(count, NEWEST) - 3 <= len(newest) <= min(count, NEWEST), word
            checked += 1
        assert checked > 100
        qwzx = session.execute(text("SELECT docs, newest FROM searchword WHERE word = 'qwzx'"))
        count, newest = qwzx.one()
        assert count == many - 2 and NEWEST - 2 <= len(newest) < count
        questions = ["qwzx report", "qwzx", "qwzx summit", "report common", "summit vilnius",
                     "/search qwzx", "/search summit"]  # fmt: skip
        answered: list[bool] = []
        from_lists = search_index._listed_rows

        def spy(*args: Any) -> Any:
            rows = from_lists(*args)
            answered.append(rows is not None)
            return rows

        monkeypatch.setattr(search_index, "_listed_rows", spy)
        # A question's window (100), and /search for one word (300): the lists hold more than
        # that, the retracted left out.
        listed = [search(session, q) for q in questions]
        assert answered == [True] * len(questions)
        monkeypatch.setattr(search_index, "_newest_listed", lambda _lists: None)
        indexed = [search(session, q) for q in questions]
        assert answered[len(questions) :] == [False] * len(questions)
    assert listed == indexed
    assert listed[0].total == 100 and listed[0].more
    assert listed[-2].total == search_index.RANK_WINDOW and listed[-2].more
    assert ids[-2] not in {h.entry_id for h in listed[0].hits}


def search(session: Session, text: str) -> SearchResults:
    if text.startswith("/search "):
        return search_entries(session, text.removeprefix("/search "), limit=400)
    return search_entries(session, text, limit=200, any_word=True, window=100)
