"""Prometheus metrics: updates, command latency, errors, deliveries and the outbox depth."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col
from telegram import Update
from telegram.ext import (
    Application,
    CommandHandler,
    ContextTypes,
)

from knowledge.models import Delivery

App = Application[Any, Any, Any, Any, Any, Any]
log = logging.getLogger(__name__)


SCRAPE_TIMEOUT = 5.0  # seconds /metrics waits for the outbox count


DELIVERY_OUTCOMES = ("sent", "failed", "retried")


OUTBOX_STATES = ("pending", "claimed")


_UPDATE_TYPES = tuple(Update.ALL_TYPES)


def outbox_depth(*, engine: Engine) -> dict[str, int]:
    """Digest messages waiting to go out, by state (pending / claimed)."""
    query = (
        select(col(Delivery.state), func.count())
        .where(col(Delivery.state).in_(OUTBOX_STATES))
        .group_by(col(Delivery.state))
    )
    with engine.connect() as connection:
        counts = {state: int(count) for state, count in connection.execute(query)}
    return {state: counts.get(state, 0) for state in OUTBOX_STATES}


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
        self.rejected_updates = Counter(
            "briefing_webhook_rejected",
            "Webhook requests refused: a malformed body, or no or a wrong secret",
            ["reason"],
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
        self.replies = Counter(
            "briefing_reply_messages",
            "Messages handlers sent or edited, by outcome: sent, retried (a 429 waited out), "
            "failed (still refused after the bounded wait)",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in DELIVERY_OUTCOMES:
            self.replies.labels(outcome)
        self.bot_wide_floods = Counter(
            "briefing_bot_wide_floods",
            "429s taken as the whole bot sending too fast (the digest rate was cut)",
            registry=self.registry,
        )
        self.registry.register(OutboxCollector(engine_of))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def update_type(update: Update) -> str:
    for name in _UPDATE_TYPES:
        if getattr(update, name, None) is not None:
            return name
    return "other"


def time_commands(application: App, metrics: Metrics) -> None:
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

    timed.__dict__["_briefing_timed"] = True  # so time_commands never wraps it twice
    return timed


def _command_of(update: Update, commands: frozenset[str], default: str) -> str:
    # Only names the handler knows become labels, so users can't grow the label set.
    message = update.effective_message
    words = (message.text or message.caption or "").split(maxsplit=1) if message else []
    name = words[0][1:].split("@", 1)[0].lower() if words else ""
    return name if name in commands else default
