"""A clock the tests move by hand: sleeping advances it at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.delivery.budget import Clock


class ManualClock(Clock):
    """A clock that moves only when told to (or when something sleeps on it): for tests."""

    def __init__(
        self, start: datetime | None = None, *, settle: Callable[[], bool] | None = None
    ) -> None:
        self.start = start or datetime.now(UTC)
        self.elapsed = 0.0
        # On this clock a request's round trip takes no time, yet it runs on the event loop
        # while the sender sleeps: `settle()` says every message sent so far has reached the
        # fake, and time moves on only then (else the fake would see a send late, and two
        # sends a window apart closer than they left).
        self.settle = settle

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    async def sleep(self, seconds: float) -> None:
        for _ in range(10_000):  # a bound, should a send never arrive (a failed test)
            if self.settle is None or self.settle():
                break
            await asyncio.sleep(0)
        self.advance(seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.elapsed += max(0.0, seconds)
