"""PostgreSQL's lists of each word's newest documents (knowledge/storage/search_words.py): they
stay exact through every kind of write, a search finds from them what the full-text index
finds, and they don't wear away. SQLite's index needs no lists."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

import knowledge.storage.search_index as search_index
from knowledge.models import Entry, EntryKind
from knowledge.storage.database import session_scope
from knowledge.storage.search_index import (
    SearchResults,
    index_entries,
    index_entry,
    search_entries,
)
from knowledge.storage.search_words import NEWEST

pytestmark = pytest.mark.parametrize("backend", ["postgres"])


def new_entries(session: Session, count: int, slug: str) -> list[int]:
    entries = [Entry(kind=EntryKind.EVENT, slug=f"{slug}-{i}") for i in range(count)]
    session.add_all(entries)
    session.flush()
    return [e.id for e in entries if e.id is not None]


def assert_lists_exact(session: Session) -> dict[str, tuple[int, list[int]]]:
    """Every word's count is its documents', and its list their newest, from the top down."""
    documents: dict[str, list[int]] = {}
    for word, entry_id in session.execute(
        text("SELECT word, entry_id FROM searchdoc, unnest(tsvector_to_array(document)) word")
    ):
        documents.setdefault(word, []).append(entry_id)
    lists = {}
    for word, count, newest in session.execute(text("SELECT word, docs, newest FROM searchword")):
        have = sorted(documents.get(word, []), reverse=True)
        assert count == len(have), word
        assert newest == have[: len(newest)], word  # exact from the newest down
        lists[word] = (count, newest)
    return lists


def search(session: Session, text: str) -> SearchResults:
    """A question's search (window 100), or with "/search " a reader's (window 300)."""
    if text.startswith("/search "):
        return search_entries(session, text.removeprefix("/search "), limit=400)
    return search_entries(session, text, limit=200, any_word=True, window=100)


def from_lists_and_index(
    session: Session, monkeypatch: pytest.MonkeyPatch, questions: list[str]
) -> tuple[list[bool], list[SearchResults], list[SearchResults]]:
    """Which searches the lists answered, what they found, and what the index finds."""
    answered: list[bool] = []
    from_lists = search_index._listed_rows

    def spy(*args: Any) -> Any:
        rows = from_lists(*args)
        answered.append(rows is not None)
        return rows

    with monkeypatch.context() as patch:
        patch.setattr(search_index, "_listed_rows", spy)
        listed = [search(session, q) for q in questions]
        patch.setattr(search_index, "_newest_listed", lambda _lists: None)
        indexed = [search(session, q) for q in questions]
    return answered[: len(questions)], listed, indexed


def test_each_words_newest_documents_stay_exact_through_writes(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Added in a batch and one by one, reworded away and back, retracted: each list still
    holds exactly the newest documents with its word, and searches find from the lists what
    the full-text index finds."""
    many = NEWEST + 40
    with session_scope(engine) as session:
        ids = new_entries(session, many, "qwzx")
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
        lists = assert_lists_exact(session)
        for word, (count, newest) in lists.items():
            # Shorter only by the documents that left the word's newest (three at most here).
            assert min(count, NEWEST) - 3 <= len(newest) <= min(count, NEWEST), word
        count, newest = lists["qwzx"]
        assert count == many - 2 and NEWEST - 2 <= len(newest) < count
        questions = ["qwzx report", "qwzx", "qwzx summit", "report common", "summit vilnius",
                     "/search qwzx", "/search summit"]  # fmt: skip
        answered, listed, indexed = from_lists_and_index(session, monkeypatch, questions)
    # A question's window (100) and /search's for one word (300): the lists hold more than
    # that, the retracted left out.
    assert answered == [True] * len(questions)
    assert listed == indexed
    assert listed[0].total == 100 and listed[0].more
    assert listed[-2].total == search_index.RANK_WINDOW and listed[-2].more
    assert ids[-2] not in {h.entry_id for h in listed[0].hits}


def test_lists_neither_wear_away_nor_stay_short(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rewriting an entry with the same words leaves its place in their lists alone (every
    entry rewritten, oldest first, as a re-import does); a list that loses more documents
    than a search's window can spare is read again from the index."""
    many = NEWEST + 80
    with session_scope(engine) as session:
        ids = new_entries(session, many, "zqjv")
        index_entries(session, [(i, f"Zqjv item {n}", "body") for n, i in enumerate(ids)])
    with session_scope(engine) as session:
        for n, i in enumerate(ids):
            index_entry(session, i, f"Zqjv item {n}", "body")
    with session_scope(engine) as session:
        assert len(assert_lists_exact(session)["zqjv"][1]) == NEWEST
        for i in ids[-40:]:  # the word leaves the newest 40: the list would hold 280
            index_entry(session, i, "Something else", "body")
    with session_scope(engine) as session:
        count, newest = assert_lists_exact(session)["zqjv"]
        assert count == many - 40 and len(newest) >= search_index.RANK_WINDOW + 1
        answered, listed, indexed = from_lists_and_index(
            session, monkeypatch, ["/search zqjv", "zqjv item"]
        )
    assert answered == [True, True] and listed == indexed


def test_two_writers_of_one_entry_take_turns(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second writer waits for the first and counts out what it wrote, so no list keeps an
    entry under a word its document no longer has."""
    with session_scope(engine) as session:
        [entry_id] = new_entries(session, 1, "zqmoon")
        index_entry(session, entry_id, "Plain desk", "analysis varies")
    first = Session(engine)
    second_done = threading.Event()

    def second_writer() -> None:
        with session_scope(engine) as session:
            index_entry(session, entry_id, "Plain desk", "Zqsun rating")
        second_done.set()

    # A daemon, and the first writer closed whatever happens: a failed check must not leave
    # the second waiting on the row lock for good (and the test process with it).
    writer = threading.Thread(target=second_writer, daemon=True)
    try:
        index_entry(first, entry_id, "Zqmoon desk", "analysis varies")  # not yet committed
        writer.start()
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        # Until the second writer waits for the row lock. Each look in a transaction of its
        # own: within one, PostgreSQL answers pg_stat_activity from the snapshot it took first,
        # and the loop would never see the wait (and spend its 30 s every time).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watch:
            for _ in range(3000):
                if watch.execute(text(waiting)).scalar_one() or second_done.wait(0.01):
                    break
        assert not second_done.is_set()
        first.commit()
    finally:
        first.close()
    writer.join(timeout=30)
    assert second_done.is_set()
    with session_scope(engine) as session:
        lists = assert_lists_exact(session)
        assert lists.get("zqmoon", (0, []))[0] == 0 and lists["zqsun"] == (1, [entry_id])
        _, listed, indexed = from_lists_and_index(session, monkeypatch, ["zqmoon"])
    assert listed == indexed and listed[0].hits == []
