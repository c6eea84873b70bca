"""One send budget per bot token across processes (PostgreSQL, several replicas).

The design: the process holding the scheduler lock is the only one that sends digests (as
before); every process sends its own replies. So that all of them keep to Telegram's one
per-bot window, each process reports what it sent to the `Sender` table every
`SHARE_INTERVAL` and reads the others' reports (knowledge/digests/senders.py):

* the others' replies a second are subtracted from what this process may use for digests
  (the digest sender yields to every replica's replies, within a quarter of a second), and
  counted before this process's own replies;
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


class BudgetShare:
    """This process's side of the shared budget: report, read, and apply the others' pace."""

    def __init__(self, budget: SendBudget, engine: Engine, worker: str) -> None:
        self.budget = budget
        self.engine = engine
        self.worker = worker
        self.seen: dict[str, SenderReport] = {}

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
        replies = digests = 0.0
        floods = 0
        for report in others:
            before = self.seen.get(report.worker)
            self.seen[report.worker] = report
            if before is None:
                continue
            seconds = (report.seen_at - before.seen_at).total_seconds()
            if seconds <= 0:
                continue
            replies += max(0, report.replies - before.replies) / seconds
            digests += max(0, report.digests - before.digests) / seconds
            floods += max(0, report.floods - before.floods)
        current = {report.worker for report in others}
        self.seen = {worker: r for worker, r in self.seen.items() if worker in current}
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
