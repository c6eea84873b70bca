"""One send budget per bot token across processes (PostgreSQL, several replicas).

The design: the process holding the scheduler lock is the only one that sends digests (as
before); every process sends its own replies. So that all of them keep to Telegram's one
per-bot window, each process reports what it sent to the `Sender` table every
`SHARE_INTERVAL`, and at once after it replies (such reports at most every `REPORT_GAP`),
and reads the others' reports (knowledge/digests/senders.py):

* a report that counts more replies than the one before dates them: they were sent by then,
  a few milliseconds earlier when the report was made for them;
* the most replies the whole bot (this process and the others together) sent within one
  second over the last `HOLD` seconds is the room for replies (`SendBudget.replies_room`):
  digests leave it free (less this process's replies already in the window), and the others'
  replies of the last second are counted before this process's own replies. Their combined
  count, not the sum of each one's most: replicas behind a round robin take turns;
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
from bot.delivery.budget import WINDOW, SendBudget
from knowledge.digests.senders import SenderReport, exchange
from knowledge.storage.database import session_scope

log = logging.getLogger(__name__)

SHARE_INTERVAL = 0.25  # seconds between two reports of a process
REPORT_GAP = 0.05  # seconds: reports brought forward by replies come at most this often
FRESH = timedelta(seconds=5)  # a report older than this is from a gone process
SPAN = timedelta(seconds=1)  # the others' sends are read over at least the last second
HOLD = 3.0  # seconds the most replies the bot sent in one second is kept (their bursts)


class BudgetShare:
    """This process's side of the shared budget: report, read, and apply the others' pace."""

    def __init__(self, budget: SendBudget, engine: Engine, worker: str) -> None:
        self.budget = budget
        self.engine = engine
        self.worker = worker
        self.seen: dict[str, deque[SenderReport]] = {}  # each process's reports, SPAN long
        self.replies: deque[float] = deque()  # when the others' replies were reported (HOLD)
        self.wake = asyncio.Event()  # this process replied: report soon
        budget.on_reply = self.wake.set

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
        """Take in the others' latest reports: their replies, dated by the report that first
        counted them; their digests, over at least the last second (a rate read over a
        quarter of a second swings); and any bot-wide 429 they saw since their last report.

        Replies come when people ask, not at a steady pace. The room left for them is the
        most the whole bot sent within any one second of the last `HOLD` seconds (ours by
        their own times, the others' by their reports' times), so that a pause between two
        questions doesn't hand their room to digests just before the next answer."""
        budget = self.budget
        now = budget.clock.monotonic()
        wall = budget.clock.now()
        digests = 0.0
        floods = 0
        for report in others:
            history = self.seen.setdefault(report.worker, deque())
            if history and report.seen_at <= history[-1].seen_at:
                continue  # not written again since
            if history:
                floods += max(0, report.floods - history[-1].floods)
                at = now - max(0.0, (wall - report.seen_at).total_seconds())
                new = max(0, report.replies - history[-1].replies)
                self.replies.extend([at] * new)
            history.append(report)
            while len(history) > 2 and history[1].seen_at <= report.seen_at - SPAN:
                history.popleft()  # keep one report from before the span, as its start
        for history in self.seen.values():
            first, last = history[0], history[-1]
            seconds = (last.seen_at - first.seen_at).total_seconds()
            if seconds > 0:
                digests += max(0, last.digests - first.digests) / seconds
        current = {report.worker for report in others}
        self.seen = {worker: h for worker, h in self.seen.items() if worker in current}
        self.replies = deque(sorted(at for at in self.replies if at > now - HOLD - WINDOW))
        budget.others_replies = deque(at for at in self.replies if at > now - WINDOW)
        ours = [at for at in budget.reply_times if at > now - HOLD - WINDOW]
        budget.replies_room = float(busiest_second(sorted([*self.replies, *ours]), now - HOLD))
        budget.others_digests = digests
        budget.others = len(budget.others_replies) + digests
        if floods:
            budget.bot_wide(1.0, local=False)


def busiest_second(times: list[float], since: float) -> int:
    """The most of `times` (sorted) within one `WINDOW`, over windows ending after `since`."""
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - WINDOW:
            start += 1
        if at > since:
            most = max(most, end - start + 1)
    return most


SHARE_TASK = "delivery.share"


async def _share_loop(share: BudgetShare) -> None:
    loop = asyncio.get_running_loop()
    woken = -REPORT_GAP  # when a reply last brought a report forward
    while True:
        stepped = loop.time()
        try:
            await share.step()
        except Exception:
            log.warning("could not share the send budget", exc_info=True)
        with contextlib.suppress(TimeoutError):  # a reply brings the next report forward
            await asyncio.wait_for(share.wake.wait(), stepped + SHARE_INTERVAL - loop.time())
            if (gap := woken + REPORT_GAP - loop.time()) > 0:
                await asyncio.sleep(gap)  # many replies: one report for several
            woken = loop.time()
        share.wake.clear()


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
