"""What every handler needs, kept in `application.bot_data` under one typed key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from telegram.ext import Application, ContextTypes

from bot.config import Settings
from knowledge.storage.database import read_scope, session_scope

DEPS_KEY = "briefing_deps"


@dataclass
class Deps:
    settings: Settings
    engine: Engine


def deps_of(
    context: ContextTypes.DEFAULT_TYPE | Application[Any, Any, Any, Any, Any, Any],
) -> Deps:
    data = context.bot_data
    return data[DEPS_KEY]  # type: ignore[no-any-return]


@asynccontextmanager
async def db_session(context: ContextTypes.DEFAULT_TYPE) -> AsyncIterator[Session]:
    """One database session for one update: committed when the handler succeeds."""
    with session_scope(deps_of(context).engine) as session:
        yield session


@asynccontextmanager
async def read_session(context: ContextTypes.DEFAULT_TYPE) -> AsyncIterator[Session]:
    """One database session for an update that only reads (no write lock on SQLite)."""
    with read_scope(deps_of(context).engine) as session:
        yield session
