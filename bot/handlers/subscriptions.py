"""Subscribers' digest settings: /subscribe, /unsubscribe, /subscription, channels."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the subscription handlers (issue: subscriptions and scheduled digests)."""
