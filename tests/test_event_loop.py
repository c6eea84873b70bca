"""The event loop only waits: database work runs in worker threads, so a unit of work stuck on
a lock delays its own update and nothing else (the full-size form is in docs/BENCHMARKS.md)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, create_engine, text

from knowledge.storage.database import normalise_url
from tests.harness import BotHarness

pytestmark = pytest.mark.usefixtures("backend")

WRITER_CHAT, READER_CHAT = 3001, 3002
HELD = 0.6  # seconds the write lock is held after the other chat is answered


@contextmanager
def write_lock_held(engine: Engine, backend: str) -> Iterator[None]:
    """Another connection holds what a /search must write to (it saves its text)."""
    if backend == "sqlite":
        path = engine.url.database
        assert path
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # SQLite's one write lock
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    other_engine = create_engine(normalise_url(engine.url.render_as_string(hide_password=False)))
    try:
        with other_engine.connect() as connection:
            connection.execute(text("BEGIN"))
            connection.execute(text("LOCK TABLE savedquery IN ACCESS EXCLUSIVE MODE"))
            yield
            connection.execute(text("ROLLBACK"))
    finally:
        other_engine.dispose()


class LoopLag:
    """Samples how late the event loop runs a callback scheduled every 5 ms."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, time.perf_counter() - started - 0.005)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._sample())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def test_a_held_write_lock_stalls_only_the_update_that_needs_it(
    harness: BotHarness, engine: Engine, backend: str
) -> None:
    await harness.send("/timeline", chat_id=READER_CHAT)  # an answer now in the reply cache
    with write_lock_held(engine, backend), LoopLag() as lag:
        blocked = asyncio.create_task(harness.send("/search nato", chat_id=WRITER_CHAT))
        await asyncio.sleep(0)  # the search starts and hands its unit of work to a thread
        started = time.perf_counter()
        answered = await harness.send("/timeline", chat_id=READER_CHAT)
        reader_seconds = time.perf_counter() - started
        assert not blocked.done(), "the search should still be waiting for the lock"
        # The lock stays held a while longer: a loop that waited for it would lag that long.
        await asyncio.sleep(HELD)
    searched = await asyncio.wait_for(blocked, 10)

    assert answered and "Timeline" in answered[0].text
    # Bounds far above a loaded machine's jitter and far below the time the lock is held.
    assert reader_seconds < HELD / 2
    assert lag.worst < HELD / 2
    assert searched and "nato" in searched[0].text.lower()
