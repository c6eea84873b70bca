"""Event-loop lag while another connection holds SQLite's write lock for two seconds.

    python -m bench.loop_lag                # a 2 s lock, 3 rounds
    python -m bench.loop_lag --quick        # a 0.5 s lock, 1 round

In each round another connection takes SQLite's write lock (BEGIN IMMEDIATE) and keeps it;
meanwhile chat A sends /search (it saves its text, so it must wait for the lock) and chat B
asks a cached /timeline every 20 ms. Printed: the event loop's lag (how late a 5 ms timer
fires), p50 / p99 / max, and chat B's answer times; the baseline is the same loop sampled with
no lock held, in the same run. Budget (issue 11): lag p99 ≤ 50 ms, chat B's answers ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from telegram import Update

from bot.app import build_application
from bot.config import load_settings
from bot.console import CONSOLE_TOKEN, ConsoleRequest
from knowledge.storage.database import make_engine
from knowledge.write.importer import prepare_database

LAG_BUDGET_MS, ANSWER_BUDGET_MS = 50.0, 100.0
_ids = iter(range(1, 10**9))
WAITED: list[float] = []  # seconds each round's /search took, lock wait included


def _message(text: str, chat_id: int) -> dict[str, Any]:
    update_id = next(_ids)
    user = {"id": chat_id, "is_bot": False, "first_name": "Bench"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Bench"},
            "from": user,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


async def _sample_lag(stop: asyncio.Event, into: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        into.append((time.perf_counter() - started - 0.005) * 1000)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _round(
    application: Any, path: Path, hold: float, *, locked: bool
) -> tuple[list[float], list[float]]:
    lags: list[float] = []
    answers: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_lag(stop, lags))
    held, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait()
        other.execute("ROLLBACK")
        other.close()

    holder = threading.Thread(target=hold_lock)
    if locked:
        holder.start()
        await asyncio.to_thread(held.wait)
    search_started = time.perf_counter()
    search = asyncio.create_task(
        application.process_update(Update.de_json(_message("/search nato", 1), application.bot))
    )
    finished: list[float] = []
    search.add_done_callback(lambda _task: finished.append(time.perf_counter()))
    deadline = time.perf_counter() + hold
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        update = Update.de_json(_message("/timeline", 2), application.bot)
        await application.process_update(update)
        answers.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.02)
    release.set()
    await search
    WAITED.append(finished[0] - search_started)
    if locked:
        holder.join()
    stop.set()
    await sampler
    return lags, answers


async def _main(hold: float, rounds: int) -> bool:
    folder = Path(tempfile.mkdtemp(prefix="loop-lag-"))
    path = folder / "briefing.db"
    engine = make_engine(f"sqlite:///{path}")
    prepare_database(engine)
    settings = load_settings(database_url="sqlite://", _env_file=None)
    request = ConsoleRequest(io.StringIO(), color=False)
    application = build_application(
        settings, engine, request=request, updates_request=request, token=CONSOLE_TOKEN
    )
    async with application:
        await application.process_update(Update.de_json(_message("/timeline", 2), application.bot))
        base_lag, base_answers = await _round(application, path, hold, locked=False)
        lags: list[float] = []
        answers: list[float] = []
        for _ in range(rounds):
            round_lags, round_answers = await _round(application, path, hold, locked=True)
            lags += round_lags
            answers += round_answers
    engine.dispose()
    print(f"write lock held {hold:.1f} s, {rounds} round(s); times in ms\n")
    print("| | lag p50 | lag p99 | lag max | chat B answer p50 | chat B answer max |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, lag, ans in (
        ("no lock (baseline)", base_lag, base_answers),
        ("lock held", lags, answers),
    ):
        print(f"| {name} | {statistics.median(lag):.2f} | {_p(lag, 0.99):.2f} | {max(lag):.2f} | "
              f"{statistics.median(ans):.2f} | {max(ans):.2f} |")  # fmt: skip
    ratio = _p(lags, 0.99) / max(_p(base_lag, 0.99), 0.01)
    met = _p(lags, 0.99) <= LAG_BUDGET_MS and max(answers) <= ANSWER_BUDGET_MS
    locked = f"{min(WAITED[1:]):.2f}–{max(WAITED[1:]):.2f}"
    print(f"\nchat A's /search took {WAITED[0]:.3f} s without the lock, {locked} s with it")
    print(f"lag p99 with the lock / without: {ratio:.2f}")
    print(f"budget (lag p99 ≤ {LAG_BUDGET_MS:.0f} ms, answers ≤ {ANSWER_BUDGET_MS:.0f} ms): "
          f"{'met' if met else 'missed'}")  # fmt: skip
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold", type=float, default=2.0, help="seconds the lock is held")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="0.5 s, one round")
    args = parser.parse_args(argv)
    hold, rounds = (0.5, 1) if args.quick else (args.hold, args.rounds)
    return 0 if asyncio.run(_main(hold, rounds)) else 1


if __name__ == "__main__":
    sys.exit(main())
