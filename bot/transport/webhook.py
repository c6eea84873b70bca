"""Webhook mode: PTB's webhook server with the secret token checked on every request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.ext import Application

from bot.config import Settings
from bot.transport.operations import enable_dedupe

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]

# The same update types polling asks for (see bot/__main__.py).
ALLOWED_UPDATES = Update.ALL_TYPES
# setWebhook attempts at start before giving up (Telegram hiccups should not kill a replica).
SET_WEBHOOK_RETRIES = 5


@dataclass
class WebhookServer:
    """A running webhook: where it listens, what Telegram was told, and how to stop it."""

    application: App
    url: str
    host: str
    port: int

    async def stop(self) -> None:
        """Stop accepting updates (the webhook stays registered for the other replicas)."""
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket; port 0 lets the OS choose (tests read it back)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def start_webhook(
    application: App, settings: Settings, *, sock: socket.socket | None = None
) -> WebhookServer:
    """Serve WEBHOOK_URL's path for an initialized application and call setWebhook.

    Listens on WEBHOOK_LISTEN:WEBHOOK_PORT, or on `sock` when given (a listening socket,
    e.g. bound to port 0 by a test). PTB's server answers 403 to a request whose
    X-Telegram-Bot-Api-Secret-Token header is missing or wrong, before reading the update.
    The application must be started (`application.start()`) to process what arrives.
    """
    if not settings.webhook_url or settings.webhook_secret is None:
        raise ValueError("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET")
    updater = application.updater
    if updater is None:
        raise ValueError("the application was built without an Updater")
    if sock is None:
        sock = listening_socket(settings.webhook_listen, settings.webhook_port)
    host, port = sock.getsockname()[:2]
    # The socket is ours, bound before setWebhook, so an update Telegram sends the moment
    # it is registered waits in the backlog. PTB's `unix` argument accepts any socket.
    enable_dedupe(application)
    try:
        await updater.start_webhook(
            url_path=urlsplit(settings.webhook_url).path or "/",
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
            bootstrap_retries=SET_WEBHOOK_RETRIES,
            unix=sock,
        )
    except BaseException:
        sock.close()
        raise
    return WebhookServer(application=application, url=settings.webhook_url, host=host, port=port)


async def serve_webhook(
    application: App,
    settings: Settings,
    stop: asyncio.Event,
    *,
    sock: socket.socket | None = None,
) -> None:
    """The whole webhook lifecycle, as PTB's run_webhook runs it, until `stop` is set."""
    await application.initialize()
    try:
        if application.post_init:
            await application.post_init(application)
        server = await start_webhook(application, settings, sock=sock)
        try:
            await application.start()
            log.info(
                "webhook listening on %s:%s for %s", server.host, server.port, _public(server.url)
            )
            await stop.wait()
            log.info("stopping the webhook")
        finally:
            await server.stop()
            if application.running:
                await application.stop()
            if application.post_stop:
                await application.post_stop(application)
    finally:
        await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)


def run_webhook(application: App, settings: Settings) -> None:
    """`python -m bot` with WEBHOOK_URL set: serve until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
                loop.add_signal_handler(signum, stop.set)
        await serve_webhook(application, settings, stop)

    asyncio.run(main())


def _public(url: str) -> str:
    """The URL without its path, which may hold a secret of the operator's choosing."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…"
