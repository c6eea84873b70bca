"""End-to-end latency and idle memory of the bot, each against a baseline from the same run.

Every bot runs as its own process and long-polls its own strict fake Bot API
(tests/fakebotapi/, HTTP on 127.0.0.1), served by this process as Telegram's servers would
be: an update is pushed to the fake, and the round trip ends when the bot's reply reaches it.

- Briefing Bot: `python -m bot`, exactly as an operator starts it, answering `/timeline`.
- The baseline: a bare python-telegram-bot application answering `/timeline` with a fixed
  string. Budget: Briefing Bot's median at most 1.5× the baseline's.
- For reference, a bare application sending Briefing Bot's own first timeline page (rendered
  once up front): it separates what our code costs from what a richer message costs.
- And Briefing Bot on PTB's default HTTP transport (httpx) instead of its own
  (`bot/transport/request.py`, aiohttp): what the transport is worth, and what the rest costs.

Rounds alternate between the bots, so all see the same machine. Memory is each process's
resident set (VmRSS in /proc/<pid>/status) once it has started and is idle, long-polling, and
again after the rounds. Budget: 100 MB for Briefing Bot.

    python -m bench.end_to_end [--rounds 300] [--events 0] [--question uncached]

`--question uncached` asks the two Briefing Bots something new every round (`/who Yermak 1`,
`/who Yermak 2`, ...), so no cached reply can answer: the fuzzy match and the queries run each
time. `--question plain` asks questions in plain words instead ("Who is Yermak? 1", "Хто такий
Єрмак? 2", "Кто такой Ермак? 3", ...). The bare bots still answer `/timeline`.

Exits 1 when a budget is exceeded.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.synthetic import grow
from bot.presenters.entries import timeline_page as render_timeline_page
from knowledge.read.timeline import TimelineFilter, timeline_page
from knowledge.storage.database import make_engine, session_scope
from knowledge.write.importer import prepare_database
from tests.fakebotapi import FakeBotAPI
from tests.fakebotapi.limits import Limits

RATIO_BUDGET = 1.5
RSS_BUDGET_MB = 100.0
CHAT_ID = 4242
WARM_UP = 20
# Between rounds, so that no bot is timed while another is still busy with its last reply.
# (A benchmark may pause; the tests must not.)
IDLE_GAP = 0.005

BARE_BOT = """
import json, os
from telegram import InlineKeyboardMarkup
from telegram.ext import ApplicationBuilder, CommandHandler

REPLY = json.loads(os.environ.get("BENCH_REPLY") or "null")

async def timeline(update, context):
    if REPLY is None:
        await update.effective_message.reply_text("A fixed answer.")
    else:
        markup = InlineKeyboardMarkup.de_json(REPLY["reply_markup"], context.bot)
        await update.effective_message.reply_text(
            REPLY["text"], parse_mode="HTML", reply_markup=markup)

app = (ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"])
       .base_url(os.environ["TELEGRAM_API_BASE_URL"]).build())
app.add_handler(CommandHandler("timeline", timeline))
app.run_polling()
"""

# `python -m bot`, with PTB's default transport (HTTPXRequest, PTB's default pool sizes).
ON_HTTPX = """
import sys
from telegram.request import HTTPXRequest
import bot.app

build = bot.app.build_application

def on_httpx(settings, engine, **kwargs):
    kwargs.setdefault("request", HTTPXRequest(connection_pool_size=256))
    kwargs.setdefault("updates_request", HTTPXRequest(connection_pool_size=1))
    return build(settings, engine, **kwargs)

bot.app.build_application = on_httpx
from bot.__main__ import main
sys.exit(main(["run"]))
"""


@dataclass
class Bot:
    """One bot process, the fake it polls, and what was measured of it."""

    name: str
    args: list[str]
    fake: FakeBotAPI
    extra_env: dict[str, str] = field(default_factory=dict)
    question: Callable[[int], str] = lambda _: "/timeline"
    process: asyncio.subprocess.Process | None = None
    times: list[float] = field(default_factory=list)
    idle_mb: float = 0.0
    busy_mb: float = 0.0
    cpu_ms: float = 0.0  # CPU time the process spent during the timed rounds

    @property
    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (/proc/<pid>/stat)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @property
    def rss_mb(self) -> float:
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS in /proc status (Linux only)")


@asynccontextmanager
async def running(bot: Bot, folder: Path, database_url: str) -> AsyncIterator[Bot]:
    """Start the bot's process against its fake; stop it with SIGINT, as Ctrl-C would."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(folder),
        "TELEGRAM_BOT_TOKEN": bot.fake.token,
        "TELEGRAM_API_BASE_URL": f"{bot.fake.url}/bot",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        # The time to answer, not Telegram's pace: back-to-back rounds would otherwise wait
        # for the send budget's turn (bench.send_budget measures the pace). Bare bots ignore it.
        "BROADCAST_RATE": "10000",
        # ...on the event loop the default deployment runs on (at 30 a second: asyncio's; the
        # high rate above would otherwise pick uvloop, bot/transport/runtime.py).
        "EVENT_LOOP": "asyncio",
        **bot.extra_env,
    }
    bot.process = await asyncio.create_subprocess_exec(
        sys.executable, *bot.args, cwd=folder, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await bot.fake.wait_for(lambda f: f.pending_long_polls > 0, timeout=120)
        bot.idle_mb = bot.rss_mb
        yield bot
    finally:
        bot.process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(bot.process.communicate(), timeout=60)
    if bot.process.returncode != 0:
        raise RuntimeError(
            f"{bot.name} exited {bot.process.returncode}: {stderr.decode()[-2000:]}"
        )


async def round_trip(fake: FakeBotAPI, text: str = "/timeline") -> float:
    """Milliseconds from pushing an update to the fake until the bot's reply arrives there."""
    before = len(fake.sent)
    update = fake.make_message_update(text, CHAT_ID, CHAT_ID)
    started = time.perf_counter()
    fake.push_update(update)
    await fake.wait_for(lambda f: len(f.sent) > before, timeout=30)
    return (time.perf_counter() - started) * 1000


def first_page(database_url: str) -> dict[str, object]:
    """Briefing Bot's first /timeline page as Bot API parameters."""
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        page = timeline_page(session=session, flt=TimelineFilter())
    engine.dispose()
    reply = render_timeline_page(page, "", "-")
    assert reply.keyboard is not None
    return {"text": reply.parts[0], "reply_markup": reply.keyboard.to_dict()}


QUESTIONS: dict[str, Callable[[int], str]] = {
    "cached": lambda _: "/timeline",
    "uncached": lambda n: f"/who Yermak {n}",
    # Questions in plain words, new every round, in English, Ukrainian and Russian in turn:
    # the memory after the rounds holds both dictionaries and the date-phrase data.
    "plain": lambda n: ("Who is Yermak? {}", "Хто такий Єрмак? {}", "Кто такой Ермак? {}")[
        n % 3
    ].format(n),
}


async def measure(
    folder: Path, database_url: str, rounds: int, question: str = "cached"
) -> list[Bot]:
    page = json.dumps(first_page(database_url))
    async with AsyncExitStack() as stack:
        fakes = [
            # No bot-wide window: the bare bots don't pace themselves and would meet 429s.
            await stack.enter_async_context(
                FakeBotAPI(token=token, limits=Limits(bot_per_second=None))
            )
            for token in (
                "123456:TEST-TOKEN", "654321:BARE-TOKEN-0", "654322:SAME-TOKEN-0",
                "123457:HTTPX-TOKEN",
            )
        ]  # fmt: skip
        bots = [
            Bot("Briefing Bot (python -m bot)", ["-m", "bot"], fakes[0],
                question=QUESTIONS[question]),
            Bot("bare PTB, fixed string", ["-c", BARE_BOT], fakes[1]),
            Bot("bare PTB, the same page pre-rendered", ["-c", BARE_BOT], fakes[2],
                {"BENCH_REPLY": page}),
            Bot("Briefing Bot on PTB's default transport (httpx)", ["-c", ON_HTTPX], fakes[3],
                question=QUESTIONS[question]),
        ]  # fmt: skip
        for bot in bots:
            await stack.enter_async_context(running(bot, folder, database_url))
        asked = itertools.count(1)
        for bot in bots:
            for _ in range(WARM_UP):
                await round_trip(bot.fake, bot.question(next(asked)))
        cpu_before = [bot.cpu_seconds for bot in bots]
        for n in range(rounds):
            for bot in bots:
                bot.times.append(await round_trip(bot.fake, bot.question(n + 10_000)))
                await asyncio.sleep(IDLE_GAP)
        for bot, before in zip(bots, cpu_before, strict=True):
            bot.cpu_ms = (bot.cpu_seconds - before) * 1000 / rounds
            bot.busy_mb = bot.rss_mb
        assert fakes[2].sent[-1].text == json.loads(page)["text"]
        assert fakes[0].sent[-1].text == fakes[3].sent[-1].text
        if question == "cached":
            assert fakes[0].sent[-1].text == fakes[2].sent[-1].text
        refused = [c.description for f in fakes for c in f.calls if c.status not in (200, None)]
        assert not refused, refused
    return bots


def _stats(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, round(0.95 * len(ordered)) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300, help="round trips per bot")
    parser.add_argument(
        "--events", type=int, default=0, help="grow the knowledge base first (default: bundled)"
    )
    parser.add_argument("--question", choices=sorted(QUESTIONS), default="cached")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="briefing-e2e-") as name:
        folder = Path(name)
        database_url = f"sqlite:///{folder / 'bench.db'}"
        engine = make_engine(database_url)
        prepare_database(engine)
        if args.events:
            grow(engine, events=args.events, actors=args.events // 20, sources=args.events // 200)
        engine.dispose()
        real, bare, same, httpx = asyncio.run(
            measure(folder, database_url, args.rounds, args.question)
        )

    baseline = _stats(bare.times)[0]
    print(f"End to end through the fake Bot API: {args.rounds} alternating rounds per bot, "
          "each bot its own process (ms).\n")  # fmt: skip
    asked = {
        "cached": "/timeline",
        "uncached": "/timeline (bare) or /who Yermak <n>",
        "plain": "/timeline (bare) or a question in plain words",
    }[args.question]
    print(f"| bot answering {asked} | median | p95 | median ÷ baseline | CPU per update |")
    print("|---|---:|---:|---:|---:|")
    for bot in (bare, real, same, httpx):
        median, p95 = _stats(bot.times)
        print(f"| {bot.name} | {median:.2f} | {p95:.2f} | {median / baseline:.2f}× | "
              f"{bot.cpu_ms:.2f} |")  # fmt: skip
    ratio = _stats(real.times)[0] / baseline
    verdict = "ok" if ratio <= RATIO_BUDGET else "OVER"
    print(f"\nBriefing Bot ÷ baseline: {ratio:.2f}× (budget ≤ {RATIO_BUDGET}×) {verdict}")
    same_ratio = _stats(real.times)[0] / _stats(same.times)[0]
    print(f"Briefing Bot ÷ the same page pre-rendered: {same_ratio:.2f}×")
    httpx_ratio = _stats(httpx.times)[0] / baseline
    print(f"Briefing Bot on httpx ÷ baseline: {httpx_ratio:.2f}× (for reference)\n")
    print("Resident memory, VmRSS (MB):\n")
    print(f"| process | idle | after {WARM_UP + args.rounds} commands |")
    print("|---|---:|---:|")
    for bot in (bare, real, httpx):
        print(f"| {bot.name} | {bot.idle_mb:.1f} | {bot.busy_mb:.1f} |")
    memory_ok = real.idle_mb <= RSS_BUDGET_MB
    verdict = "ok" if memory_ok else "OVER"
    print(f"\nBriefing Bot idle: {real.idle_mb:.1f} MB, {real.idle_mb / bare.idle_mb:.2f}× the "
          f"bare bot (budget ≤ {RSS_BUDGET_MB:.0f} MB) {verdict}")  # fmt: skip
    return 0 if ratio <= RATIO_BUDGET and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main())
