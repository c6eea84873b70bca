"""The outbox worker: claims deliveries in batches and sends them within every limit.

Rows are claimed in batches (the next batch while the current one goes out) and sent with
`send_html` under three limits: the bot's one send budget (bot/delivery/budget.py: what is
left of `BROADCAST_RATE` after replies, adapting to 429s), and per chat one message a second
(private) or one per three seconds (groups, channels: 20/min). A 429 that the budget takes
as one chat's pauses only that chat; a bot-wide one slows every digest (the budget decides).
The delivery stays claimed and waits in memory, or goes back to the queue if the wait is
long. 5xx and timeouts are retried with exponential backoff, at most `MAX_ATTEMPTS` times;
a send that timed out may have reached Telegram, so its retry can deliver it twice (at least
once; SEND_TIMEOUT is long so that only a real outage does this); a 403 or a
vanished chat ends the subscription; a group that became a supergroup is followed to its new
id. Outcomes are written by a group-committing flusher (at most one commit per
`FLUSH_INTERVAL`) and every database call runs in a worker thread, so the event loop never
waits on a transaction. The worker keeps only as many sends in flight as the round trip needs
(Little's law), and when the event loop runs late it steps back for a moment: commands go
first.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import uuid4

from sqlalchemy import Engine
from telegram import Bot
from telegram.constants import ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.context import in_thread
from bot.delivery.budget import Clock, SendBudget
from bot.delivery.replies import retry_seconds
from bot.transport.send import send_html
from knowledge.digests.outbox import (
    LEASE,
    Claimed,
    DeliveryOutcome,
    apply_outcomes,
    claim,
    requeue_stale,
)
from knowledge.digests.subscriptions import migrate_chat
from knowledge.storage.database import session_scope

log = logging.getLogger(__name__)


MAX_ATTEMPTS = 5  # 5xx / timeouts: tries before a delivery is given up


BACKOFF_CAP = 300.0  # seconds


HOLD_SECONDS = 10.0  # a chat paused longer than this hands its deliveries back to the queue


PRIVATE_INTERVAL = 1.0  # seconds between messages to one private chat


GROUP_INTERVAL = 3.0  # groups and channels: 20 messages a minute


MAX_IN_FLIGHT = 32  # digest sends at once, at most: also what a crash may send twice


LAG_PROBE = 0.005  # seconds; the drain samples the event loop's delay this often


LAG_TARGET = 0.001  # more delay than this and the drain gives way to handlers


FLUSH_INTERVAL = 0.025  # seconds; outcomes arriving faster than this share a commit


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


def process_worker_id() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid4().hex[:8]}"


# Outcome kinds as the metrics count messages (a release at shutdown counts as nothing).
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
        budget: SendBudget,
        worker_id: str,
        clock: Clock | None = None,
        lease: timedelta = LEASE,
        count: Callable[[str], None] | None = None,
    ) -> None:
        self.bot = bot
        self.count = count or (lambda _outcome: None)  # metrics: sent / retried / failed
        self.engine = engine
        self.budget = budget
        self.rate = budget.limit
        self.worker_id = worker_id
        self.clock = clock or budget.clock
        self.lease = lease
        self.batch = int(min(1000, max(10, self.rate * 2)))  # about two seconds of sending
        # Seconds a send takes (moving average). Start low and let it grow: every request in
        # flight at once opens a connection of its own, kept open afterwards.
        self.latency = 0.02
        self.lag = 0.0  # how late the event loop runs ready callbacks (moving average)
        self._step_again_at = 0.0  # monotonic: no stepping back before then (see _drain)
        self.paid = budget.paid  # above Telegram's free 30/s, paid broadcasts must be asked for
        self.chat_next: dict[int, float] = {}  # per-chat pacing: when it may get the next one
        self._heap: list[_Slot] = []
        self._seq = itertools.count()
        self._outcomes: list[DeliveryOutcome] = []
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

    def _apply(self, outcomes: list[DeliveryOutcome]) -> None:
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

    def _record(self, outcome: DeliveryOutcome) -> None:
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
                await in_thread(self.engine, self._apply, batch)
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
        # Ready now, not at 0: a delivery waiting out a 429 (ready a second from now) goes
        # before what is claimed after that second, not after everything claimed ever.
        now = self.clock.monotonic()
        for job in claimed:
            self._push(job, max(now, self.chat_next.get(job.chat_id, 0.0)))
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
        return int(min(MAX_IN_FLIGHT, math.ceil(self.rate * self.latency * 2) + 4))

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
            wait = max(1.0, retry_seconds(exc))
            self.report.flood_waits += 1
            self.count("retried")
            ready = self.clock.monotonic() + wait
            if not self.budget.flood(wait):  # one chat's (or a stray) 429: pause that chat
                self.chat_next[job.chat_id] = max(self.chat_next.get(job.chat_id, 0.0), ready)
            self._push(job, ready)  # still ours: it waits here (or goes back if long)
        except ChatMigrated as exc:
            new_chat_id = int(exc.new_chat_id)
            if await in_thread(self.engine, self._migrate, job, new_chat_id):
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
        except TimedOut as exc:
            if "Pool timeout" in exc.message:  # never left this process: no harm, no attempt
                self._push(job, self.clock.monotonic() + 0.1)
            else:  # it may have been delivered: at least once, so it goes again (see above)
                log.warning("delivery %s timed out; it will be sent again", job.id)
                self._retry(job, exc)
        except TelegramError as exc:  # 5xx, network trouble
            self._retry(job, exc)
        else:
            job.parts_sent += 1
            self.report.messages += 1
            if job.parts_sent >= len(job.texts):
                self.report.delivered += 1
                self._record(self._outcome(job, "sent", message_id=message_id))
            else:
                self._record(self._outcome(job, "progress", message_id=message_id))
                self._push(job, self.chat_next.get(job.chat_id, 0.0))

    def _retry(self, job: Claimed, exc: TelegramError) -> None:
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

    def _outcome(
        self,
        job: Claimed,
        kind: str,
        *,
        not_before: float | None = None,
        attempts: int | None = None,
        message_id: int | None = None,
        error: str | None = None,
    ) -> DeliveryOutcome:
        return DeliveryOutcome(
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
        self.report.requeued = await in_thread(self.engine, self._requeue)
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
                claiming = asyncio.create_task(in_thread(self.engine, self._claim, self.batch))
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
            if self.lag > LAG_TARGET and time.monotonic() >= self._step_again_at:
                # The loop is busy (we are CPU-bound, or many updates arrived): give way, so a
                # subscriber's command waits for at most a few sends, not for the fan-out. At
                # most half the time: when something else keeps the loop late for seconds
                # (planning 30,000 digests in a thread of this process), a step back before
                # every send would leave the broadcast a trickle of 50 a second.
                pause = min(0.05, 4 * self.lag)
                await asyncio.sleep(pause)
                self._step_again_at = time.monotonic() + pause
            heapq.heappop(self._heap)
            await self.budget.digest()
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
