"""The /healthz and /metrics HTTP server."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, text
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.context import deps_of
from bot.transport.metrics import SCRAPE_TIMEOUT

log = logging.getLogger(__name__)

DATABASE_TIMEOUT = 2.0  # seconds /healthz waits for SELECT 1


def ping_database(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


class SingleFlight:
    """Run a blocking call in a worker thread, at most one at a time; callers share it.

    A hung database must not pile up one thread per probe, so a probe still running is
    awaited again rather than started twice.
    """

    def __init__(self, call: Callable[[], Any]) -> None:
        self._call = call
        self._task: asyncio.Future[Any] | None = None

    async def __call__(self, timeout: float) -> Any:  # noqa: ASYNC109 - the timeout is the point
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(asyncio.to_thread(self._call))
        return await asyncio.wait_for(asyncio.shield(self._task), timeout)


class HealthState(Protocol):
    """What the health server reads of an application's operational state."""

    application: Any
    dedupe: bool
    started_at: float
    ping: SingleFlight
    scrape: SingleFlight


async def health_report(state: HealthState) -> tuple[bool, dict[str, Any]]:
    """What /healthz says: healthy when the database answers and the scheduler runs."""
    application = state.application
    try:
        await state.ping(DATABASE_TIMEOUT)
        database = "ok"
    except TimeoutError:
        database = "timeout"
    except Exception as exc:  # any failure means unreachable; the report says which kind
        database = f"unreachable ({exc.__class__.__name__})"
    job_queue = application.job_queue
    scheduler = (
        "missing" if job_queue is None else "running" if job_queue.scheduler.running else "stopped"
    )
    settings = deps_of(application).settings
    report = {
        "database": database,
        "scheduler": scheduler,
        "application": "running" if application.running else "stopped",
        "mode": "webhook" if settings.webhook_url else "polling",
        "dedupe": state.dedupe,
        "uptime_seconds": round(time.monotonic() - state.started_at, 1),
    }
    healthy = database == "ok" and scheduler == "running" and application.running
    return healthy, report


class _HealthHandler(tornado.web.RequestHandler):
    def initialize(self, state: HealthState) -> None:
        self.state = state

    async def get(self) -> None:
        healthy, report = await health_report(self.state)
        self.set_status(200 if healthy else 503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(report))


class _MetricsHandler(tornado.web.RequestHandler):
    def initialize(self, state: HealthState) -> None:
        self.state = state

    async def get(self) -> None:
        try:
            # The outbox collector queries the database: keep it off the event loop.
            body = await self.state.scrape(SCRAPE_TIMEOUT)
        except TimeoutError:
            self.set_status(503)
            self.finish("metrics timed out waiting for the database\n")
            return
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(body)


def _access_log(handler: tornado.web.RequestHandler) -> None:
    # Probes arrive every few seconds: keep them out of INFO logs.
    log.debug("%s %s -> %s", handler.request.method, handler.request.path, handler.get_status())


class HealthServer:
    """GET /healthz and GET /metrics on their own port, on the bot's event loop."""

    def __init__(self, state: HealthState) -> None:
        routes = [
            (r"/healthz", _HealthHandler, {"state": state}),
            (r"/metrics", _MetricsHandler, {"state": state}),
        ]
        self._server = HTTPServer(tornado.web.Application(routes, log_function=_access_log))
        self.port: int | None = None

    async def start(self, listen: str, port: int) -> None:
        sockets = bind_sockets(port, address=listen)  # port 0: the OS picks a free one
        self._server.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._server.stop()
        await self._server.close_all_connections()
