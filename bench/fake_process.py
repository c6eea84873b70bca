"""The fake Bot API in a process of its own, as Telegram is remote: its CPU doesn't compete
with the bot's event loop (only for the machine's cores). Shared by the delivery benchmarks."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

from aiohttp import ClientSession

from tests.fakebotapi import FakeBotAPI


class FakeProcess:
    """Runs `serve(queue)` in a spawned process; `serve` puts the fake's URL on the queue."""

    def __init__(self, serve: Callable[[Any], None]) -> None:
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        self.process = context.Process(target=serve, args=(queue,), daemon=True)
        self.process.start()
        self.url: str = queue.get(timeout=60)
        self.token = FakeBotAPI().token

    async def call(self, method: str, **params: Any) -> Any:
        """One call of a Bot API method (the benchmarks' own ones too); its result."""
        async with (
            ClientSession() as session,
            session.post(f"{self.url}/bot{self.token}/{method}", json=params) as response,
        ):
            return (await response.json())["result"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)


def percentile(samples: list[float], share: float) -> float:
    """The `share` percentile of samples in seconds, in milliseconds (nan when empty)."""
    ordered = sorted(samples)
    return ordered[int(share * (len(ordered) - 1))] * 1000 if ordered else float("nan")
