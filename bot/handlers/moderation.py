"""Moderators' commands: add, edit, retract, history, undo, import/export, review, audit."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the moderation handlers (issue: moderators curate the knowledge base in chat)."""


async def publish_admin_menus(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Scoped command menus for owners and moderators."""
