"""One send budget per bot token across processes (PostgreSQL, several replicas).

The design: the process holding the scheduler lock is the only one that sends digests (as
before); every process sends its own replies. So that all of them keep to Telegram's one
per-bot window, each process reports what it sent to the `Sender` table every
`SHARE_INTERVAL` and reads the others' reports (knowledge/digests/senders.py):

* the most replies the others sent in one second over the last `HOLD` seconds is left to
  them: subtracted from what this process may use for digests (the digest sender yields to
  every replica's replies, known within a quarter of a second), and counted before this
  process's own replies;
* the others' digests a second are subtracted from what is left for digests here (none,
  unless two processes briefly both believe they lead);
* a 429 that any process took as bot-wide cuts the digest rate here too (the adaptive rate
  is shared), without being counted again.

SQLite serves one process: nothing is shared, no job runs, no extra service is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from bot.context import in_thread
from bot.delivery.budget import SendBudget
from knowledge.digests.senders import SenderReport, exchange
from knowledge.storage.database import session_scope

log = logging.getLogger(__name__)

SHARE_INTERVAL = 0.25  # seconds between two reports of a process
FRESH = timedelta(seconds=5)  # a report older than this is from a gone process
SPAN = timedelta(seconds=1)  # the others' sends are read over at least the last second
HOLD = 3.0  # seconds the most replies the others sent in one span is kept (their bursts)


class BudgetShare:
    """This process's side of the shared budget: report, read, and apply the others' pace."""

    def __init__(self, budget: SendBudget, engine: Engine, worker: str) -> None:
        self.budget = budget
        self.engine = engine
        self.worker = worker
        self.seen: dict[str, deque[SenderReport]] = {}  # each process's reports, SPAN long
        self.peaks: deque[tuple[float, float]] = deque()  # (when, the others' replies a span)

    def _exchange(self, mine: SenderReport) -> list[SenderReport]:
        with session_scope(self.engine) as session:
            return exchange(session=session, mine=mine, fresh=FRESH)

    async def step(self) -> None:
        """One round: report what this process sent; take in what the others did."""
        budget = self.budget
        mine = SenderReport(
            self.worker, budget.replies_sent, budget.digests_sent, budget.local_floods,
            budget.digest_rate, budget.clock.now(),
        )  # fmt: skip
        others = await in_thread(self.engine, self._exchange, mine)
        self.apply(others)

    def apply(self, others: list[SenderReport]) -> None:
        """Take in the others' latest reports: what they sent over at least the last second
        (one reply a second, seen in quarter-second steps, would otherwise read as 0 or 4 a
        second), and any bot-wide 429 they saw since their last report.

        Replies come when people ask, not at a steady pace. The room left to them is the most
        replies the others sent within one span of reports (at least `SPAN`, at most a
        quarter of a second longer: never fewer than fall in any one of Telegram's seconds)
        over the last `HOLD` seconds, so that a pause between two questions doesn't hand
        their room to digests just before the next answer. Digests, sent at a steady pace,
        count at their rate."""
        replies = digests = 0.0
        floods = 0
        for report in others:
            history = self.seen.setdefault(report.worker, deque())
            if history and report.seen_at <= history[-1].seen_at:
                continue  # not written again since
            if history:
                floods += max(0, report.floods - history[-1].floods)
            history.append(report)
            while len(history) > 2 and history[1].seen_at <= report.seen_at - SPAN:
                history.popleft()  # keep one report from before the span, as its start
        for history in self.seen.values():
            first, last = history[0], history[-1]
            seconds = (last.seen_at - first.seen_at).total_seconds()
            if seconds > 0:
                replies += max(0, last.replies - first.replies)
                digests += max(0, last.digests - first.digests) / seconds
        current = {report.worker for report in others}
        self.seen = {worker: h for worker, h in self.seen.items() if worker in current}
        now = self.budget.clock.monotonic()
        self.peaks.append((now, replies))
        while self.peaks[0][0] <= now - HOLD:
            self.peaks.popleft()
        replies = max(rate for _, rate in self.peaks)
        self.budget.others_replies = replies
        self.budget.others = replies + digests
        if floods:
            self.budget.bot_wide(1.0, local=False)


SHARE_TASK = "delivery.share"


async def _share_loop(share: BudgetShare) -> None:
    while True:
        try:
            await share.step()
        except Exception:
            log.warning("could not share the send budget", exc_info=True)
        await asyncio.sleep(SHARE_INTERVAL)


def start(application: Any, budget: SendBudget, engine: Engine, worker: str) -> None:
    """Run the exchange every SHARE_INTERVAL (PostgreSQL only: SQLite serves one process)."""
    if engine.dialect.name != "postgresql":
        return
    task = asyncio.get_running_loop().create_task(
        _share_loop(BudgetShare(budget, engine, worker)), name=SHARE_TASK
    )
    application.bot_data[SHARE_TASK] = task


async def stop(application: Any) -> None:
    """Stop the exchange (the application is stopping)."""
    task = application.bot_data.pop(SHARE_TASK, None)
    if isinstance(task, asyncio.Task):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
