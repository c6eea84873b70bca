"""Digests: the due scanner and the delivery worker (on PTB's JobQueue), and `/digest`.

Scheduling. Schedules are data (`Subscription.next_due_at`), not jobs: one periodic "due
scanner" job (`digests:scan`, every few seconds) plans a digest for every subscription whose
time has passed. We chose it over one APScheduler job per subscription because it is
restart-safe by construction (nothing to rebuild, nothing pickled — the in-memory job store
holds two jobs with explicit ids, re-added on every start), a digest that fell due while the
bot was down is simply overdue at the first scan (catch-up, once: planning moves
`next_due_at` to the next future slot in the same transaction as the cursor), changes made by
another process need no job syncing, and 10,000 subscribers cost one indexed query, not
10,000 timers. The first scan runs right at start. Instant subscriptions are planned by the
same scan once the newest change is `DIGEST_DEBOUNCE_SECONDS` old, so a burst of edits
becomes one digest.

Delivery. Planning writes the outbox (`Delivery` rows); the delivery worker (`digests:deliver`,
a one-shot job that re-schedules itself, and is woken when digests are planned) claims rows
in batches (the next batch while the current one goes out) and sends them with `send_html`
(PTB's transport and error mapping, without building a `Message` from every answer) under
three limits: a token bucket for the whole bot (`BROADCAST_RATE` msg/s), and per chat one
message a second (private) or one per three seconds (groups, channels: 20/min). A 429 pauses
only that chat (its delivery goes back to the queue until `retry_after`); 5xx and timeouts
are retried with exponential backoff, at most `MAX_ATTEMPTS` times; a 403 or a vanished chat
ends the subscription; a group that became a supergroup is followed to its new id. Outcomes
are written by a group-committing flusher (at most one commit per `FLUSH_INTERVAL`) and every
database call runs in a worker thread, so the event loop — and subscribers' commands — never
wait on a long transaction. The worker keeps only as many sends in flight as the round trip
needs (Little's law), and when the event loop starts running late (the process is CPU-bound,
or updates pour in) it steps back for a moment: commands go first.

Several processes (PostgreSQL). The scanner and the worker run only in the process holding
the scheduler lock (`knowledge.digests.leader.SchedulerLock`, a `pg_try_advisory_lock` on a
dedicated connection); the others retry at every scan and take over within seconds when the
holder dies (its connection, and so its lock, goes with it; its claims are requeued after
the lease). Keeping one sender also keeps the bot-wide rate limit honest. Claims use
`FOR UPDATE SKIP LOCKED` regardless, so concurrent drains (a hand-over, or `drain_outbox`
called from several processes) never send a delivery twice.

Tests drive everything directly: `await run_due(app, now=...)`, `await drain_outbox(app,
clock=...)`; set `app.bot_data[AUTOSTART] = False` before start to keep the jobs out.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import math
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import uuid4

from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool
from telegram import Bot, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, CommandHandler, ContextTypes
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.context import db_session, deps_of
from bot.handlers.common import ArgumentTooLong, command_text, send
from bot.handlers.moderation import moderator_gate
from bot.presenters import digest as render_digest
from bot.presenters.html import Reply, esc
from bot.transport.operations import record_delivery
from knowledge.digests.feed import cursor_before
from knowledge.digests.leader import SchedulerLock
from knowledge.digests.outbox import (
    LEASE,
    Claimed,
    Outcome,
    apply_outcomes,
    claim,
    next_pending_at,
    requeue_stale,
)
from knowledge.digests.planning import PlanReport, plan_digests, preview
from knowledge.digests.schedules import as_utc
from knowledge.digests.subscriptions import get_subscription, migrate_chat
from knowledge.storage.database import session_scope
from knowledge.write.audit import record_audit

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]
T = TypeVar("T")

STATE_KEY = "digests.state"
AUTOSTART = "digests.autostart"  # bot_data flag: False keeps the scan/deliver jobs off (tests)
SCAN_JOB, DELIVER_JOB = "digests:scan", "digests:deliver"
POLL_SECONDS = 5.0  # the leader looks for deliveries queued by other processes this often
MAX_ATTEMPTS = 5  # 5xx / timeouts: tries before a delivery is given up
BACKOFF_CAP = 300.0  # seconds
HOLD_SECONDS = 10.0  # a chat paused longer than this hands its deliveries back to the queue
PRIVATE_INTERVAL = 1.0  # seconds between messages to one private chat
GROUP_INTERVAL = 3.0  # groups and channels: 20 messages a minute
LAG_PROBE = 0.005  # seconds; the drain samples the event loop's delay this often
LAG_TARGET = 0.001  # more delay than this and the drain gives way to handlers
FLUSH_INTERVAL = 0.025  # seconds; outcomes arriving faster than this share a commit
PREVIEW_DAYS = 7  # /digest preview without a subscription covers the last week
_CHAT_GONE = (
    "chat not found",
    "bot was kicked",
    "bot is not a member",
    "not enough rights",
    "have no rights to send",
    "need administrator rights",
    "chat_write_forbidden",
    "user is deactivated",
    "peer_id_invalid",
)


# --- time -------------------------------------------------------------------------------------


class Clock:
    """Wall time for the database, monotonic time and sleeping for pacing."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock(Clock):
    """A clock that moves only when told to (or when something sleeps on it): for tests."""

    def __init__(self, start: datetime | None = None) -> None:
        self.start = start or datetime.now(UTC)
        self.elapsed = 0.0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.elapsed += max(0.0, seconds)


class TokenBucket:
    """At most `rate` acquisitions a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, clock: Clock, burst: float | None = None) -> None:
        self.rate = rate
        self.clock = clock
        # A burst of a twentieth of a second's worth keeps high rates smooth without
        # letting a low rate (30/s) send more than one message at once.
        self.capacity = burst if burst is not None else max(1.0, rate / 20)
        self.tokens = self.capacity
        self.stamp = clock.monotonic()

    async def acquire(self) -> None:
        while True:
            now = self.clock.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1 - 1e-9:  # (float rounding must not leave us a hair short)
                self.tokens -= 1
                return
            await self.clock.sleep((1 - self.tokens) / self.rate)


# --- database calls off the event loop --------------------------------------------------------


async def _in_thread(engine: Engine, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking database work in a thread (an in-memory SQLite, one shared connection,
    stays on the loop: two threads must not use that connection at once)."""
    if isinstance(engine.pool, StaticPool):
        return fn(*args, **kwargs)
    return await asyncio.to_thread(fn, *args, **kwargs)


def _process_worker_id() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid4().hex[:8]}"


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 deprecates the int form of retry_after
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# --- sending ----------------------------------------------------------------------------------

_NO_PREVIEW = json.dumps({"is_disabled": True})


async def send_html(bot: Bot, chat_id: int, text: str, *, paid: bool = False) -> int:
    """sendMessage with HTML and no link preview, through the bot's own transport; returns
    the message id.

    `bot.send_message` would build a whole `Message` (chat, sender, every entity) from each
    answer and walk PTB's defaults and keyword handling on the way out: about 0.3 ms of CPU
    a message, as much as the HTTP request itself on aiohttp — at 1,000 digest messages a
    second that is a third of a core, for a message id. So the request goes straight to the
    bot's `BaseRequest.post`, which is where PTB turns error answers into its exceptions
    (429 → RetryAfter, 403 → Forbidden, 400 → BadRequest, migrate_to_chat_id → ChatMigrated,
    5xx and transport trouble → NetworkError / TimedOut): the worker sees exactly what
    `send_message` would raise. The parameters are the ones `send_message` sent (the bot's
    defaults are HTML and no link previews); `allow_paid_broadcast` above the free 30/s. (An
    `AIORateLimiter`, were one configured, is not consulted: the worker paces itself.)
    """
    parameters = [
        RequestParameter("chat_id", str(chat_id), None),
        RequestParameter("text", text, None),
        RequestParameter("parse_mode", ParseMode.HTML.value, None),
        RequestParameter("link_preview_options", _NO_PREVIEW, None),
    ]
    if paid:
        parameters.append(RequestParameter("allow_paid_broadcast", "true", None))
    result = await bot.request.post(f"{bot.base_url}/sendMessage", RequestData(parameters))
    if not isinstance(result, dict) or "message_id" not in result:
        raise TelegramError(f"sendMessage answered {str(result)[:200]}")
    return int(result["message_id"])


# --- the delivery worker ----------------------------------------------------------------------

# Outcome kinds as the ops metrics count messages (a release at shutdown counts as nothing).
_METRIC = {"sent": "sent", "progress": "sent", "retry": "retried", "failed": "failed",
           "gone": "failed"}  # fmt: skip


@dataclass
class DrainReport:
    """What one drain of the outbox did."""

    delivered: int = 0  # digests completely sent
    messages: int = 0  # message parts sent
    flood_waits: int = 0  # 429s (the chat was paused)
    retried: int = 0  # 5xx / timeouts put back with backoff
    failed: int = 0  # given up
    gone: int = 0  # blocked / kicked / chat vanished: subscription ended
    migrated: int = 0  # followed a group to its supergroup
    requeued: int = 0  # stale claims of dead processes taken back


@dataclass(order=True)
class _Slot:
    ready_at: float
    seq: int
    job: Claimed = field(compare=False)


class DeliveryWorker:
    """Drains the outbox: claims due deliveries, paces and sends them, records outcomes."""

    def __init__(
        self,
        bot: Bot,
        *,
        engine: Engine,
        rate: float,
        worker_id: str,
        clock: Clock | None = None,
        lease: timedelta = LEASE,
        count: Callable[[str], None] | None = None,
    ) -> None:
        self.bot = bot
        self.count = count or (lambda _outcome: None)  # metrics: sent / retried / failed
        self.engine = engine
        self.rate = rate
        self.worker_id = worker_id
        self.clock = clock or Clock()
        self.lease = lease
        self.bucket = TokenBucket(rate, self.clock)
        self.batch = int(min(1000, max(10, rate * 2)))  # about two seconds of sending
        # Seconds a send takes (moving average). Start low and let it grow: every request in
        # flight at once opens a connection of its own, kept open afterwards.
        self.latency = 0.02
        self.lag = 0.0  # how late the event loop runs ready callbacks (moving average)
        self.paid = rate > 30  # above Telegram's free 30/s, paid broadcasts must be asked for
        self.chat_next: dict[int, float] = {}  # per-chat pacing: when it may get the next one
        self._heap: list[_Slot] = []
        self._seq = itertools.count()
        self._outcomes: list[Outcome] = []
        self._flusher: asyncio.Task[None] | None = None
        self._flushed_at = -math.inf  # event-loop time of the last outcome commit
        self.report = DrainReport()

    # database --------------------------------------------------------------------------

    def _claim(self, limit: int) -> list[Claimed]:
        with session_scope(self.engine) as session:
            return claim(session=session, worker=self.worker_id, now=self.clock.now(), limit=limit)

    def _requeue(self) -> int:
        with session_scope(self.engine) as session:
            return requeue_stale(session=session, now=self.clock.now(), lease=self.lease)

    def _apply(self, outcomes: list[Outcome]) -> None:
        with session_scope(self.engine) as session:
            apply_outcomes(
                session=session, worker=self.worker_id, outcomes=outcomes, now=self.clock.now()
            )

    def _migrate(self, job: Claimed, new_chat_id: int) -> bool:
        with session_scope(self.engine) as session:
            return migrate_chat(
                session=session, subscription_id=job.subscription_id, new_chat_id=new_chat_id,
                now=self.clock.now(),
            )  # fmt: skip

    def _record(self, outcome: Outcome) -> None:
        """Queue an outcome; one flusher writes whatever has accumulated (group commit)."""
        metric = _METRIC.get(outcome.kind)
        if metric:
            self.count(metric)
        self._outcomes.append(outcome)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        """Write the queued outcomes, at most one transaction per FLUSH_INTERVAL: a commit
        costs as much CPU as a send, so at hundreds of messages a second a transaction per
        message would take a third of the process. At 30 msg/s outcomes are written as they
        come; at 1,000 msg/s a couple of dozen share a commit (and are what a crash could
        send again, with the sends in flight)."""
        loop = asyncio.get_running_loop()
        failures = 0
        while self._outcomes:
            wait = self._flushed_at + FLUSH_INTERVAL - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            batch, self._outcomes = self._outcomes, []
            try:
                await _in_thread(self.engine, self._apply, batch)
                self._flushed_at = loop.time()
                failures = 0
            except Exception:
                failures += 1
                log.exception("could not record %d delivery outcomes", len(batch))
                if failures >= 5:
                    # The claims stay; after the lease another drain resends these.
                    return
                self._outcomes = batch + self._outcomes
                await asyncio.sleep(0.5 * failures)

    async def _settle(self) -> None:
        """Wait until every outcome is written (`_record` keeps a flusher running while any
        are queued, so when the current one is done, so are they — unless it gave up)."""
        while self._flusher is not None and not self._flusher.done():
            await self._flusher

    # pacing ----------------------------------------------------------------------------

    def _push(self, job: Claimed, ready_at: float) -> None:
        heapq.heappush(self._heap, _Slot(ready_at, next(self._seq), job))

    def _take(self, claimed: list[Claimed]) -> int:
        for job in claimed:
            self._push(job, self.chat_next.get(job.chat_id, 0.0))
        return len(claimed)

    def _interval(self, job: Claimed) -> float:
        return PRIVATE_INTERVAL if job.chat_type == ChatType.PRIVATE else GROUP_INTERVAL

    # sending ---------------------------------------------------------------------------

    async def _watch_loop(self) -> None:
        """How late the event loop runs what is ready (moving average): when handlers queue up
        behind our sends, the drain steps back (see `drain`)."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(LAG_PROBE)
            self.lag += 0.3 * (max(0.0, loop.time() - started - LAG_PROBE) - self.lag)

    def _in_flight_limit(self) -> int:
        """Sends to keep in flight (Little's law: rate x round trip, with slack for the round
        trips that take a few times the average). Enough to hold the rate over a slow network;
        no more, so that a subscriber's reply never queues behind a crowd of digest sends."""
        return int(min(32, math.ceil(self.rate * self.latency * 2) + 4))

    async def _send(self, job: Claimed) -> None:
        started = time.perf_counter()
        try:
            await self._send_part(job)
        except Exception:  # a bug must not kill the drain; the claim is requeued later
            log.exception("delivery %s failed unexpectedly", job.id)
        finally:
            self.latency += 0.1 * (time.perf_counter() - started - self.latency)

    async def _send_part(self, job: Claimed) -> None:
        text = job.texts[job.parts_sent]
        try:
            message_id = await send_html(self.bot, job.chat_id, text, paid=self.paid)
        except RetryAfter as exc:
            wait = max(1.0, _retry_seconds(exc))
            self.chat_next[job.chat_id] = self.clock.monotonic() + wait
            self.report.flood_waits += 1
            self.count("retried")
            self._record(self._outcome(job, "release", not_before=wait, error=f"429: {exc}"))
        except ChatMigrated as exc:
            new_chat_id = int(exc.new_chat_id)
            if await _in_thread(self.engine, self._migrate, job, new_chat_id):
                self.report.migrated += 1
                log.info("chat %s became %s; following it", job.chat_id, new_chat_id)
                job.chat_id, job.chat_type = new_chat_id, ChatType.SUPERGROUP
                self._push(job, self.clock.monotonic())
            else:
                self.report.gone += 1
                self._record(self._outcome(job, "gone", error=f"migrated to {new_chat_id}"))
        except Forbidden as exc:
            self.report.gone += 1
            self._record(self._outcome(job, "gone", error=f"403: {exc.message}"))
        except BadRequest as exc:
            if any(marker in exc.message.lower() for marker in _CHAT_GONE):
                self.report.gone += 1
                self._record(self._outcome(job, "gone", error=f"400: {exc.message}"))
            else:  # our message is wrong: retrying won't help
                self.report.failed += 1
                log.error("delivery %s rejected: %s", job.id, exc.message)
                self._record(self._outcome(job, "failed", error=f"400: {exc.message}"))
        except TelegramError as exc:  # 5xx, timeouts, network trouble
            attempts = job.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                self.report.failed += 1
                self._record(self._outcome(job, "failed", attempts=attempts, error=str(exc)))
            else:
                self.report.retried += 1
                backoff = min(BACKOFF_CAP, 2.0**attempts)
                self._record(
                    self._outcome(job, "retry", attempts=attempts, not_before=backoff,
                                  error=str(exc))
                )  # fmt: skip
        else:
            job.parts_sent += 1
            self.report.messages += 1
            if job.parts_sent >= len(job.texts):
                self.report.delivered += 1
                self._record(self._outcome(job, "sent", message_id=message_id))
            else:
                self._record(self._outcome(job, "progress", message_id=message_id))
                self._push(job, self.chat_next.get(job.chat_id, 0.0))

    def _outcome(
        self,
        job: Claimed,
        kind: str,
        *,
        not_before: float | None = None,
        attempts: int | None = None,
        message_id: int | None = None,
        error: str | None = None,
    ) -> Outcome:
        return Outcome(
            delivery_id=job.id, kind=kind, parts_sent=job.parts_sent,
            subscription_id=job.subscription_id, message_id=message_id,
            not_before=None if not_before is None
            else self.clock.now() + timedelta(seconds=not_before),
            attempts=attempts, error=error,
        )  # fmt: skip

    # the loop --------------------------------------------------------------------------

    async def drain(self, *, stop: Callable[[], bool] | None = None) -> DrainReport:
        """Send everything due now; return when nothing due is left (or `stop()` says so).

        Deliveries put back for later (429, backoff) are left for a later drain.
        """
        self.report = DrainReport()
        self.report.requeued = await _in_thread(self.engine, self._requeue)
        now = self.clock.monotonic()
        self.chat_next = {chat: at for chat, at in self.chat_next.items() if at > now}
        watcher = asyncio.create_task(self._watch_loop())
        try:
            return await self._drain(stop)
        finally:
            watcher.cancel()

    async def _drain(self, stop: Callable[[], bool] | None) -> DrainReport:
        inflight: set[asyncio.Task[None]] = set()
        # The next batch is claimed while this one is sent (a claim of a thousand rows takes
        # tens of milliseconds, which at 1,000 msg/s would be as many messages not sent).
        claiming: asyncio.Task[list[Claimed]] | None = None
        exhausted = False
        while not (stop and stop()):
            if claiming is not None and (claiming.done() or not self._heap):
                exhausted = not self._take(await claiming)
                claiming = None
            if claiming is None and not exhausted and len(self._heap) < self.batch // 2:
                claiming = asyncio.create_task(_in_thread(self.engine, self._claim, self.batch))
                continue
            if not self._heap:
                if inflight:
                    await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                if exhausted:
                    break
                continue
            slot = self._heap[0]
            now = self.clock.monotonic()
            ready = max(slot.ready_at, self.chat_next.get(slot.job.chat_id, 0.0))
            if ready > now:
                if ready - now > HOLD_SECONDS:
                    heapq.heappop(self._heap)
                    self._record(self._outcome(slot.job, "release", not_before=ready - now))
                elif inflight:
                    await asyncio.wait(
                        inflight, timeout=ready - now, return_when=asyncio.FIRST_COMPLETED
                    )
                else:
                    await self.clock.sleep(ready - now)
                continue
            while len(inflight) >= self._in_flight_limit():
                await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
            if self.lag > LAG_TARGET:
                # The loop is busy (we are CPU-bound, or many updates arrived): give way, so a
                # subscriber's command waits for at most a few sends, not for the fan-out.
                await asyncio.sleep(min(0.05, 4 * self.lag))
            heapq.heappop(self._heap)
            await self.bucket.acquire()
            self.chat_next[slot.job.chat_id] = self.clock.monotonic() + self._interval(slot.job)
            task = asyncio.create_task(self._send(slot.job))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            await asyncio.sleep(0)  # let handlers in between sends: commands stay responsive
        if claiming is not None:
            self._take(await claiming)
        if inflight:
            await asyncio.gather(*inflight, return_exceptions=True)
        while self._heap:  # stopping: what we hold but did not send goes back, unharmed
            self._record(self._outcome(heapq.heappop(self._heap).job, "release"))
        await self._settle()
        return self.report


# --- state kept in bot_data -------------------------------------------------------------------


@dataclass
class DigestState:
    """Per-application digest machinery: who we are, leadership, and the running worker."""

    engine: Engine
    rate: float
    debounce: float
    clock: Clock = field(default_factory=Clock)
    worker_id: str = field(default_factory=_process_worker_id)
    lock: SchedulerLock | None = None
    worker: DeliveryWorker | None = None
    draining: bool = False
    again: bool = False
    scans: int = 0
    last_plan: PlanReport | None = None
    last_drain: DrainReport | None = None
    plan_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_until(self, predicate: Callable[[DigestState], bool], timeout: float) -> None:  # noqa: ASYNC109
        """Wait (without sleeping in steps) until a scan/drain makes `predicate` true."""
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: predicate(self)), timeout)


def state_of(application: App) -> DigestState:
    state = application.bot_data.get(STATE_KEY)
    if state is None:
        deps = deps_of(application)
        state = DigestState(
            engine=deps.engine,
            rate=deps.settings.broadcast_rate,
            debounce=float(deps.settings.digest_debounce_seconds),
        )
        application.bot_data[STATE_KEY] = state
    return state  # type: ignore[no-any-return]


def scan_interval(debounce: float) -> float:
    """Scan often enough for HH:MM schedules and for the instant debounce."""
    return max(1.0, min(15.0, debounce / 4))


# --- the operations tests (and jobs) call -----------------------------------------------------


async def run_due(
    application: App, *, now: datetime | None = None, force: bool = False
) -> PlanReport:
    """Plan digests for every due subscription (`force`: everyone with unseen changes)."""
    state = state_of(application)
    when = now or state.clock.now()
    async with state.plan_lock:  # one planner per process; other processes: SKIP LOCKED
        report = await _in_thread(
            state.engine, plan_digests, state.engine, now=when, render=render_digest.digest,
            debounce_seconds=state.debounce, force=force,
        )  # fmt: skip
    state.last_plan = report
    if report.digests:
        log.info("planned %d digests up to revision %d", report.digests, report.upto)
        wake(application)
    return report


async def drain_outbox(
    application: App,
    *,
    clock: Clock | None = None,
    worker_id: str | None = None,
    engine: Engine | None = None,
    stop: Callable[[], bool] | None = None,
) -> DrainReport:
    """Send everything due now through this application's bot, and return what happened.

    With the defaults it uses the process's own worker (keeping per-chat pacing between
    drains); a different clock, worker id or engine gets a fresh worker (tests).
    """
    state = state_of(application)

    def count(outcome: str) -> None:
        record_delivery(application, outcome)

    if clock is None and worker_id is None and engine is None:
        if state.worker is None:
            state.worker = DeliveryWorker(
                application.bot, engine=state.engine, rate=state.rate,
                worker_id=state.worker_id, clock=state.clock, count=count,
            )  # fmt: skip
        worker = state.worker
    else:
        worker = DeliveryWorker(
            application.bot, engine=engine or state.engine, rate=state.rate,
            worker_id=worker_id or state.worker_id, clock=clock or state.clock, count=count,
        )  # fmt: skip
    report = await worker.drain(stop=stop)
    state.last_drain = report
    await state.notify()
    return report


# --- jobs -------------------------------------------------------------------------------------


def _leading(state: DigestState) -> bool:
    if state.lock is None:
        state.lock = SchedulerLock(state.engine)
    return state.lock.acquire()


async def _scan_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    application = context.application
    state = state_of(application)
    try:
        if await _in_thread(state.engine, _leading, state):
            await run_due(application)
            wake(application)  # also picks up deliveries other processes queued
    except Exception:
        log.exception("digest scan failed")
    finally:
        state.scans += 1
        await state.notify()


async def _deliver_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    application = context.application
    state = state_of(application)
    if state.draining:
        state.again = True
        return
    state.draining = True
    try:
        while application.running:
            state.again = False
            if not await _in_thread(state.engine, _leading, state):
                break
            await drain_outbox(application, stop=lambda: not application.running)
            if not state.again:
                break
    except Exception:
        log.exception("digest delivery failed")
    finally:
        state.draining = False
        if application.running and state.lock is not None and state.lock.held:
            delay = await _in_thread(state.engine, _next_delay, state)
            _schedule_delivery(application, delay)


def _next_delay(state: DigestState) -> float:
    with session_scope(state.engine) as session:
        now = state.clock.now()
        due = next_pending_at(session=session, now=now)
    if due is None:
        return POLL_SECONDS
    return min(POLL_SECONDS, max(0.05, (due - now).total_seconds()))


def _schedule_delivery(application: App, delay: float) -> None:
    queue = application.job_queue
    if queue is None or not queue.scheduler.running:
        return
    queue.run_once(
        _deliver_job, when=delay, name=DELIVER_JOB,
        job_kwargs={"id": DELIVER_JOB, "replace_existing": True, "misfire_grace_time": None},
    )  # fmt: skip


def wake(application: App) -> None:
    """Deliver now: digests were just planned (a running drain takes another round)."""
    if not application.bot_data.get(AUTOSTART, True):
        return
    state = state_of(application)
    if state.draining:
        state.again = True
    else:
        _schedule_delivery(application, 0)


# --- lifecycle --------------------------------------------------------------------------------


def register(application: App) -> None:
    """Moderators' /digest preview and /digest send."""
    application.add_handler(CommandHandler("digest", digest_command))


async def start(application: App) -> None:
    """Re-create the jobs (explicit ids, nothing persisted) and scan right away (catch-up)."""
    state = state_of(application)
    if not application.bot_data.get(AUTOSTART, True):
        return
    queue = application.job_queue
    if queue is None:
        log.warning("no JobQueue (install python-telegram-bot[job-queue]): digests are off")
        return
    interval = scan_interval(state.debounce)
    # An interval job's first run can't be "now" (APScheduler moves a start in the past on to
    # the next interval), so the catch-up scan at start is a one-shot job of its own.
    queue.run_once(
        _scan_job, when=0, name=f"{SCAN_JOB}:start",
        job_kwargs={"id": f"{SCAN_JOB}:start", "replace_existing": True,
                    "misfire_grace_time": None},
    )  # fmt: skip
    queue.run_repeating(
        _scan_job, interval=interval, first=interval, name=SCAN_JOB,
        job_kwargs={"id": SCAN_JOB, "replace_existing": True, "coalesce": True,
                    "max_instances": 1, "misfire_grace_time": None},
    )  # fmt: skip


async def stop(application: App) -> None:
    """Give up leadership. (The JobQueue has already stopped, and a drain in progress saw the
    application stop, finished its in-flight sends and handed the rest back to the queue.)"""
    state = application.bot_data.get(STATE_KEY)
    if isinstance(state, DigestState) and state.lock is not None:
        await _in_thread(state.engine, state.lock.release)


# --- /digest ----------------------------------------------------------------------------------

USAGE = (
    "<b>/digest preview</b> — what your own next digest would hold\n"
    "<b>/digest send</b> — send the digest now to every subscriber with unseen changes"
)


async def digest_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/digest preview | send (moderators)."""
    author = await moderator_gate(update, context)
    if author is None or author.id is None:
        return
    try:
        action = command_text(update).casefold()
    except ArgumentTooLong:
        action = "?"
    if action == "preview":
        await send(update, context, _preview(context, author.id))
    elif action == "send":
        report = await run_due(context.application, force=True)
        async with db_session(context) as session:
            record_audit(
                session=session,
                user_id=author.id,
                command="/digest send",
                outcome=f"{report.digests} digests queued",
            )
        lines = [f"📬 Queued {report.digests} digest{'s' if report.digests != 1 else ''}."]
        if report.nothing_new:
            lines.append(f"{report.nothing_new} subscribers had nothing new for their filter.")
        if not report.digests and not report.nothing_new:
            lines.append("Every subscriber has seen every change already.")
        await send(update, context, Reply([esc(" ".join(lines))]))
    else:
        await send(update, context, Reply([USAGE]))


def _preview(context: ContextTypes.DEFAULT_TYPE, user_id: int) -> Reply:
    state = state_of(context.application)
    with session_scope(state.engine) as session:
        subscription = get_subscription(session=session, chat_id=user_id)
        if subscription is not None and not subscription.active:
            subscription = None
        since = 0
        if subscription is None:
            week_ago = state.clock.now() - timedelta(days=PREVIEW_DAYS)
            since = cursor_before(session=session, moment=as_utc(week_ago))
        feed, label = preview(session=session, subscription=subscription, since=since)
    if subscription is None:
        intro = (
            f"You have no subscription, so this shows the last {PREVIEW_DAYS} days "
            "of changes, unfiltered."
        )
    else:
        intro = "Your next digest, if it went out now:"
    if feed.empty:
        return Reply([esc(intro) + "\nNothing has changed, so no digest would be sent."])
    parts = render_digest.digest(feed, label, heading="Digest preview")
    return Reply([esc(intro), *parts])
