"""The send budget: time as the worker sees it, and a token bucket for the bot-wide rate."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime


class Clock:
    """Wall time for the database, monotonic time and sleeping for pacing."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class TokenBucket:
    """At most `rate` acquisitions a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, clock: Clock, burst: float | None = None) -> None:
        self.rate = rate
        self.clock = clock
        # A burst of a twentieth of a second's worth keeps high rates smooth without
        # letting a low rate (30/s) send more than one message at once.
        self.capacity = burst if burst is not None else max(1.0, rate / 20)
        self.tokens = self.capacity
        self.stamp = clock.monotonic()

    async def acquire(self) -> None:
        while True:
            now = self.clock.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1 - 1e-9:  # (float rounding must not leave us a hair short)
                self.tokens -= 1
                return
            await self.clock.sleep((1 - self.tokens) / self.rate)
