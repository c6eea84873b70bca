"""How the bot's process runs: its event loop, and its garbage collector after start-up.

The event loop: every message the bot sends or receives is a few callbacks and socket calls
on it. At Telegram's free 30 messages a second that is nothing; at a thousand a second (paid
broadcasts) it is most of a core on asyncio's own loop, written in Python. uvloop runs the
same asyncio code on libuv at a fraction of that per callback and per socket call
(docs/BENCHMARKS.md, issue 12), for 2.2 MB more resident memory. `EVENT_LOOP=auto` (the
default) takes uvloop when `BROADCAST_RATE` is above 30 and it is installed (Linux, macOS),
else asyncio's loop, which keeps the bot within its 100 MB when idle at the free rate;
`uvloop` or `asyncio` choose for good.

The garbage collector: a full collection walks every object the process holds, most of them
made at start-up (modules, PTB's and SQLAlchemy's machinery, the caches) and alive for good.
With a broadcast making objects by the ten thousand, full collections come every few seconds
and each stopped the event loop for up to 130 ms: a hundred digests not sent at 1,000 a
second, and every command waiting. `settle_after_start` collects once and freezes what is
left (`gc.freeze`): later collections walk only what was made since.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from typing import Literal

from bot.config import EventLoop

log = logging.getLogger(__name__)

FREE_RATE = 30.0  # messages a second Telegram allows without paid broadcasts


def choose_loop(kind: EventLoop, broadcast_rate: float) -> Literal["uvloop", "asyncio"]:
    """`auto`: uvloop above the free rate (where the loop's own cost is what limits), else
    asyncio's loop."""
    if kind == "auto":
        return "uvloop" if broadcast_rate > FREE_RATE else "asyncio"
    return kind


def loop_factory(kind: EventLoop = "uvloop") -> Callable[[], asyncio.AbstractEventLoop]:
    """What makes a new event loop of this kind: uvloop's when asked for and installed."""
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:  # Windows, or a build without it: the standard loop does the same
            log.info("uvloop is not installed; running on asyncio's own event loop")
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def use_loop(kind: EventLoop, broadcast_rate: float = FREE_RATE) -> None:
    """Make loops of this kind the process's default (`asyncio.run`, PTB's `run_polling`)."""
    if loop_factory(choose_loop(kind, broadcast_rate)) is not asyncio.new_event_loop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        log.info("running on uvloop")


def settle_after_start() -> None:
    """Collect what starting up left behind, then keep everything alive now out of later
    collections (it stays alive: freezing only spares the collector walking it again)."""
    gc.collect()
    gc.freeze()
