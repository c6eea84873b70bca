"""The fake Bot API in a process of its own, as Telegram is remote: its CPU doesn't compete
with the bot's event loop (only for the machine's cores). Shared by the delivery benchmarks."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import ClientSession

from bot.config import EventLoop
from bot.transport.runtime import choose_loop, loop_factory
from tests.fakebotapi import FakeBotAPI

T = TypeVar("T")


def run_on_bot_loop(
    main: Coroutine[Any, Any, T], rate: float = 1000, kind: EventLoop = "auto"
) -> T:
    """`asyncio.run` on the event loop the bot picks when deployed at `BROADCAST_RATE` =
    `rate` (bot/transport/runtime.py: uvloop above 30 a second). The delivery benchmarks run
    the bot, the `AIORateLimiter` loop they compare it with, and the fake Bot API on it: the
    fake stands in for Telegram, which is remote, so it runs on uvloop at every limit (the
    default `rate`): the less CPU it takes from the two cores the bot shares with it, the
    closer the figures are to a bot with a core of its own."""
    factory = loop_factory(choose_loop(kind, rate))
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


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
