"""Digests on PTB's JobQueue: the due scanner, the delivery job, and who runs them.

Schedules are data (`Subscription.next_due_at`), not jobs: one periodic "due scanner" job
(`digests:scan`, every few seconds) plans a digest for every subscription whose time has
passed. It is restart-safe by construction (nothing to rebuild, nothing pickled — the
in-memory job store holds two jobs with explicit ids, re-added on every start); a digest that
fell due while the bot was down is simply overdue at the first scan (catch-up, once); changes
made by another process need no job syncing; and many subscribers cost one indexed query, not
one timer each. Instant subscriptions are planned by the same scan once the newest change is
`DIGEST_DEBOUNCE_SECONDS` old, so a burst of edits becomes one digest.

Planning writes the outbox; the delivery job (`digests:deliver`, a one-shot job that
re-schedules itself and is woken when digests are planned) drains it with the worker in
bot/delivery/worker.py.

Several processes (PostgreSQL): the scanner and the worker run only in the process holding the
scheduler lock (`knowledge.digests.leader.SchedulerLock`); the others retry at every scan and
take over within seconds when the holder dies, handing its claims back to the queue at once.

Tests drive everything directly: `await run_due(app, now=...)`, `await drain_outbox(app,
clock=...)`; set `app.bot_data[AUTOSTART] = False` before start to keep the jobs out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from telegram.ext import Application, ContextTypes

from bot.context import deps_of, in_thread
from bot.delivery import shared
from bot.delivery.budget import Clock, SendBudget
from bot.delivery.replies import budget_of
from bot.delivery.worker import DeliveryWorker, DrainReport, process_worker_id
from bot.presenters import digest as render_digest
from bot.transport.operations import record_delivery
from knowledge.digests.leader import SchedulerLock
from knowledge.digests.outbox import next_pending_at, requeue_claims_of_others
from knowledge.digests.planning import PlanReport, plan_digests
from knowledge.storage.database import session_scope

log = logging.getLogger(__name__)


App = Application[Any, Any, Any, Any, Any, Any]


STATE_KEY = "digests.state"


AUTOSTART = "digests.autostart"  # bot_data flag: False keeps the scan/deliver jobs off (tests)


SCAN_JOB, DELIVER_JOB = "digests:scan", "digests:deliver"


POLL_SECONDS = 5.0  # the leader looks for deliveries queued by other processes this often


@dataclass
class DigestState:
    """Per-application digest machinery: who we are, leadership, and the running worker."""

    engine: Engine
    rate: float
    debounce: float
    clock: Clock = field(default_factory=Clock)
    worker_id: str = field(default_factory=process_worker_id)
    lock: SchedulerLock | None = None
    worker: DeliveryWorker | None = None
    draining: bool = False
    leading: bool = False
    again: bool = False
    scans: int = 0
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
    return state


def scan_interval(debounce: float) -> float:
    """Scan often enough for HH:MM schedules and for the instant debounce, and (the scan is
    when a standby process tries the lock) to take over within 10 s of the sender's death."""
    return max(1.0, min(5.0, debounce / 4))


async def run_due(
    application: App, *, now: datetime | None = None, force: bool = False
) -> PlanReport:
    """Plan digests for every due subscription (`force`: everyone with unseen changes)."""
    state = state_of(application)
    when = now or state.clock.now()
    async with state.plan_lock:  # one planner per process; other processes: SKIP LOCKED
        report = await in_thread(
            state.engine, plan_digests, state.engine, now=when, render=render_digest.digest,
            debounce_seconds=state.debounce, force=force,
            default_language=deps_of(application).settings.default_language,
        )  # fmt: skip
    if report.digests:
        log.info("planned %d digests up to revision %d", report.digests, report.upto)
        wake(application)
    return report


async def drain_outbox(
    application: App,
    *,
    clock: Clock | None = None,
    budget: SendBudget | None = None,
    worker_id: str | None = None,
    engine: Engine | None = None,
    stop: Callable[[], bool] | None = None,
) -> DrainReport:
    """Send everything due now through this application's bot, and return what happened.

    With the defaults it uses the process's own worker (keeping per-chat pacing between
    drains); a different clock, budget, worker id or engine gets a fresh worker (tests).
    """
    state = state_of(application)

    def count(outcome: str) -> None:
        record_delivery(application, outcome)

    if clock is None and budget is None and worker_id is None and engine is None:
        if state.worker is None:
            budget = budget_of(application) or SendBudget(state.rate, state.clock)
            state.worker = DeliveryWorker(
                application.bot, engine=state.engine, budget=budget,
                worker_id=state.worker_id, clock=state.clock, count=count,
            )  # fmt: skip
        worker = state.worker
    else:
        budget = budget or SendBudget(state.rate, clock or state.clock)
        worker = DeliveryWorker(
            application.bot, engine=engine or state.engine, budget=budget,
            worker_id=worker_id or state.worker_id, clock=clock or state.clock, count=count,
        )  # fmt: skip
    report = await worker.drain(stop=stop)
    state.last_drain = report
    await state.notify()
    return report


def _leading(state: DigestState) -> bool:
    """Whether this process runs the scheduler. On becoming the one that does (at start with
    SQLite, on taking the lock with PostgreSQL), the claims of every other worker are handed
    back at once: their process is gone (it held the lock, or SQLite's single process was
    restarted), so its recipients needn't wait out the lease."""
    if state.lock is None:
        state.lock = SchedulerLock(state.engine)
    leading = state.lock.acquire()
    if leading and not state.leading:
        with session_scope(state.engine) as session:
            taken = requeue_claims_of_others(session=session, worker=state.worker_id)
        if taken:
            log.info("took back %d deliveries claimed by a process that is gone", taken)
    state.leading = leading
    return leading


async def _scan_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    application = context.application
    state = state_of(application)
    try:
        if await in_thread(state.engine, _leading, state):
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
            if not await in_thread(state.engine, _leading, state):
                break
            await drain_outbox(application, stop=lambda: not application.running)
            if not state.again:
                break
    except Exception:
        log.exception("digest delivery failed")
    finally:
        state.draining = False
        if application.running and state.lock is not None and state.lock.held:
            delay = await in_thread(state.engine, _next_delay, state)
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


async def start(application: App) -> None:
    """Re-create the jobs (explicit ids, nothing persisted) and scan right away (catch-up)."""
    state = state_of(application)
    if not application.bot_data.get(AUTOSTART, True):
        return
    queue = application.job_queue
    if queue is None:
        log.warning("no JobQueue (install python-telegram-bot[job-queue]): digests are off")
        return
    budget = budget_of(application)
    if budget is not None:  # replicas on PostgreSQL keep to one budget (bot/delivery/shared.py)
        shared.start(application, budget, state.engine, state.worker_id)
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
    await shared.stop(application)
    state = application.bot_data.get(STATE_KEY)
    if isinstance(state, DigestState) and state.lock is not None:
        await in_thread(state.engine, state.lock.release)
