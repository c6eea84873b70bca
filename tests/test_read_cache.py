"""Read-only units of work and the cache of what they read: no write lock, and no stale answer
after a change made in this process; another process's change shows within STAMP_TTL."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine

import knowledge.storage.cache as cache_mod
from knowledge.read.timeline import TimelineFilter, timeline_page
from knowledge.read.views import EventLine
from knowledge.storage import database
from knowledge.storage.cache import STAMP_TTL
from knowledge.storage.database import read_scope, session_scope, write_epoch
from knowledge.write.curation import IMPORTER, update_entry

pytestmark = pytest.mark.usefixtures("backend")


def _first_line(engine: Engine) -> EventLine:
    with read_scope(engine) as session:
        return timeline_page(session=session, flt=TimelineFilter()).items[0]


def _retitle(engine: Engine, entry_id: int, title: str) -> None:
    with session_scope(engine) as session:
        update_entry(session, entry_id, {"title": title}, author=IMPORTER)


def test_a_change_made_here_shows_at_once(engine: Engine) -> None:
    first = _first_line(engine)
    _retitle(engine, first.id, "Renamed at once")
    assert _first_line(engine).title == "Renamed at once"


def test_a_change_made_elsewhere_shows_within_the_ttl(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.monotonic()  # a clock that waits: a slow machine must not age the stamp
    monkeypatch.setattr(cache_mod.time, "monotonic", lambda: now)
    first = _first_line(engine)  # remembered, with the stamp read now
    epoch = write_epoch()
    _retitle(engine, first.id, "Renamed by another process")
    # As if another process had committed it: this process saw no commit of its own.
    monkeypatch.setattr(database, "_write_epoch", epoch)
    assert _first_line(engine).title == first.title  # the shared stamp is still fresh

    later = time.monotonic() + STAMP_TTL + 0.1
    monkeypatch.setattr(cache_mod.time, "monotonic", lambda: later)
    assert _first_line(engine).title == "Renamed by another process"


def test_reading_takes_no_write_lock(engine: Engine, backend: str) -> None:
    """On SQLite every writing unit of work starts with BEGIN IMMEDIATE; readers must not, or
    a subscriber's /timeline would queue behind the digest worker's writes."""
    writer = engine.connect()
    transaction = writer.begin()  # holds SQLite's write lock (a plain transaction on PostgreSQL)
    result: list[EventLine] = []
    reader = threading.Thread(target=lambda: result.append(_first_line(engine)))
    try:
        reader.start()
        reader.join(timeout=10)  # with the write lock it would wait for the 30 s busy timeout
        assert not reader.is_alive(), "the read waited for the writer"
    finally:
        transaction.rollback()
        writer.close()
        reader.join()
    assert result and result[0].title


def test_commits_of_readers_are_not_counted_as_writes(engine: Engine) -> None:
    before = write_epoch()
    with read_scope(engine) as session:
        timeline_page(session=session, flt=TimelineFilter())
    assert write_epoch() == before
    _retitle(engine, _first_line(engine).id, "Counted")
    assert write_epoch() > before
