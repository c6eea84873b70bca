"""Scheduling (JobQueue) and delivery of digests: rate limits, retries, bookkeeping."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application

App = Application[Any, Any, Any, Any, Any, Any]


def register(application: App) -> None:
    """Handlers that belong to digests (e.g. /digest for moderators)."""


async def start(application: App) -> None:
    """Rebuild schedules from the database and start delivering."""


async def stop(application: App) -> None:
    """Stop delivering, leaving the outbox consistent."""
