"""The bot under Telegram's real limits: one digest to N recipients while another user asks
`/who` every 0.5 s, against the fake Bot API with a bot-wide sliding second counting every
message (replies and digests), one message a second per chat, and 1 % injected 429s; side by
side with the common alternative, a `send_message` loop behind PTB's AIORateLimiter.

    python -m bench.send_budget            # 10,000 recipients: over five minutes at 30/s
    python -m bench.send_budget --quick    # 600 recipients at 30/s, 2,000 at 1,000/s
    python -m bench.send_budget --runs 1000 --repeat 5   # five broadcasts at 1,000/s, pooled

Runs:
  1. outbox at BROADCAST_RATE 30 against a bot-wide limit of 30;
  2. outbox at BROADCAST_RATE 1,000 against a limit of 1,000 (paid broadcasts);
  3. the AIORateLimiter(max_retries=3) loop at 30 (--quick: 300 recipients; else 1,800);
  4. kill -9 of a bot process (digest jobs on, as deployed) at a third of a broadcast at 30,
     and a restart: when the dead process's claimed recipients are served, lost, duplicates.
The `/who` readers take turns in four chats (each asks every 2 s), so that the replies
themselves keep to one message a second per chat.
Figures: all messages the API accepted a second over the broadcast (digests and replies) as a
share of the limit; 429s the bot caused (window or chat pace exceeded; the injected ones are
not the bot's fault) as a share of the messages sent; recipients lost; duplicates; replies
lost; `/who` p50 / p95 during the broadcast against the idle bot. With `--repeat`, each
broadcast's line and then all of them pooled (bench/budget_figures.py), which the goals judge.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import multiprocessing
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

from sqlmodel import select
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter

from bench.budget_figures import broadcast_goals, figures, fmt_pooled, pool, who_text
from bench.digest_fanout import FIRST_CHAT, PROBE_CHAT, build_database, make_app
from bench.fake_process import FakeProcess, run_on_bot_loop
from bot.app import build_application
from bot.config import EventLoop, load_settings
from bot.delivery.scheduler import drain_outbox, run_due
from bot.transport.operations import ops_of
from bot.transport.runtime import settle_after_start
from knowledge.digests.outbox import counts, next_pending_at
from knowledge.models import Delivery
from knowledge.storage.database import make_engine, session_scope
from tests.fakebotapi import BotAPIError, FakeBotAPI, make_message_update
from tests.fakebotapi.limits import Limits

PROBE_EVERY = 0.5
IDLE_PROBES = 30
READERS = 4  # chats the /who readers take turns in
RUNS = ["30", "1000", "loop", "kill"]


class LimitFake(FakeBotAPI):
    """The strict fake with Telegram's limits, set per run; keeps what it accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.digests: list[tuple[float, int]] = []
        self.refused: set[int] = set()  # recipients answered 429 at least once
        self.replies: dict[int, list[float]] = {}  # reader's chat: when each answer arrived
        self.arrived = asyncio.Condition()
        self.register_method("benchConfig", self._config)
        self.register_method("benchStats", self._stats)
        self.register_method("benchServed", self._served)
        self.register_method("benchReply", self._reply)

    def _config(self, params: dict[str, Any]) -> bool:
        self.limits = Limits(
            bot_per_second=int(params["limit"]), private_per_window=1,
            flood_ratio=float(params.get("flood_ratio", 0)),
            rng=random.Random(int(params.get("seed", 7))),
        )  # fmt: skip
        self.digests.clear()
        self.refused.clear()
        self.replies.clear()
        self._trim()
        return True

    def _served(self, params: dict[str, Any]) -> int:
        """Recipients who got the digest so far (cheap: no list crosses the wire)."""
        return len({chat for _, chat in self.digests})

    async def _reply(self, params: dict[str, Any]) -> float | None:
        """When (monotonic, shared by every process on the machine) the `n`th answer to a
        reader's chat arrived; None if it didn't within `timeout` seconds."""
        chat, n = int(params["chat"]), int(params["n"])
        async with self.arrived:
            try:
                await asyncio.wait_for(
                    self.arrived.wait_for(lambda: len(self.replies.get(chat, ())) >= n),
                    float(params.get("timeout", 15)),
                )
            except TimeoutError:
                return None
        return self.replies[chat][n - 1]

    def _stats(self, params: dict[str, Any]) -> dict[str, Any]:
        limits = self.limits
        return {
            "digests": self.digests, "accepted": limits.accepted,
            "refused_chats": sorted(self.refused),
            "refused": limits.refused_bot + limits.refused_chat, "injected": limits.injected,
        }  # fmt: skip

    def _trim(self) -> None:
        self.calls.clear()
        self.sent.clear()
        self._messages.clear()

    async def _m_send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        if isinstance(chat_id, str):
            chat_id = int(chat_id)
        try:
            result = await super()._m_send_message(params)
        except BotAPIError as exc:
            if exc.status == 429 and isinstance(chat_id, int) and chat_id >= FIRST_CHAT:
                self.refused.add(chat_id)
            raise
        if isinstance(chat_id, int) and chat_id >= FIRST_CHAT:
            self.digests.append((self.limits.clock(), chat_id))
        elif isinstance(chat_id, int) and PROBE_CHAT <= chat_id < PROBE_CHAT + READERS:
            self.replies.setdefault(chat_id, []).append(time.monotonic())
            async with self.arrived:
                self.arrived.notify_all()
        if len(self.calls) > 2000:  # the fake keeps every call; keep its cost per call flat
            self._trim()
        return result


def _serve(port_queue: Any) -> None:
    async def main() -> None:
        async with LimitFake() as fake:
            port_queue.put(fake.url)
            await asyncio.Event().wait()

    run_on_bot_loop(main())


_probes = itertools.count()
_databases = itertools.count()  # a fresh database for every broadcast (--repeat)
_seeds = itertools.count(7)


def next_seed() -> int:
    """The injected 429s' seed for the next broadcast: repeats draw their own."""
    return next(_seeds)


async def who(application: Any) -> float:
    """`/who Yermak` from a reader, timed from the update to the reply sent. Readers take
    turns (four chats): one person asking twice a second would be over Telegram's one
    message a second per chat, which the fake enforces."""
    chat = PROBE_CHAT + next(_probes) % READERS
    payload = make_message_update("/who Yermak", chat_id=chat, user_id=chat)
    started = time.perf_counter()
    update = Update.de_json(payload, application.bot)
    # Through the update processor, as updates from Telegram go: the budget sees it in hand.
    await application.update_processor.process_update(update, application.process_update(update))
    return time.perf_counter() - started


async def probes(
    application: Any, count: int | None, running: asyncio.Task[Any] | None
) -> list[float]:
    samples: list[float] = []
    while (count is not None and len(samples) < count) or (running and not running.done()):
        samples.append(await who(application))
        await asyncio.sleep(PROBE_EVERY)
    return samples


async def measure(
    fake: FakeProcess, application: Any, limit: int, recipients: int, deliver: Any
) -> dict[str, Any]:
    async with application:
        await fake.call("benchConfig", limit=limit, flood_ratio=0.01, seed=next_seed())
        for _ in range(3):
            await who(application)  # warm up
        idle = await probes(application, IDLE_PROBES, None)
        started = time.perf_counter()
        task = asyncio.create_task(deliver(application))
        during = await probes(application, None, task)
        await task
        total = time.perf_counter() - started
        metrics = ops_of(application).metrics
        replies_failed = metrics.replies.labels("failed")._value.get()
    stats = await fake.call("benchStats")
    return figures(stats, limit, recipients, idle, during) | {
        "total_seconds": total, "replies_failed": replies_failed,
    }  # fmt: skip


async def outbox_run(
    fake: FakeProcess, workdir: Path, limit: int, recipients: int
) -> dict[str, Any]:
    engine = build_database(workdir / f"outbox-{limit}-{next(_databases)}.db", recipients)
    application = make_app(fake, engine, limit)
    settle_after_start()  # as `python -m bot` does once the application is built

    async def deliver(app: Any) -> None:
        await run_due(app)
        while True:
            await drain_outbox(app)
            due = await asyncio.to_thread(_next_due, engine)
            if due is None:
                return
            await asyncio.sleep(due)

    try:
        return await measure(fake, application, limit, recipients, deliver)
    finally:
        engine.dispose()


def _next_due(engine: Any) -> float | None:
    """Seconds until the next pending delivery is due; None when none is left."""
    with session_scope(engine) as session:
        now = datetime.now(UTC)
        due = next_pending_at(session=session, now=now)
        claimed = counts(session=session).get("claimed", 0)
    if due is None:
        return 0.1 if claimed else None
    return max(0.05, (due - now).total_seconds())


async def loop_run(fake: FakeProcess, workdir: Path, recipients: int) -> dict[str, Any]:
    engine = build_database(workdir / "loop.db", 1)
    application = make_app(fake, engine, 30, rate_limiter=AIORateLimiter(max_retries=3))
    text = "<b>📰 Briefing digest</b>\n1 change since the last digest."

    async def deliver(app: Any) -> None:
        for i in range(recipients):
            try:
                await app.bot.send_message(FIRST_CHAT + i, text)
            except TelegramError:
                pass  # lost: the loop has no outbox to come back to

    try:
        return await measure(fake, application, 30, recipients, deliver)
    finally:
        engine.dispose()


# --- kill -9 at a third of the broadcast, and a restart -----------------------------------


def _child(url: str, token: str, db: str, limit: int) -> None:
    """A bot process as deployed: the digest jobs on (the scan at start takes back the claims
    of a process that is gone, plans what is due, and delivers)."""
    settings = load_settings(
        telegram_bot_token=token, telegram_api_base_url=f"{url}/bot",
        database_url=f"sqlite:///{db}", broadcast_rate=limit, _env_file=None,
    )  # fmt: skip

    async def main() -> None:
        engine = make_engine(f"sqlite:///{db}")
        application = build_application(settings, engine)
        settle_after_start()
        async with application:
            if application.post_init:  # as run_polling does: the command menu, the jobs
                await application.post_init(application)
            await application.start()
            await asyncio.Event().wait()

    run_on_bot_loop(main(), limit)


async def kill_run(fake: FakeProcess, workdir: Path, recipients: int) -> dict[str, Any]:
    db = workdir / "kill.db"
    build_database(db, recipients).dispose()
    await fake.call("benchConfig", limit=30, flood_ratio=0.01)
    context = multiprocessing.get_context("spawn")

    def spawn() -> Any:
        child = context.Process(target=_child, args=(fake.url, fake.token, str(db), 30))
        child.start()
        return child

    child = spawn()
    while True:  # polling another process: there is no event to wait on
        if len((await fake.call("benchStats"))["digests"]) >= recipients // 3:
            break
        await asyncio.sleep(0.2)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    engine = make_engine(f"sqlite:///{db}")
    with session_scope(engine) as session:
        stranded = {
            int(chat) for chat, state in session.execute(
                select(Delivery.chat_id, Delivery.state)
            ) if state == "claimed"
        }  # fmt: skip
    engine.dispose()
    at_kill = len((await fake.call("benchStats"))["digests"])
    restarted = time.monotonic()
    child = spawn()
    served_stranded = first_after = None
    try:
        while True:
            digests = (await fake.call("benchStats"))["digests"]
            if first_after is None and len(digests) > at_kill:
                first_after = time.monotonic() - restarted
            chats = {int(c) for _, c in digests[at_kill:]}
            if served_stranded is None and stranded <= chats:
                served_stranded = time.monotonic() - restarted
            if len({int(c) for _, c in digests}) >= recipients or (
                time.monotonic() - restarted > 60 + recipients / 25
            ):
                break
            await asyncio.sleep(0.2)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join()
    per_chat = Counter(int(c) for _, c in digests)
    return {
        "recipients": recipients, "stranded": len(stranded),
        "first_after": first_after, "stranded_served_after": served_stranded,
        "lost": recipients - len(per_chat),
        "duplicates": sum(n - 1 for n in per_chat.values() if n > 1),
    }  # fmt: skip


def fmt(r: dict[str, Any]) -> str:
    return (
        f"{r['recipients']:>6} recipients · all accepted {r['rate']:7.1f} msg/s = "
        f"{r['share'] * 100:5.1f} % of {r['limit']} ({r['fresh_share'] * 100:.1f} % until the "
        f"last first attempt, then {r['tail_seconds']:.1f} s of retries) · bot-caused 429s "
        f"{r['bot_429s']} "
        f"({r['bot_429_share'] * 100:.2f} %), injected {r['injected']} · lost {r['lost']} · "
        f"dup {r['duplicates']} · replies lost {r['replies_failed']:.0f} · /who "
        f"{who_text(r)} · "
        f"total {r['total_seconds']:.1f} s"
    )


def run(args: argparse.Namespace) -> int:
    """Each run on the event loop the bot picks at its limit (uvloop above 30 a second),
    or on the one `--event-loop` names."""
    loop = args.event_loop
    fake = FakeProcess(_serve)
    small = args.recipients or (600 if args.quick else 10_000)
    big = args.recipients or (2_000 if args.quick else 10_000)
    results: dict[str, dict[str, Any]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            for limit, recipients in ((30, small), (1000, big)):
                if str(limit) not in args.runs:
                    continue
                runs = []
                for _ in range(args.repeat):
                    runs.append(
                        run_on_bot_loop(outbox_run(fake, workdir, limit, recipients), limit, loop)
                    )
                    print(f"outbox   @{limit:<5}", fmt(runs[-1]), flush=True)
                results[str(limit)] = pool(runs)
                if len(runs) > 1:
                    print(f"outbox   @{limit:<5}", fmt_pooled(results[str(limit)]), flush=True)
            if "loop" in args.runs:
                recipients = 300 if args.quick else 1800
                results["loop"] = run_on_bot_loop(loop_run(fake, workdir, recipients), 30)
                print("AIORateLimiter(max_retries=3) loop @30 ", fmt(results["loop"]), flush=True)
            if "kill" in args.runs:
                kill = run_on_bot_loop(kill_run(fake, workdir, 300 if args.quick else small), 30)
                results["kill"] = kill
                print(
                    f"kill -9 at a third of {kill['recipients']}: {kill['stranded']} claims of "
                    f"the dead process; after the restart the first digest in "
                    f"{kill['first_after']:.1f} s, every stranded recipient served in "
                    f"{kill['stranded_served_after']:.1f} s; lost {kill['lost']}, duplicates "
                    f"{kill['duplicates']}",
                    flush=True,
                )
    finally:
        fake.stop()
    if "30" in results and "loop" in results:
        r30, loop = results["30"], results["loop"]
        print(
            f"outbox / loop at 30: {r30['rate'] / loop['rate']:.2f}× the accepted rate, "
            f"/who p95 {r30['p95'] / loop['p95']:.2f}× the loop's"
        )
    goals = [
        goal
        for limit in ("30", "1000")
        if limit in results
        for goal in broadcast_goals(f"{int(limit):,}", results[limit])
    ]
    if kill := results.get("kill"):
        goals.append(
            ("kill -9: 0 lost, duplicates ≤ in flight (32), stranded served within 10 s",
             kill["lost"] == 0 and kill["duplicates"] <= 32
             and (kill["stranded_served_after"] or 99) <= 10)
        )  # fmt: skip
    for goal, met in goals:
        print(f"  {'met    ' if met else 'NOT met'}  {goal}")
    return 0 if all(met for _, met in goals) else 1


def positive(text: str) -> int:
    """An argparse type: a whole number of at least one."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    logging.getLogger("bot.delivery.replies").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="600 / 2,000 recipients")
    parser.add_argument("--recipients", type=int, default=0)
    parser.add_argument(
        "--event-loop", choices=get_args(EventLoop), default="auto",
        help="the bot's loop in the outbox runs, as EVENT_LOOP (default auto)",
    )  # fmt: skip
    parser.add_argument(
        "--runs", nargs="+", default=RUNS, choices=RUNS, help="which runs (default: all)"
    )
    parser.add_argument(
        "--repeat", type=positive, default=1,
        help="broadcasts at 30 and at 1,000, each, one after another in this process (the "
        "caches warm after the first); judged on all of them (budget_figures.pool)",
    )  # fmt: skip
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
