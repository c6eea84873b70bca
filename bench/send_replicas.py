"""Replicas under Telegram's limits (issue 19): two and three bot processes in webhook mode on
one PostgreSQL database, behind a round robin, keep to one bot-wide send budget.

    python -m bench.send_replicas            # 2 and 3 replicas, 10,000 recipients at 30 and 1,000
    python -m bench.send_replicas --quick    # 1,000 recipients at 30, 3,000 at 1,000
    python -m bench.send_replicas --replicas 2 --limits 30 --recipients 10000 --no-kill

Each replica is `python -m bot run` as deployed (WEBHOOK_URL set, digest jobs on,
BROADCAST_RATE the limit) on a fresh schema of the PostgreSQL database at --postgres
(TEST_POSTGRES_URL by default). A small round robin on 127.0.0.1 forwards webhook POSTs to
the replicas in turn (the next one when a replica refuses the connection, as nginx's
`proxy_next_upstream` does). The fake Bot API (bench/send_budget.py's, in a process of its
own) enforces one sliding second of `limit` messages counting every message whichever replica
sent it, one message a second per chat, and answers 1 % of message calls with 429 at random.

The subscribers are due in a day while the idle `/who` figures are taken, then due now: the
replica holding the scheduler lock plans and sends at its next scan. `/who Yermak` goes to
the round robin every 0.5 s (four readers' chats in turn) and is timed from the POST to the
answer's arrival at the fake (one monotonic clock for the machine). Figures as in
bench/send_budget.py; "replies lost" are questions not answered within 15 s.

kill -9 (at the limit of 30): at a third of the broadcast the replica sending digests (the one
whose /metrics counts digests sent) is killed; another replica takes the scheduler lock at its
next scan and takes back the dead one's claims. Reported: seconds from the kill to the first
and to the last of the stranded recipients served (those the dead replica had claimed and not
yet sent to), lost, duplicates (bounded by the sends in flight, at most 32).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientConnectionError, ClientSession, ClientTimeout, web
from sqlalchemy import text

from bench.budget_figures import broadcast_goals, figures, fmt_pooled, pool, who_text
from bench.databases import fresh_postgres
from bench.digest_fanout import PROBE_CHAT, seed
from bench.fake_process import FakeProcess, run_on_bot_loop
from bench.send_budget import (
    IDLE_PROBES,
    PROBE_EVERY,
    READERS,
    _serve,
    loop_run,
    next_seed,
    positive,
)
from bench.throughput import (
    DEFAULT_POSTGRES,
    SECRET,
    BotProcess,
    free_port,
    listening,
    load_average,
)
from knowledge.storage.database import make_engine
from tests.fakebotapi import make_message_update

ANSWER_WAIT = 15.0  # seconds: a question not answered by then counts as a lost reply
IN_FLIGHT = 32  # the most digest sends one process keeps in flight (bot/delivery/worker.py)
_FORWARDED = ("Content-Type", "X-Telegram-Bot-Api-Secret-Token")
_SENT = re.compile(r'^briefing_digest_deliveries_total\{outcome="sent"\} (\S+)$', re.M)


class RoundRobin:
    """POSTs to the replicas in turn; a replica that refuses the connection is skipped."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.port = free_port()
        self.turn = itertools.count()
        self.runner: web.AppRunner | None = None
        self.session: ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def forward(self, request: web.Request) -> web.Response:
        assert self.session is not None
        body = await request.read()
        headers = {name: request.headers[name] for name in _FORWARDED if name in request.headers}
        for _ in self.ports:
            port = self.ports[next(self.turn) % len(self.ports)]
            try:
                async with self.session.post(
                    f"http://127.0.0.1:{port}/hook", data=body, headers=headers
                ) as response:
                    return web.Response(status=response.status, body=await response.read())
            except ClientConnectionError:
                continue
        return web.Response(status=502)

    async def start(self) -> None:
        self.session = ClientSession(timeout=ClientTimeout(total=30))
        app = web.Application()
        app.router.add_post("/hook", self.forward)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.session is not None:
            await self.session.close()


class Readers:
    """`/who Yermak` from four readers' chats in turn, through the round robin; each answer is
    timed from the POST to its arrival at the fake."""

    def __init__(self, fake: FakeProcess, proxy: RoundRobin) -> None:
        self.fake, self.proxy = fake, proxy
        self.turn = itertools.count()
        self.asked: Counter[int] = Counter()
        self.update_ids = itertools.count(int(time.time()))
        self.lost = 0

    async def ask(self, session: ClientSession) -> float | None:
        chat = PROBE_CHAT + next(self.turn) % READERS
        update = make_message_update("/who Yermak", chat_id=chat, user_id=chat)
        update["update_id"] = next(self.update_ids)
        self.asked[chat] += 1
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
        started = time.monotonic()
        async with session.post(self.proxy.url, data=json.dumps(update), headers=headers) as r:
            await r.read()
        arrived = await self.fake.call(
            "benchReply", chat=chat, n=self.asked[chat], timeout=ANSWER_WAIT
        )
        if arrived is None:
            self.asked[chat] -= 1  # never answered: the next answer is this count's
            self.lost += 1
            return None
        return float(arrived) - started

    async def probe(self, count: int | None, until: asyncio.Event | None) -> list[float]:
        samples: list[float] = []
        async with ClientSession() as session:
            while (count is not None and len(samples) < count) or (
                until is not None and not until.is_set()
            ):
                if (waited := await self.ask(session)) is not None:
                    samples.append(waited)
                await asyncio.sleep(PROBE_EVERY)
        return samples


async def digests_sent(bot: BotProcess) -> float:
    """Digest messages a replica has sent, from its /metrics."""
    async with (
        ClientSession() as session,
        session.get(f"http://127.0.0.1:{bot.health_port}/metrics") as response,
    ):
        found = _SENT.search(await response.text())
    return float(found.group(1)) if found else 0.0


async def replica_run(
    fake: FakeProcess, args: argparse.Namespace, workdir: Path, replicas: int, limit: int,
    recipients: int, *, kill: bool,
) -> dict[str, Any]:  # fmt: skip
    await fake.call("benchConfig", limit=limit, flood_ratio=0.01, seed=next_seed())
    with fresh_postgres(args.postgres) as url:
        engine = make_engine(url)
        seed(engine, recipients, due_in=timedelta(days=1))
        bots = [
            BotProcess("bot", "webhook", url, env={"BROADCAST_RATE": str(limit)})
            for _ in range(replicas)
        ]
        proxy = RoundRobin([bot.port for bot in bots])
        await proxy.start()
        readers = Readers(fake, proxy)
        handover: dict[str, Any] = {}
        try:
            for bot in bots:
                await bot.start(fake, workdir)  # type: ignore[arg-type]
            for bot in bots:
                await listening(bot.port, 120)
                await listening(bot.health_port, 120)
            await readers.probe(3, None)  # warm up
            idle = await readers.probe(IDLE_PROBES, None)
            readers.lost = 0
            with engine.begin() as connection:  # everyone due now: the sender's next scan
                connection.execute(
                    text("UPDATE subscription SET next_due_at = now() - interval '1 minute'")
                )
            started = time.monotonic()
            done = asyncio.Event()
            probing = asyncio.create_task(readers.probe(None, done))
            deadline = started + 120 + 3 * recipients / limit
            while time.monotonic() < deadline:  # another process: nothing to wait on but it
                served = await fake.call("benchServed")
                if served >= recipients:
                    break
                if kill and not handover and served >= recipients // 3:
                    handover = await kill_sender(bots, engine)
                await asyncio.sleep(0.5)
            total = time.monotonic() - started
            done.set()
            during = await probing
        except BaseException:
            for bot in bots:
                print(f"--- replica {bot.port} log ---\n{bot.tail()}", file=sys.stderr)
            raise
        finally:
            for bot in bots:
                await bot.stop()
            await proxy.stop()
            engine.dispose()
    stats = await fake.call("benchStats")
    result = figures(stats, limit, recipients, idle, during) | {
        "replicas": replicas, "total_seconds": total, "replies_failed": readers.lost,
    }  # fmt: skip
    if handover:
        after = [(t, int(c)) for t, c in stats["digests"] if t > handover["at"]]
        first = {}
        for at, chat in after:
            first.setdefault(chat, at)
        # Held by the dead replica and not yet sent when it died (one whose send it had made
        # was served before; its outcome may even commit after the kill).
        sent_before = {int(c) for t, c in stats["digests"] if t <= handover["at"]}
        stranded = handover["stranded"] - sent_before
        served = [first[c] for c in stranded if c in first]
        result["kill"] = {
            "stranded": len(stranded),
            "first_after": min(served) - handover["at"] if served else None,
            "stranded_served_after": (
                max(served) - handover["at"] if len(served) == len(stranded) else None
            ),
        }
    return result


async def kill_sender(bots: list[BotProcess], engine: Any) -> dict[str, Any]:
    """kill -9 the replica sending digests; what it had claimed; when."""
    sent = [await digests_sent(bot) for bot in bots]
    sender = bots[sent.index(max(sent))]
    assert sender.process is not None
    at = time.monotonic()
    os.kill(sender.process.pid, signal.SIGKILL)
    await sender.process.wait()
    with engine.connect() as connection:
        stranded = set(
            connection.execute(text("SELECT chat_id FROM delivery WHERE state = 'claimed'"))
            .scalars()
            .all()
        )
    return {"at": at, "stranded": {int(chat) for chat in stranded}}


def fmt(r: dict[str, Any]) -> str:
    line = (
        f"{r['replicas']} replicas @{r['limit']:<5} {r['recipients']:>6} recipients · all "
        f"accepted {r['rate']:7.1f} msg/s = {r['share'] * 100:5.1f} % "
        f"({r['fresh_share'] * 100:.1f} % until the last first attempt, then "
        f"{r['tail_seconds']:.1f} s of retries) · bot-caused 429s "
        f"{r['bot_429s']} ({r['bot_429_share'] * 100:.2f} %), injected {r['injected']} · lost "
        f"{r['lost']} · dup {r['duplicates']} · replies lost {r['replies_failed']} · /who "
        f"{who_text(r)} · total "
        f"{r['total_seconds']:.1f} s · load {load_average()}"
    )
    if kill := r.get("kill"):
        line += (
            f"\n  kill -9 of the sender at a third: {kill['stranded']} recipients stranded; the "
            f"first served {_s(kill['first_after'])}, the last "
            f"{_s(kill['stranded_served_after'])} after the kill"
        )
    return line


def _s(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.1f} s"


def goals(r: dict[str, Any]) -> list[tuple[str, bool]]:
    name = f"{r['replicas']} replicas @{r['limit']}"
    if not (kill := r.get("kill")):
        return broadcast_goals(name, r)
    served = kill["stranded_served_after"]
    return [
        (f"{name}: 0 lost, 0 replies lost", r["lost"] == r["replies_failed"] == 0),
        (f"{name}: kill -9 hand-over within 10 s, duplicates ≤ {IN_FLIGHT}",
         served is not None and served <= 10 and r["duplicates"] <= IN_FLIGHT),
    ]  # fmt: skip


async def run(args: argparse.Namespace) -> int:
    fake = FakeProcess(_serve)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-replicas-") as scratch:
            workdir = Path(scratch)
            if args.baseline:
                loop = await loop_run(fake, workdir, 300)
                print(f"AIORateLimiter(max_retries=3) loop @30, one process: "
                      f"{loop['rate']:.1f} msg/s = {loop['share'] * 100:.1f} %, /who p95 "
                      f"{loop['p95']:.0f} ms", flush=True)  # fmt: skip
            for limit in args.limits:
                recipients = args.recipients or (
                    (1_000 if limit <= 30 else 3_000) if args.quick else 10_000
                )
                for replicas in args.replicas:
                    runs = []
                    for _ in range(args.repeat):
                        runs.append(
                            await replica_run(
                                fake, args, workdir, replicas, limit, recipients, kill=False
                            )
                        )
                        print(fmt(runs[-1]), flush=True)
                    result = pool(runs)
                    results.append(result)
                    if len(runs) > 1:
                        print(f"{replicas} replicas @{limit:<5}", fmt_pooled(result), flush=True)
                    if args.baseline:
                        print(f"  {result['rate'] / loop['rate']:.2f}× the loop's accepted "
                              f"rate, /who p95 {result['p95'] / loop['p95']:.2f}× the loop's",
                              flush=True)  # fmt: skip
            if args.kill:
                for replicas in args.replicas:
                    result = await replica_run(
                        fake, args, workdir, replicas, 30, args.kill_recipients, kill=True
                    )
                    results.append(result)
                    print(fmt(result), flush=True)
    finally:
        fake.stop()
    verdicts = [goal for result in results for goal in goals(result)]
    for goal, met in verdicts:
        print(f"  {'met    ' if met else 'NOT met'}  {goal}")
    return 0 if all(met for _, met in verdicts) else 1


def main(argv: list[str] | None = None) -> int:
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    logging.getLogger("bot.delivery.replies").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 / 3,000 recipients")
    parser.add_argument("--recipients", type=int, default=0)
    parser.add_argument("--replicas", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--limits", type=int, nargs="+", default=[30, 1000])
    parser.add_argument("--kill-recipients", type=int, default=600)
    parser.add_argument("--no-kill", dest="kill", action="store_false")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false")
    parser.add_argument(
        "--repeat", type=positive, default=1,
        help="broadcasts of each kind (not kill -9), one after another, each on fresh replicas "
        "and a fresh schema; judged on all of them (budget_figures.pool)",
    )  # fmt: skip
    parser.add_argument(
        "--postgres", default=os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    with contextlib.suppress(KeyboardInterrupt):
        return run_on_bot_loop(run(parser.parse_args(argv)))
    return 1


if __name__ == "__main__":
    sys.exit(main())
