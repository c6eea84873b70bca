"""Each application's operational state (metrics, dedupe, health server), wired in at start."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    ContextTypes,
    TypeHandler,
)

from bot.context import deps_of, in_thread
from bot.transport.dedupe import KEEP_PROCESSED, PRUNE_EVERY, claim_update, prune_processed_updates
from bot.transport.health import HealthServer, SingleFlight, ping_database
from bot.transport.metrics import DELIVERY_OUTCOMES, Metrics, time_commands, update_type
from knowledge.digests.outbox import prune_deliveries
from knowledge.read.search import prune_saved_queries
from knowledge.storage.database import session_scope
from knowledge.write.gaps import prune_gaps

log = logging.getLogger(__name__)


App = Application[Any, Any, Any, Any, Any, Any]


OPS_KEY = "briefing_ops"


PRUNE_JOB = "ops:prune-processed-updates"


@dataclass
class Ops:
    """Per-application operational state, kept in `bot_data[OPS_KEY]`."""

    application: App
    dedupe: bool = False  # switched on by webhook mode, where updates can arrive twice
    health: HealthServer | None = None
    started_at: float = field(default_factory=time.monotonic)
    metrics: Metrics = field(init=False)
    ping: SingleFlight = field(init=False)
    scrape: SingleFlight = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = Metrics(lambda: self.engine)
        self.ping = SingleFlight(lambda: ping_database(self.engine))
        self.scrape = SingleFlight(self.metrics.render)

    @property
    def engine(self) -> Engine:
        # Read on every use: the engine lives in Deps, the one place handlers read it too.
        return deps_of(self.application).engine


def ops_of(application: App) -> Ops:
    return application.bot_data[OPS_KEY]


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


def record_reply(application: App, outcome: str) -> None:
    """Count a message a handler sent: "sent", "retried" (a 429 waited out) or "failed"."""
    state = application.bot_data.get(OPS_KEY)
    if state is not None:
        state.metrics.replies.labels(outcome).inc()


def record_bot_wide_flood(application: App) -> None:
    """Count a 429 taken as the whole bot sending too fast."""
    state = application.bot_data.get(OPS_KEY)
    if state is not None:
        state.metrics.bot_wide_floods.inc()


async def _first_sight(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Skip an update seen before (webhook mode); count the others by type."""
    state = ops_of(context.application)
    if state.dedupe:
        try:
            first = await in_thread(
                state.engine, claim_update, engine=state.engine, update_id=update.update_id
            )
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


async def start(application: App) -> None:
    """Time commands, schedule pruning, and start the health/metrics server when configured."""
    state = ops_of(application)
    time_commands(application, state.metrics)
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
    settings = deps_of(context.application).settings
    kept = (
        ("unanswered questions", prune_gaps, settings.gaps_retention_days),
        ("search texts", prune_saved_queries, settings.search_retention_days),
        ("finished deliveries", prune_deliveries, settings.delivery_retention_days),
    )
    for what, prune, days in kept:
        forgotten = await asyncio.to_thread(_prune, engine, prune, days)
        if forgotten:
            log.info("forgot %s %s older than %s days", forgotten, what, days)


def _prune(engine: Engine, prune: Callable[..., int], days: int) -> int:
    with session_scope(engine) as session:
        return prune(session=session, days=days)
