"""Updates per second: the bot against a bare PTB bot, webhook and polling, 1 vs 2 replicas.

Each bot runs as its own process exactly as deployed (`python -m bot`, configured by
environment variables) against the strict fake Bot API, which lives in this process along
with the load generator. Webhook updates are POSTed with the secret header (up to 40 at a
time, as Telegram does); polling updates are queued on the fake for getUpdates. A run counts
the replies the fake accepted (sendMessage) and divides by the wall time from the first
update to the last reply.

The baseline is a bare PTB bot (same PTB, same `concurrent_updates`) that answers every
message with a fixed string, measured in the same run on the same machine: the ratios are
the figures that travel between machines, not the absolute numbers.

    .venv/bin/python -m bench.throughput                 # prints, and writes the report
    .venv/bin/python -m bench.throughput --updates 500 --output ''   # quick, print only

PostgreSQL (for the replica comparison) comes from --postgres or TEST_POSTGRES_URL; without
it that part is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import shlex
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, TCPConnector

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/throughput.py` as well as `-m bench.throughput`
    sys.path.insert(0, str(ROOT))

from bench.databases import fresh_postgres, fresh_sqlite, postgres_version, sqlite_template  # noqa: E402
from tests.fakebotapi import FakeBotAPI  # noqa: E402
from tests.fakebotapi.limits import Limits  # noqa: E402

SECRET = "bench-webhook-secret"
CONCURRENCY = 40  # Telegram's default max_connections for a webhook
WARMUP = 60
CHATS = 500  # distinct chats, so per-chat ordering never serialises the run
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
_update_ids = itertools.count(1)  # ids only grow across the whole run, as Telegram's do


# ----------------------------------------------------------------------------- bare bot


def run_bare_bot() -> None:
    """The baseline, run in its own process: PTB answering every message with "ok"."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "ok")

    base = os.environ["BENCH_BASE_URL"]
    application = (
        ApplicationBuilder()
        .token(os.environ["BENCH_TOKEN"])
        .base_url(base)
        .base_file_url(base.replace("/bot", "/file/bot", 1))
        .concurrent_updates(True)
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, answer))
    if os.environ["BENCH_MODE"] == "webhook":
        port = int(os.environ["BENCH_PORT"])
        application.run_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="hook",
            webhook_url=f"http://127.0.0.1:{port}/hook",
            secret_token=SECRET,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)


# ----------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class BotProcess:
    """One bot process: ours (`python -m bot`) or the bare baseline."""

    kind: str  # "bot" or "bare"
    mode: str  # "webhook" or "polling"
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    log: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # more settings (BROADCAST_RATE, ...)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def environment(self, fake: FakeBotAPI) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOK_", "HEALTH_"))}
        env["PYTHONPATH"] = str(ROOT)
        if self.kind == "bare":
            env.update(
                BENCH_TOKEN=fake.token,
                BENCH_BASE_URL=f"{fake.url}/bot",
                BENCH_MODE=self.mode,
                BENCH_PORT=str(self.port),
            )
            return env
        assert self.database_url is not None
        env.update(
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_API_BASE_URL=f"{fake.url}/bot",
            DATABASE_URL=self.database_url,
            ADMIN_IDS="",
            LOG_LEVEL="WARNING",
            BROADCAST_RATE="10000",
            EVENT_LOOP="asyncio",  # the default deployment's loop (30 a second), not uvloop
            HEALTH_LISTEN="127.0.0.1",
            HEALTH_PORT=str(self.health_port),
        )
        if self.mode == "webhook":
            env.update(
                WEBHOOK_URL=self.url,
                WEBHOOK_SECRET=SECRET,
                WEBHOOK_LISTEN="127.0.0.1",
                WEBHOOK_PORT=str(self.port),
            )
        return env | self.env

    async def start(self, fake: FakeBotAPI, workdir: Path) -> None:
        args = ["-m", "bot", "run"] if self.kind == "bot" else ["-m", "bench.throughput", "--bare"]
        self.log = workdir / f"{self.kind}-{self.mode}-{self.port}.log"
        with self.log.open("wb") as log:
            # cwd is a scratch folder, so a developer's .env can't change what is measured.
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                *args,
                env=self.environment(fake),
                cwd=workdir,
                stdout=log,
                stderr=log,
            )

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 20)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log else ""


async def listening(port: int, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)  # start-up of another process: nothing to await on
            continue
        writer.close()
        await writer.wait_closed()
        return


async def ready(bots: Sequence[BotProcess], fake: FakeBotAPI) -> None:
    for bot in bots:
        if bot.mode == "webhook":
            await listening(bot.port)
        if bot.kind == "bot":
            await listening(bot.health_port)
    if bots[0].mode == "webhook":
        await fake.wait_for(lambda f: f.webhook is not None, timeout=30)
    else:
        await fake.wait_for(lambda f: f.pending_long_polls > 0, timeout=30)


# ----------------------------------------------------------------------------- load


def make_updates(fake: FakeBotAPI, command: str, count: int) -> list[dict[str, Any]]:
    updates = []
    for number in range(count):
        chat = 10_000 + number % CHATS
        update = fake.make_message_update(command, chat_id=chat, user_id=chat)
        update["update_id"] = next(_update_ids)
        updates.append(update)
    return updates


async def post_all(urls: Sequence[str], updates: Sequence[dict[str, Any]]) -> int:
    """POST every update, round-robin over the replicas; returns how many were refused."""
    bodies = iter(enumerate(json.dumps(u).encode() for u in updates))
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    refused = 0

    async def worker(session: ClientSession) -> None:
        nonlocal refused
        for number, body in bodies:  # one iterator shared by all workers
            url = urls[number % len(urls)]
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                refused += response.status != 200

    async with ClientSession(connector=TCPConnector(limit=CONCURRENCY)) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    return refused


async def deliver(
    fake: FakeBotAPI, bots: Sequence[BotProcess], updates: Sequence[dict[str, Any]]
) -> float:
    """Send the updates and wait for their replies; returns the wall time in seconds."""
    target = len(fake.sent) + len(updates)
    started = time.perf_counter()
    if bots[0].mode == "webhook":
        refused = await post_all([b.url for b in bots], updates)
        if refused:
            raise RuntimeError(f"{refused} webhook deliveries were refused")
    else:
        for update in updates:
            fake.push_update(update)
    await fake.wait_for(lambda f: len(f.sent) >= target, timeout=300)
    return time.perf_counter() - started


@dataclass
class Result:
    name: str
    updates: int
    seconds: float
    bot_cpu: float  # CPU seconds of the bot process(es) per wall second, during the run
    bench_cpu: float  # the same for this process (fake Bot API + load generator)

    @property
    def rate(self) -> float:
        return self.updates / self.seconds


async def measure(
    name: str, bots: Sequence[BotProcess], command: str, count: int, workdir: Path
) -> Result:
    # Updates a second the bot can take, not Telegram's pace: no bot-wide window in the fake
    # (the bare bot doesn't pace itself), and the bot's own send budget out of the way.
    async with FakeBotAPI(limits=Limits(bot_per_second=None)) as fake:
        try:
            for bot in bots:
                await bot.start(fake, workdir)
            await ready(bots, fake)
            await deliver(fake, bots, make_updates(fake, command, WARMUP))
            replies_per_update = len(fake.sent) / WARMUP
            if abs(replies_per_update - 1) > 1e-9:
                raise RuntimeError(
                    f"{name}: expected one reply per update, got {replies_per_update}"
                )
            updates = make_updates(fake, command, count)
            pids = [b.process.pid for b in bots if b.process]
            cpu_before = sum(cpu_seconds(p) for p in pids)
            own_before = time.process_time()
            seconds = await deliver(fake, bots, updates)
            bot_cpu = (sum(cpu_seconds(p) for p in pids) - cpu_before) / seconds
            bench_cpu = (time.process_time() - own_before) / seconds
            errors = [c for c in fake.calls if c.status not in (None, 200)]
            if errors:
                raise RuntimeError(f"{name}: the fake refused {len(errors)} calls: {errors[0]}")
        except BaseException:
            for bot in bots:
                print(f"--- {bot.kind} {bot.mode} log ---\n{bot.tail()}", file=sys.stderr)
            raise
        finally:
            for bot in bots:
                await bot.stop()
    result = Result(name, count, seconds, bot_cpu, bench_cpu)
    print(
        f"{name:<44} {result.rate:8.1f} updates/s  "
        f"(bot CPU {result.bot_cpu:4.0%}, fake+load {result.bench_cpu:4.0%})",
        flush=True,
    )
    return result


# ----------------------------------------------------------------------------- report

# A factory builds the bot processes of one run; it may enter context managers (a fresh
# PostgreSQL schema) into the stack, which is closed when the run ends.
Factory = Callable[[contextlib.ExitStack], list[BotProcess]]


@dataclass
class Comparison:
    label: str
    measured: list[Result]
    baseline: list[Result]

    @staticmethod
    def median(results: list[Result]) -> Result:
        return sorted(results, key=lambda r: r.rate)[len(results) // 2]

    @property
    def ratio(self) -> float:
        return self.median(self.measured).rate / self.median(self.baseline).rate

    @property
    def round_ratios(self) -> list[float]:
        return [m.rate / b.rate for m, b in zip(self.measured, self.baseline, strict=True)]


async def compare(
    label: str,
    measured: tuple[str, str, Factory],
    baseline: tuple[str, str, Factory],
    args: argparse.Namespace,
    workdir: Path,
) -> Comparison:
    """Alternate baseline and measured runs, `rounds` times, so both see the same machine."""
    comparison = Comparison(label, [], [])
    for _ in range(args.rounds):
        for (name, command, factory), results in (
            (baseline, comparison.baseline),
            (measured, comparison.measured),
        ):
            with contextlib.ExitStack() as stack:
                bots = factory(stack)
                results.append(await measure(name, bots, command, args.updates, workdir))
    return comparison


async def run(args: argparse.Namespace) -> list[Comparison]:
    comparisons = []
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as scratch:
        workdir = Path(scratch)
        template = sqlite_template(workdir)

        def bare(mode: str) -> Factory:
            return lambda stack: [BotProcess("bare", mode)]

        def ours_on_sqlite(mode: str) -> Factory:
            return lambda stack: [BotProcess("bot", mode, fresh_sqlite(template, workdir))]

        def ours_on_postgres(replicas: int) -> Factory:
            def factory(stack: contextlib.ExitStack) -> list[BotProcess]:
                url = stack.enter_context(fresh_postgres(args.postgres))
                return [BotProcess("bot", "webhook", url) for _ in range(replicas)]

            return factory

        for mode in ("webhook", "polling"):
            comparisons.append(
                await compare(
                    f"one process, {mode}, SQLite (vs bare PTB)",
                    (f"briefing bot, {mode}, SQLite", args.command, ours_on_sqlite(mode)),
                    (f"bare PTB bot, {mode}", "/start", bare(mode)),
                    args,
                    workdir,
                )
            )
        if args.postgres_version:
            comparisons.append(
                await compare(
                    "two webhook replicas on PostgreSQL (vs one)",
                    ("briefing bot, webhook, PostgreSQL x2", args.command, ours_on_postgres(2)),
                    ("briefing bot, webhook, PostgreSQL x1", args.command, ours_on_postgres(1)),
                    args,
                    workdir,
                )
            )
    return comparisons


def report(args: argparse.Namespace, comparisons: list[Comparison], load: str) -> str:
    lines = [
        "# Benchmarks: throughput at scale",
        "",
        f"Command: `{shlex.join(['.venv/bin/python', '-m', 'bench.throughput', *args.argv])}`",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {os.cpu_count()} CPU ({platform.machine()}), Python "
        f"{platform.python_version()}, PostgreSQL "
        f"{args.postgres_version or 'not reachable (replicas skipped)'}",
        f"- Load average before / after: {load}",
        f"- Load: {args.updates} `{args.command}` updates per run from {CHATS} chats, after "
        f"{WARMUP} warm-up updates; webhook POSTs {CONCURRENCY} at a time, polling updates "
        "queued for getUpdates; one reply each, counted at the fake Bot API.",
        f"- Each comparison alternates baseline and measured runs {args.rounds} times; "
        "rates are the medians.",
        "",
        "| Comparison | Measured (updates/s) | Baseline (updates/s) | Ratio | Per-round ratios |",
        "|---|---:|---:|---:|---|",
    ]
    for c in comparisons:
        lines.append(
            f"| {c.label} | {c.median(c.measured).rate:.0f} | {c.median(c.baseline).rate:.0f} "
            f"| {c.ratio:.2f} | {', '.join(f'{r:.2f}' for r in c.round_ratios)} |"
        )
    lines += ["", "| Run | Updates/s | Bot CPU | Fake + load CPU |", "|---|---:|---:|---:|"]
    for c in comparisons:
        for result in c.baseline + c.measured:
            lines.append(
                f"| {result.name} | {result.rate:.0f} | {result.bot_cpu:.0%} | "
                f"{result.bench_cpu:.0%} |"
            )
    lines += [
        "",
        "CPU columns: CPU seconds per wall second during the measured part of a run (100% = "
        "one core); the bot column sums the replicas. The fake Bot API, the load generator "
        "and PostgreSQL share the same cores as the bots.",
    ]
    return "\n".join(lines) + "\n"


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.throughput", description=__doc__)
    parser.add_argument("--updates", type=int, default=2000, help="updates per measured run")
    parser.add_argument("--command", default="/timeline", help="what users send")
    parser.add_argument(
        "--postgres", default=os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternations per comparison")
    parser.add_argument("--output", default="", help="also write the report to this file")
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare:
        run_bare_bot()
        return 0
    args.argv = sys.argv[1:] if argv is None else argv
    args.postgres_version = postgres_version(args.postgres)
    before = load_average()
    comparisons = asyncio.run(run(args))
    text_report = report(args, comparisons, f"{before} → {load_average()}")
    print()
    print(text_report)
    if args.output:
        (ROOT / args.output).write_text(text_report, encoding="utf-8")
        print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
