"""What every handler needs: settings and engine in `bot_data`, and units of work off the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session
from telegram.ext import Application, ContextTypes

from bot.config import Settings
from knowledge.storage.database import read_scope, session_scope

DEPS_KEY = "briefing_deps"
T = TypeVar("T")


@dataclass
class Deps:
    settings: Settings
    engine: Engine


def deps_of(
    context: ContextTypes.DEFAULT_TYPE | Application[Any, Any, Any, Any, Any, Any],
) -> Deps:
    data = context.bot_data
    return data[DEPS_KEY]


async def run_db(
    context: ContextTypes.DEFAULT_TYPE | Application[Any, Any, Any, Any, Any, Any],
    work: Callable[[Session], T],
    *,
    write: bool = False,
) -> T:
    """Run one unit of work — open a session, `work(session)`, commit — on a worker thread.

    The event loop only waits: a slow query or a held write lock delays this update alone,
    never the other chats, the webhook or /healthz. `write=False` reads without taking
    SQLite's write lock; a unit that may write must say `write=True`.
    """
    engine = deps_of(context).engine
    return await in_thread(engine, unit_of_work, engine, work, write)


def unit_of_work(engine: Engine, work: Callable[[Session], T], write: bool) -> T:
    with (session_scope if write else read_scope)(engine) as session:
        return work(session)


async def in_thread(engine: Engine, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)`, blocking database work, in a worker thread. An in-memory SQLite
    (one shared connection) stays on the loop: two threads must not use it at once."""
    if isinstance(engine.pool, StaticPool):
        return fn(*args, **kwargs)
    return await asyncio.to_thread(fn, *args, **kwargs)
