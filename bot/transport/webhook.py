"""Webhook mode: the webhook server, the secret token checked on every request.

The server is the bot's own (tornado, as PTB's is) rather than PTB's: it compares the secret in
constant time, and answers a body that isn't an update with 400 (PTB's answers 500), logging
and counting every refusal in /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import signal
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import tornado.web
from telegram import Update
from telegram.error import NetworkError, TimedOut
from telegram.ext import Application
from tornado.httpserver import HTTPServer

from bot.config import Settings
from bot.transport.operations import enable_dedupe, ops_of

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]

# The same update types polling asks for (see bot/__main__.py).
ALLOWED_UPDATES = Update.ALL_TYPES
JSON = "application/json"
# setWebhook attempts at start before giving up (Telegram hiccups should not kill a replica).
SET_WEBHOOK_RETRIES = 5


class _UpdateHandler(tornado.web.RequestHandler):
    """POST <path>: one update from Telegram, queued for the application."""

    def initialize(self, bot_application: App, secret: str) -> None:
        self.app, self.secret = bot_application, secret.encode()

    def _refuse(self, status: int, reason: str) -> None:
        ops_of(self.app).metrics.rejected_updates.labels(reason).inc()
        log.warning("webhook: refused a request (%s)", reason)
        raise tornado.web.HTTPError(status, reason=reason)

    async def post(self) -> None:
        token = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
        if not hmac.compare_digest(token, self.secret):
            self._refuse(403, "secret")
        if self.request.headers.get("Content-Type", "").split(";")[0].strip() != JSON:
            self._refuse(403, "content type")
        try:
            data = json.loads(self.request.body)
            well_formed = isinstance(data, dict) and type(data.get("update_id")) is int
            update = Update.de_json(data, self.app.bot) if well_formed else None
        except Exception:  # whatever the body is, it is not an update
            update = None
        if update is None:
            self._refuse(400, "malformed")
        await self.app.update_queue.put(update)

    def log_exception(self, *args: Any) -> None:  # refusals are logged above, once
        return None


@dataclass
class WebhookServer:
    """A running webhook: where it listens, what Telegram was told, and how to stop it."""

    application: App
    url: str
    host: str
    port: int
    server: HTTPServer | None = None

    async def stop(self) -> None:
        """Stop accepting updates (the webhook stays registered for the other replicas)."""
        if self.server is not None:
            self.server.stop()
            await self.server.close_all_connections()
            self.server = None


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
    e.g. bound to port 0 by a test). A request whose X-Telegram-Bot-Api-Secret-Token header
    is missing or wrong gets 403 before its body is read; a body that is not an update, 400.
    The application must be started (`application.start()`) to process what arrives.
    """
    if not settings.webhook_url or settings.webhook_secret is None:
        raise ValueError("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET")
    if sock is None:
        sock = listening_socket(settings.webhook_listen, settings.webhook_port)
    host, port = sock.getsockname()[:2]
    # The socket is bound before setWebhook, so an update Telegram sends the moment it is
    # registered waits in the backlog.
    enable_dedupe(application)
    secret = settings.webhook_secret.get_secret_value()
    path = urlsplit(settings.webhook_url).path or "/"
    app = tornado.web.Application(
        [(rf"{re.escape(path.rstrip('/'))}/?", _UpdateHandler,
          {"bot_application": application, "secret": secret})]
    )  # fmt: skip
    server = HTTPServer(app, xheaders=True)
    server.add_sockets([sock])
    try:
        await _set_webhook(application, settings.webhook_url, secret)
    except BaseException:
        server.stop()
        sock.close()
        raise
    return WebhookServer(application, settings.webhook_url, host, port, server)


async def _set_webhook(application: App, url: str, secret: str) -> None:
    """setWebhook, retried a few times: a Telegram hiccup at start should not kill a replica."""
    for attempt in range(SET_WEBHOOK_RETRIES + 1):
        try:
            await application.bot.set_webhook(
                url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
            )
            return
        except (NetworkError, TimedOut):
            if attempt == SET_WEBHOOK_RETRIES:
                raise
            log.warning("setWebhook failed; trying again (%s of %s)", attempt + 1,
                        SET_WEBHOOK_RETRIES)  # fmt: skip
            await asyncio.sleep(min(2**attempt, 10))


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
