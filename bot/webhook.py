"""Webhook mode: PTB's webhook server with the secret token checked on every request."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from telegram import Update
from telegram.ext import Application

from bot.config import Settings


def run_webhook(
    application: Application[Any, Any, Any, Any, Any, Any], settings: Settings
) -> None:
    assert settings.webhook_url and settings.webhook_secret
    path = urlparse(settings.webhook_url).path.lstrip("/")
    application.run_webhook(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path=path,
        webhook_url=settings.webhook_url,
        secret_token=settings.webhook_secret.get_secret_value(),
        allowed_updates=Update.ALL_TYPES,
    )
