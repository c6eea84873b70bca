"""Operations: update dedupe, Prometheus metrics, and the /healthz + /metrics HTTP server."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    ContextTypes,
    TypeHandler,
)
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.context import deps_of
from knowledge.models import Delivery, ProcessedUpdate

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]

OPS_KEY = "briefing_ops"
PRUNE_JOB = "ops:prune-processed-updates"
KEEP_PROCESSED = timedelta(days=2)  # Telegram gives up redelivering an update long before this
PRUNE_EVERY = timedelta(hours=1)
DATABASE_TIMEOUT = 2.0  # seconds /healthz waits for SELECT 1
SCRAPE_TIMEOUT = 5.0  # seconds /metrics waits for the outbox count
DELIVERY_OUTCOMES = ("sent", "failed", "retried")
OUTBOX_STATES = ("pending", "claimed")
_UPDATE_TYPES = tuple(Update.ALL_TYPES)


# ----------------------------------------------------------------------------- database


def claim_update(*, engine: Engine, update_id: int, now: datetime | None = None) -> bool:
    """Record `update_id` as processed; False when some process (or replica) already did.

    One autocommitted `INSERT ... ON CONFLICT DO NOTHING`: the primary key decides, so two
    replicas racing on the same update can't both win.
    """
    table = ProcessedUpdate.__table__  # type: ignore[attr-defined]
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(table)
        .values(update_id=update_id, at=now or datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["update_id"])
        # RETURNING, not rowcount: psycopg reports -1 for ON CONFLICT inserts.
        .returning(table.c.update_id)
    )
    with engine.begin() as connection:
        if dialect is postgresql:
            # Don't wait for the WAL flush: a crash could at worst forget the last few ids,
            # and this runs for every update.
            connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        return connection.execute(statement).first() is not None


def prune_processed_updates(*, engine: Engine, before: datetime) -> int:
    """Forget update ids recorded before `before`; returns how many rows went."""
    table = ProcessedUpdate.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        return connection.execute(delete(table).where(table.c.at < before)).rowcount


def outbox_depth(*, engine: Engine) -> dict[str, int]:
    """Digest messages waiting to go out, by state (pending / claimed)."""
    query = (
        select(Delivery.state, func.count())
        .where(Delivery.state.in_(OUTBOX_STATES))  # type: ignore[attr-defined]
        .group_by(Delivery.state)
    )
    with engine.connect() as connection:
        counts = {state: int(count) for state, count in connection.execute(query)}
    return {state: counts.get(state, 0) for state in OUTBOX_STATES}


def ping_database(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


# ----------------------------------------------------------------------------- metrics


class OutboxCollector(Collector):
    """Outbox depth read from the Delivery table at scrape time (so every replica agrees)."""

    def __init__(self, engine_of: Callable[[], Engine]) -> None:
        self._engine_of = engine_of

    def describe(self) -> list[Metric]:
        # Without describe() the registry would call collect(), i.e. query, on registration.
        return [self._depth(), self._up()]

    @staticmethod
    def _depth() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "briefing_outbox_depth",
            "Digest messages not yet delivered, by state",
            labels=["state"],
        )

    @staticmethod
    def _up() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "briefing_database_up", "1 when the last scrape could read the database, else 0"
        )

    def collect(self) -> Iterator[Metric]:
        up = self._up()
        try:
            counts = outbox_depth(engine=self._engine_of())
        except SQLAlchemyError as exc:
            log.warning("metrics: cannot read the outbox: %s", exc.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        depth = self._depth()
        for state, count in counts.items():
            depth.add_metric([state], count)
        up.add_metric([], 1)
        yield depth
        yield up


class Metrics:
    """Every metric of one application, in a registry of its own (tests stay isolated)."""

    def __init__(self, engine_of: Callable[[], Engine]) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "briefing_updates",
            "Updates handled, by type (message, callback_query, ...)",
            ["type"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "briefing_duplicate_updates",
            "Updates skipped because their update_id was already processed",
            registry=self.registry,
        )
        self.command_seconds = Histogram(
            "briefing_command_duration_seconds",
            "Time a command handler took, by command",
            ["command"],
            registry=self.registry,
        )
        self.errors = Counter(
            "briefing_errors",
            "Errors that reached the error handler, by exception type",
            ["type"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "briefing_digest_deliveries",
            "Digest messages by outcome: sent, failed (given up), retried",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in DELIVERY_OUTCOMES:
            self.deliveries.labels(outcome)  # present as 0 before the first digest
        self.registry.register(OutboxCollector(engine_of))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _SingleFlight:
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


@dataclass
class Ops:
    """Per-application operational state, kept in `bot_data[OPS_KEY]`."""

    application: App
    dedupe: bool = False  # switched on by webhook mode, where updates can arrive twice
    health: HealthServer | None = None
    started_at: float = field(default_factory=time.monotonic)
    metrics: Metrics = field(init=False)
    ping: _SingleFlight = field(init=False)
    scrape: _SingleFlight = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = Metrics(lambda: self.engine)
        self.ping = _SingleFlight(lambda: ping_database(self.engine))
        self.scrape = _SingleFlight(self.metrics.render)

    @property
    def engine(self) -> Engine:
        # Read on every use: the engine lives in Deps, the one place handlers read it too.
        return deps_of(self.application).engine


def ops_of(application: App) -> Ops:
    return application.bot_data[OPS_KEY]  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- hooks


def register_early(application: App) -> None:
    """Handlers in group -1 (update dedupe, metrics) that must see every update first."""
    application.bot_data[OPS_KEY] = Ops(application)
    application.add_handler(TypeHandler(Update, _first_sight), group=-1)


def enable_dedupe(application: App) -> None:
    """Record every update id in the database and skip ids already there.

    Webhook mode turns this on: Telegram retries a delivery it thinks failed, and replicas
    behind a load balancer share one database. Polling needs none of it (Telegram gives
    updates to one poller, confirmed by offset), and the offline console numbers its
    updates from 1 on every run, so it must not.
    """
    ops_of(application).dedupe = True


def count_error(application: App, error: BaseException | None) -> None:
    """Called by the error handler for every error it sees."""
    state = application.bot_data.get(OPS_KEY)
    if state is not None:
        state.metrics.errors.labels(type(error).__name__ if error else "None").inc()


def record_delivery(application: App, outcome: str, count: int = 1) -> None:
    """Count digest messages: outcome is "sent", "failed" (given up) or "retried"."""
    if outcome not in DELIVERY_OUTCOMES:
        raise ValueError(f"unknown delivery outcome {outcome!r}; use one of {DELIVERY_OUTCOMES}")
    state = application.bot_data.get(OPS_KEY)
    if state is not None:
        state.metrics.deliveries.labels(outcome).inc(count)


def update_type(update: Update) -> str:
    for name in _UPDATE_TYPES:
        if getattr(update, name, None) is not None:
            return name
    return "other"


async def _first_sight(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Skip an update seen before (webhook mode); count the others by type."""
    state = ops_of(context.application)
    if state.dedupe:
        try:
            first = claim_update(engine=state.engine, update_id=update.update_id)
        except SQLAlchemyError as exc:
            # Fail open: the handlers will meet the same database and report it properly;
            # refusing here would only add a second error for the same update.
            log.warning(
                "dedupe: cannot record update %s: %s",
                update.update_id,
                exc.__class__.__name__,
                extra={"update_id": update.update_id},
            )
            first = True
        if not first:
            state.metrics.duplicates.inc()
            log.info(
                "update %s already processed; skipped",
                update.update_id,
                extra={"update_id": update.update_id},
            )
            raise ApplicationHandlerStop
    state.metrics.updates.labels(update_type(update)).inc()


def _time_commands(application: App, metrics: Metrics) -> None:
    """Wrap every CommandHandler's callback to observe its latency, labelled by command.

    Done in post_init, when build_application has registered every handler. Wrapping the
    callback (rather than timing from group -1) measures the command even when its handler
    raises or stops later groups.
    """
    for handlers in application.handlers.values():
        for handler in handlers:
            if not isinstance(handler, CommandHandler) or getattr(
                handler.callback, "_briefing_timed", False
            ):
                continue
            handler.callback = _timed(handler.callback, frozenset(handler.commands), metrics)


def _timed(
    callback: Callable[..., Any], commands: frozenset[str], metrics: Metrics
) -> Callable[..., Any]:
    default = min(commands)

    @functools.wraps(callback)
    async def timed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Any:
        started = time.perf_counter()
        try:
            return await callback(update, context)
        finally:
            metrics.command_seconds.labels(_command_of(update, commands, default)).observe(
                time.perf_counter() - started
            )

    timed._briefing_timed = True  # type: ignore[attr-defined]
    return timed


def _command_of(update: Update, commands: frozenset[str], default: str) -> str:
    # Only names the handler knows become labels, so users can't grow the label set.
    message = update.effective_message
    words = (message.text or message.caption or "").split(maxsplit=1) if message else []
    name = words[0][1:].split("@", 1)[0].lower() if words else ""
    return name if name in commands else default


async def start(application: App) -> None:
    """Time commands, schedule pruning, and start the health/metrics server when configured."""
    state = ops_of(application)
    _time_commands(application, state.metrics)
    if application.job_queue is not None and not application.job_queue.get_jobs_by_name(PRUNE_JOB):
        application.job_queue.run_repeating(
            _prune_job, interval=PRUNE_EVERY, first=timedelta(minutes=1), name=PRUNE_JOB
        )
    settings = deps_of(application).settings
    if settings.health_port is not None and state.health is None:
        state.health = HealthServer(state)
        await state.health.start(settings.health_listen, settings.health_port)
        log.info(
            "health and metrics on http://%s:%s/healthz and /metrics",
            settings.health_listen,
            state.health.port,
        )


async def stop(application: App) -> None:
    """Stop the health/metrics server."""
    state = application.bot_data.get(OPS_KEY)
    if state is not None and state.health is not None:
        await state.health.stop()
        state.health = None


def health_port(application: App) -> int | None:
    """The port /healthz listens on (the real one when HEALTH_PORT=0), or None when off."""
    state = application.bot_data.get(OPS_KEY)
    return state.health.port if state is not None and state.health is not None else None


async def _prune_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    engine = ops_of(context.application).engine
    before = datetime.now(UTC) - KEEP_PROCESSED
    removed = await asyncio.to_thread(prune_processed_updates, engine=engine, before=before)
    if removed:
        log.info("forgot %s processed update ids older than %s", removed, KEEP_PROCESSED)


# ----------------------------------------------------------------------------- HTTP


async def health_report(state: Ops) -> tuple[bool, dict[str, Any]]:
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
    def initialize(self, state: Ops) -> None:
        self.state = state

    async def get(self) -> None:
        healthy, report = await health_report(self.state)
        self.set_status(200 if healthy else 503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(report))


class _MetricsHandler(tornado.web.RequestHandler):
    def initialize(self, state: Ops) -> None:
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

    def __init__(self, state: Ops) -> None:
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
