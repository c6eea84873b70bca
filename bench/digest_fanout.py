"""Digest fan-out: one digest to 10,000 recipients through the fake Bot API, and the common
alternative (a loop of send_message behind PTB's AIORateLimiter) under 1 % injected 429s.

    python -m bench.digest_fanout            # about 6 minutes
    python -m bench.digest_fanout --quick    # about 2.5 minutes, shorter windows
    python -m bench.digest_fanout --transport httpx   # the outbox runs on PTB's httpx

The fake Bot API (tests/fakebotapi/, strict HTML parsing included) runs in a child process,
as Telegram is remote: its CPU doesn't compete with the bot's event loop (but does compete for
the machine's cores). The bot side is the real application built by `build_application` on a
fresh SQLite database: 10,000 subscriptions, one change, one planning run, then the delivery
worker. `/who Yermak` is sent to the bot during the fan-out and timed from update to reply,
against the same command on the idle bot.

Scenarios:
  0. The ceilings: plain send_message, 16 in flight, no limits, no database, on PTB's default
     transport (HTTPXRequest) and on the bot's (bot.transport.request.AiohttpRequest), same fake.
  1. BROADCAST_RATE 30 (the default): achieved rate over a 60 s window (--quick: 15 s);
     the goal is >= 95 % of the limit.
  2. BROADCAST_RATE 1,000 (paid broadcasts): all 10,000; the goal is >= 90 %.
  3. 1 % of digest sends answered 429 (retry_after 1 s), at 30 msg/s, N recipients
     (1,800; --quick: 300): the outbox worker vs a send_message loop behind AIORateLimiter
     (PTB's defaults: max_retries=0; and with max_retries=3): total time, messages lost,
     duplicates, /who latency.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import logging
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert
from sqlmodel import select
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter
from telegram.request import HTTPXRequest

from bench.fake_process import FakeProcess
from bot.app import build_application
from bot.config import load_settings
from bot.delivery.scheduler import AUTOSTART, drain_outbox, run_due
from knowledge.digests.feed import latest_revision_id
from knowledge.digests.outbox import next_pending_at
from knowledge.models import Entry, Subscription
from knowledge.storage.database import make_engine, session_scope
from knowledge.write.curation import Author, update_entry
from knowledge.write.importer import prepare_database
from tests.fakebotapi import BotAPIError, FakeBotAPI, make_message_update

FIRST_CHAT = 10_000_000
PROBE_CHAT = 4242
PROBE_EVERY = 0.25  # seconds between /who probes during a fan-out
IDLE_PROBES = 60


# --- the fake Bot API, in its own process -----------------------------------------------------


class BenchFake(FakeBotAPI):
    """The strict fake, plus: random 429s for digest recipients, and send times for stats."""

    def __init__(self) -> None:
        super().__init__()
        # This benchmark measures the sender's own speed: no bot-wide or per-chat windows
        # (bench/send_budget.py measures the bot under Telegram's limits).
        self.limits.bot_per_second = self.limits.group_per_window = None
        self.flood_ratio = 0.0
        self.rng = random.Random(7)
        self.accepted: list[tuple[float, int]] = []  # (time, chat) of every digest accepted
        self.register_method("benchConfig", self._config)
        self.register_method("benchStats", self._stats)

    def _config(self, params: dict[str, Any]) -> bool:
        self.flood_ratio = float(params.get("flood_ratio", 0))
        self.accepted.clear()
        self.calls.clear()
        self.sent.clear()
        self._messages.clear()
        return True

    def _stats(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"accepted": self.accepted}

    async def _m_send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        digest = isinstance(chat_id, int) and chat_id >= FIRST_CHAT
        if digest and self.flood_ratio and self.rng.random() < self.flood_ratio:
            raise BotAPIError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        result = await super()._m_send_message(params)
        if digest:
            self.accepted.append((time.time(), int(chat_id)))  # type: ignore[arg-type]
        if len(self.calls) > 2000:  # the fake keeps every call; keep its cost per call flat
            self.calls.clear()
            self.sent.clear()
            self._messages.clear()
        return result


def _serve(port_queue: Any) -> None:
    gc.disable()  # a short-lived server: collections over its growing heap only add noise

    async def main() -> None:
        async with BenchFake() as fake:
            port_queue.put(fake.url)
            await asyncio.Event().wait()

    asyncio.run(main())


# --- the bot side -----------------------------------------------------------------------------


def build_database(path: Path, recipients: int) -> Engine:
    """The bundled briefing, `recipients` daily subscribers (due now) and one unseen change."""
    engine = make_engine(f"sqlite:///{path}")
    prepare_database(engine)
    seed(engine, recipients)
    return engine


def seed(engine: Engine, recipients: int, due_in: timedelta = timedelta(minutes=-1)) -> None:
    """`recipients` daily subscribers (due `due_in` from now) and one change they haven't seen,
    in a prepared database."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        cursor = latest_revision_id(session=session)
        rows = [
            {"chat_id": FIRST_CHAT + i, "chat_type": "private", "title": "", "frequency": "daily",
             "at_time": "09:00", "timezone": "UTC", "cursor": cursor, "active": True,
             "next_due_at": now + due_in, "created_at": now, "updated_at": now}
            for i in range(recipients)
        ]  # fmt: skip
        session.execute(insert(Subscription), rows)
        entry = session.exec(select(Entry).where(Entry.slug == "vilnius-summit-2023")).one()
        assert entry.id is not None
        update_entry(session, entry.id, {"summary": "Allies agreed a new council & format."},
                     author=Author(1, "bench"))  # fmt: skip


@dataclass
class Latency:
    samples: list[float]
    lags: list[float] = field(default_factory=list)  # seconds a 5 ms timer fired late

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000 if self.samples else float("nan")

    @property
    def lag_p99_ms(self) -> float:
        ordered = sorted(self.lags)
        return ordered[int(0.99 * (len(ordered) - 1))] * 1000 if ordered else float("nan")


async def _sample_lag(stop: asyncio.Event, into: list[float]) -> None:
    """How late the event loop runs a 5 ms timer, sampled until `stop`."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        into.append(time.perf_counter() - started - 0.005)


# --probe uncached: every probe asks something new (`/who Yermak 1`, `/who Yermak 2`, ...), so
# no cached reply can answer it and each one runs the fuzzy match and the queries afresh.
_PROBE_TEXT = {"cached": lambda n: "/who Yermak", "uncached": lambda n: f"/who Yermak {n}"}
_probe = {"text": _PROBE_TEXT["cached"], "count": itertools.count(1)}


async def who(application: Any) -> float:
    text = _probe["text"](next(_probe["count"]))  # type: ignore[operator]
    payload = make_message_update(text, chat_id=PROBE_CHAT, user_id=PROBE_CHAT)
    started = time.perf_counter()
    await application.process_update(Update.de_json(payload, application.bot))
    return time.perf_counter() - started


async def idle_latency(application: Any) -> Latency:
    """/who on the idle bot, spaced exactly as during the fan-out: back-to-back probes run
    with hot caches and measure 30-50 % faster, which would flatter the idle figure."""
    for _ in range(5):  # warm up (connections, the alias index)
        await who(application)
    samples = []
    for _ in range(IDLE_PROBES):
        samples.append(await who(application))
        await asyncio.sleep(PROBE_EVERY)
    return Latency(samples)


async def probed(application: Any, sending: Coroutine[Any, Any, None]) -> tuple[float, Latency]:
    """Run `sending` to the end while probing /who; its wall time and the probes' latency."""
    begun = time.perf_counter()
    task = asyncio.create_task(sending)
    during = await probe_while(application, task)
    await task
    return time.perf_counter() - begun, during


async def probe_while(application: Any, running: asyncio.Task[Any]) -> Latency:
    samples: list[float] = []
    lags: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_lag(stop, lags))
    while not running.done():
        samples.append(await who(application))
        await asyncio.sleep(PROBE_EVERY)
    stop.set()
    await sampler
    return Latency(samples, lags)


def transport_kwargs(transport: str) -> dict[str, Any]:
    """`build_application` arguments for a transport: "default" is what the bot uses
    (bot.transport.request.AiohttpRequest), "httpx" PTB's own default, HTTPXRequest."""
    if transport == "httpx":
        return {"request": HTTPXRequest(), "updates_request": HTTPXRequest(connection_pool_size=1)}
    return {}


def make_app(fake: FakeProcess, engine: Engine, rate: float, **kwargs: Any) -> Any:
    settings = load_settings(
        telegram_bot_token=fake.token, telegram_api_base_url=f"{fake.url}/bot",
        database_url="sqlite://", broadcast_rate=rate, _env_file=None,
    )  # fmt: skip
    application = build_application(settings, engine, **kwargs)
    application.bot_data[AUTOSTART] = False
    return application


async def outbox_run(
    fake: FakeProcess,
    workdir: Path,
    *,
    recipients: int,
    rate: float,
    window: float | None,
    flood_ratio: float = 0.0,
    transport: str = "default",
) -> dict[str, Any]:
    """Plan one digest to `recipients` and deliver it with the outbox worker."""
    engine = build_database(workdir / f"outbox-{rate}-{recipients}-{flood_ratio}.db", recipients)
    await fake.call("benchConfig", flood_ratio=flood_ratio)
    application = make_app(fake, engine, rate, **transport_kwargs(transport))
    async with application:
        idle = await idle_latency(application)
        started = time.perf_counter()
        plan = await run_due(application)
        plan_seconds = time.perf_counter() - started
        deadline: list[float] = []

        def stop() -> bool:
            return bool(deadline) and time.perf_counter() >= deadline[0]

        async def deliver() -> None:
            first = time.perf_counter()
            if window is not None:
                deadline.append(first + window)
            while not stop():
                await drain_outbox(application, stop=stop)
                with session_scope(engine) as session:
                    due = next_pending_at(session=session, now=datetime.now(UTC))
                if due is None:
                    return
                await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))

        total, during = await probed(application, deliver())
    engine.dispose()
    accepted = (await fake.call("benchStats"))["accepted"]
    return summarise(accepted, recipients, rate, window, total, idle, during) | {
        "plan_seconds": plan_seconds,
        "planned": plan.digests,
    }


async def loop_run(
    fake: FakeProcess, workdir: Path, *, recipients: int, flood_ratio: float, max_retries: int
) -> dict[str, Any]:
    """The common approach: `for chat in chats: await bot.send_message(...)` behind
    AIORateLimiter (30 msg/s overall, 20/min per group), errors logged and skipped."""
    engine = build_database(workdir / f"loop-{max_retries}.db", 1)
    await fake.call("benchConfig", flood_ratio=flood_ratio)
    limiter: AIORateLimiter[Any] = AIORateLimiter(max_retries=max_retries)
    application = make_app(fake, engine, 30, rate_limiter=limiter)
    text = "<b>📰 Briefing digest</b>\n1 change since the last digest."
    async with application:
        idle = await idle_latency(application)

        async def deliver() -> None:
            for i in range(recipients):
                try:
                    await application.bot.send_message(FIRST_CHAT + i, text)
                except TelegramError:
                    pass  # lost: the loop has no outbox to come back to

        total, during = await probed(application, deliver())
    engine.dispose()
    accepted = (await fake.call("benchStats"))["accepted"]
    return summarise(accepted, recipients, 30, None, total, idle, during)


async def ceiling_run(fake: FakeProcess, workdir: Path, *, messages: int, transport: str) -> float:
    """What this machine can push at all: send_message with 16 in flight, no limits, no
    database — the ceiling for any sender built on PTB with that transport here."""
    engine = build_database(workdir / f"ceiling-{transport}.db", 1)
    await fake.call("benchConfig", flood_ratio=0)
    application = make_app(fake, engine, 30, **transport_kwargs(transport))
    async with application:
        slots = asyncio.Semaphore(16)
        text = "<b>📰 Briefing digest</b>\n1 change since the last digest.\n" + "x" * 300

        async def one(i: int) -> None:
            async with slots:
                await application.bot.send_message(FIRST_CHAT + i, text)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(messages)))
        elapsed = time.perf_counter() - started
    engine.dispose()
    return messages / elapsed


def summarise(
    accepted: list[list[float]],
    recipients: int,
    rate: float,
    window: float | None,
    total: float,
    idle: Latency,
    during: Latency,
) -> dict[str, Any]:
    times = sorted(t for t, _ in accepted)
    per_chat = Counter(int(c) for _, c in accepted)
    if window is not None and times:
        span = window
        in_window = sum(1 for t in times if t < times[0] + window)
    else:
        span = (times[-1] - times[0]) if len(times) > 1 else float("nan")
        in_window = len(times) - 1 if len(times) > 1 else 0  # intervals between sends
    achieved = in_window / span if span else float("nan")
    return {
        "recipients": recipients,
        "limit": rate,
        "sent": len(times),
        "achieved": achieved,
        "share": achieved / rate,
        "window": span,
        "total_seconds": total,
        "lost": recipients - len(per_chat) if window is None else None,
        "duplicates": sum(n - 1 for n in per_chat.values() if n > 1),
        "idle_ms": idle.median_ms,
        "during_ms": during.median_ms,
        "ratio": during.median_ms / idle.median_ms,
        "probes": len(during.samples),
        "lag_p99_ms": during.lag_p99_ms,
    }


# --- main -------------------------------------------------------------------------------------


def fmt(result: dict[str, Any]) -> str:
    lost = "n/a (window)" if result["lost"] is None else str(result["lost"])
    return (
        f"sent {result['sent']:>6} · {result['achieved']:7.1f} msg/s = "
        f"{result['share'] * 100:5.1f} % of {result['limit']:g} over {result['window']:.1f} s · "
        f"total {result['total_seconds']:6.1f} s · lost {lost} · dup {result['duplicates']} · "
        f"/who median {result['idle_ms']:.1f} ms idle → {result['during_ms']:.1f} ms "
        f"({result['ratio']:.2f}×, {result['probes']} probes) · "
        f"loop lag p99 {result.get('lag_p99_ms', float('nan')):.1f} ms"
    )


async def run(args: argparse.Namespace) -> int:
    fake = FakeProcess(_serve)
    window = 15.0 if args.quick else 60.0
    compare = 300 if args.quick else 1800
    results: dict[str, dict[str, Any]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            print(f"fake Bot API at {fake.url} (own process); recipients {args.recipients}")
            ceilings = {
                transport: await ceiling_run(
                    fake, workdir, messages=2000 if args.quick else 5000, transport=transport
                )
                for transport in ("httpx", "default")
            }
            results["ceiling"] = {"rate": ceilings["default"], "httpx": ceilings["httpx"]}
            print(
                "ceiling: plain send_message, 16 in flight, no limits: "
                f"{ceilings['httpx']:.0f} msg/s on PTB's HTTPXRequest, "
                f"{ceilings['default']:.0f} msg/s on bot.transport.request.AiohttpRequest"
            )
            ceiling = ceilings[args.transport]
            name = "HTTPXRequest" if args.transport == "httpx" else "AiohttpRequest"
            if args.transport != "default":
                print(f"the outbox runs below use the {args.transport} transport")
            results["30"] = await outbox_run(
                fake, workdir, recipients=args.recipients, rate=30, window=window,
                transport=args.transport,
            )  # fmt: skip
            print("outbox @30/s     ", fmt(results["30"]))
            results["1000"] = await outbox_run(
                fake, workdir, recipients=args.recipients, rate=1000, window=None,
                transport=args.transport,
            )  # fmt: skip
            print("outbox @1000/s   ", fmt(results["1000"]))
            share = results["1000"]["achieved"] / ceiling
            print(f"  = {share * 100:.1f} % of the {name} ceiling ({ceiling:.0f} msg/s)")
            print(
                f"planning {args.recipients} digests took {results['1000']['plan_seconds']:.2f} s"
            )
            results["outbox-429"] = await outbox_run(
                fake, workdir, recipients=compare, rate=30, window=None, flood_ratio=0.01
            )
            print("outbox, 1% 429   ", fmt(results["outbox-429"]))
            for retries in (0, 3):
                key = f"loop-429-r{retries}"
                results[key] = await loop_run(
                    fake, workdir, recipients=compare, flood_ratio=0.01, max_retries=retries
                )
                print(f"loop r={retries}, 1% 429", fmt(results[key]))
    finally:
        fake.stop()
    goals = [
        ("30 msg/s: ≥ 95 % of the limit", results["30"]["share"] >= 0.95),
        ("1,000 msg/s: ≥ 90 % of the limit", results["1000"]["share"] >= 0.90),
        ("/who ≤ 1.5× idle during the 30 msg/s fan-out", results["30"]["ratio"] <= 1.5),
        ("/who ≤ 1.5× idle during the 1,000 msg/s fan-out", results["1000"]["ratio"] <= 1.5),
        ("no message lost or duplicated (outbox, 1 % 429s)",
         results["outbox-429"]["lost"] == 0 and results["outbox-429"]["duplicates"] == 0),
    ]  # fmt: skip
    for goal, met in goals:
        print(f"  {'met    ' if met else 'NOT met'}  {goal}")
    return 0 if all(met for _, met in goals) else 1


def main(argv: list[str] | None = None) -> int:
    # PTB logs a traceback for every 429 the limiter gives up on; the figures count them.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="15 s window, 300 for the comparison")
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument(
        "--transport", choices=("default", "httpx"), default="default",
        help="the bot's HTTP transport for the outbox runs (default: AiohttpRequest, as the bot)",
    )  # fmt: skip
    parser.add_argument(
        "--probe", choices=("cached", "uncached"), default="cached",
        help="/who Yermak every time (answered from the reply cache after the first), or a "
        "new question every time",
    )  # fmt: skip
    args = parser.parse_args(argv)
    _probe["text"] = _PROBE_TEXT[args.probe]
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
