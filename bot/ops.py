"""Operations: update dedupe, health and metrics endpoints."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application

App = Application[Any, Any, Any, Any, Any, Any]


def register_early(application: App) -> None:
    """Handlers in group -1 (update dedupe, metrics) that must see every update first."""


async def start(application: App) -> None:
    """Start the health/metrics server when HEALTH_PORT is set."""


async def stop(application: App) -> None:
    """Stop the health/metrics server."""
