"""Handler time of subscriber queries on a knowledge base grown to 100,000 events.

"Handler time" is the time `Application.process_update` takes for one update, with the Bot
API answered in-process (`bot.console.ConsoleRequest` writing to memory), so the network is
not counted. Each query runs on SQLite and on PostgreSQL; `/help` (no database work) is
measured in the same run as the baseline the others are compared with.

    python -m bench.query_latency                 # both backends, 100,000 events
    python -m bench.query_latency --events 20000 --backend sqlite
    python -m bench.query_latency --quick --backend sqlite   # a smoke run
    python -m bench.query_latency --untranslated             # entries without translations

Exits 1 when a budgeted query's p95 is above its budget (20 ms; 30 ms for questions in plain
words).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, func, text
from sqlmodel import col, select
from telegram import Update

from bench.synthetic import WORDS, grow
from bot.app import build_application
from bot.config import load_settings
from bot.console import CONSOLE_TOKEN, ConsoleRequest
from bot.presenters.entries import timeline_page as render_timeline_page
from knowledge.models import Alias, Event
from knowledge.read.search import search
from knowledge.read.timeline import TimelineFilter, timeline_page
from knowledge.storage.database import make_engine, normalise_url, reachable, session_scope
from knowledge.write.importer import prepare_database

BUDGET_MS = 20.0
POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
CHAT_ID = 4242
DEEP_OFFSET = 99_990


@dataclass(frozen=True)
class Query:
    """One measured row: the updates sent, in turn (one repeated, or many distinct ones)."""

    name: str
    payloads: list[dict[str, Any]]
    budgeted: bool = True
    budget: float = BUDGET_MS


@dataclass(frozen=True)
class Timing:
    name: str
    backend: str
    p50: float
    p95: float
    worst: float
    first: float
    budgeted: bool
    budget: float = BUDGET_MS

    def row(self, baseline: float) -> str:
        verdict = ("ok" if self.p95 <= self.budget else "OVER") if self.budgeted else "-"
        return (
            f"| {self.backend} | {self.name} | {self.p50:.2f} | {self.p95:.2f} | "
            f"{self.worst:.2f} | {self.first:.2f} | {self.p95 / baseline:.1f}× | {verdict} |"
        )


def _message(text_: str, update_id: int = 0) -> dict[str, Any]:
    user = {"id": CHAT_ID, "is_bot": False, "first_name": "Bench"}
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": CHAT_ID, "type": "private", "first_name": "Bench"},
        "from": user,
        "text": text_,
    }
    if text_.startswith("/"):
        message["entities"] = [
            {"type": "bot_command", "offset": 0, "length": len(text_.split()[0])}
        ]
    return {"update_id": update_id, "message": message}


def _press(data: str, update_id: int = 0) -> dict[str, Any]:
    user = {"id": CHAT_ID, "is_bot": False, "first_name": "Bench"}
    message = {
        "message_id": 1,
        "date": int(time.time()),
        "chat": {"id": CHAT_ID, "type": "private", "first_name": "Bench"},
        "from": {"id": 1000000, "is_bot": True, "first_name": "Briefing Bot"},
        "text": "Timeline",
    }
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "from": user,
            "chat_instance": "bench",
            "data": data,
            "message": message,
        },
    }


def next_page_button(engine: Engine, offset: int) -> str:
    """The ▶ button's callback data under the page starting at `offset` (what a user taps)."""
    with session_scope(engine) as session:
        flt = TimelineFilter()
        page = timeline_page(session=session, flt=flt, offset=offset, limit=10)
    reply = render_timeline_page(page, flt.label, flt.code())
    assert reply.keyboard is not None
    for row in reply.keyboard.inline_keyboard:
        for button in row:
            if button.text == "▶":
                return str(button.callback_data)
    raise RuntimeError(f"no ▶ button at offset {offset}; is the timeline long enough?")


def _typo(name: str, rng: random.Random) -> str:
    if len(name) < 5:
        return name
    i = rng.randrange(1, len(name) - 2)
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def queries_for(engine: Engine, runs: int) -> list[Query]:
    """The measured updates. "uncached" rows send `runs` distinct ones, so no remembered
    answer can help: counts, pages and rankings are all computed afresh."""
    rng = random.Random(7)
    with session_scope(engine) as session:
        aliases = list(
            session.exec(
                select(Alias.alias).where(col(Alias.actor_id) > 100).order_by(col(Alias.id))
            )
        )
        found = search(session=session, text="sanctions", limit=1)
        hits = f"{found.total:,}{'+' if found.more else ''}"
        total = session.exec(select(func.count()).select_from(Event)).one()
        titles = list(
            session.exec(
                select(Event.title).where(col(Event.id) % (total // runs) == 0).limit(runs)
            )
        )
    names = rng.sample(aliases, runs)
    names = [_typo(n, rng) if i % 3 == 2 else n for i, n in enumerate(names)]
    # Words people meet in the entries: one from each of `runs` titles spread over the
    # knowledge base, so common words come up often and rare ones sometimes.
    seen = [rng.choice([w for w in t.split() if len(w) > 3] or t.split()) for t in titles]
    commonest = [w for w in WORDS if len(w) > 3][:20]
    worst = [*commonest, *(f"{a} {b}" for a in commonest for b in commonest if a != b)]
    months = [f"{1992 + i // 12}-{i % 12 + 1:02d}" for i in range(0, 12 * 34, 2)]
    deep = min(DEEP_OFFSET, total * 9 // 100 * 10)  # a smaller knowledge base: near its end
    deep_offsets = [deep - 10 * (k + 1) for k in range(runs)]
    deepest = _press(next_page_button(engine, deep - 10))
    return [
        Query("/help (baseline)", [_message("/help")], budgeted=False),
        Query("/timeline (first page)", [_message("/timeline")]),
        Query(f"▶ to offset {deep:,}", [deepest]),
        Query("/who Yermak", [_message("/who Yermak")]),
        Query("/who Єрмак", [_message("/who Єрмак")]),
        Query("/who yermack (typo)", [_message("/who yermack")]),
        Query("/search vilnius timetable", [_message("/search vilnius timetable")]),
        Query(f"/search sanctions ({hits} hits)", [_message("/search sanctions")]),
        Query(f"uncached: ▶ to offsets {deep_offsets[-1] + 10:,}–{deep:,}",
              [_press(next_page_button(engine, o)) for o in deep_offsets]),
        Query("uncached: /timeline <month>", [_message(f"/timeline {m}") for m in months[:runs]]),
        Query("uncached: /who <name, Cyrillic name or typo>",
              [_message(f"/who {n}") for n in names]),
        Query("uncached: /search <a word from a title>", [_message(f"/search {w}") for w in seen]),
        Query("uncached: /search <the 20 commonest words, and pairs>",
              [_message(f"/search {q}") for q in worst[:runs]], budgeted=False),
        # Questions in plain words: their own budget, 30 ms.
        Query("question: Who is Yermak?", [_message("Who is Yermak?")], budget=QUESTION_MS),
        Query("question: Що сталося у Вільнюсі?", [_message("Що сталося у Вільнюсі?")],
              budget=QUESTION_MS),
        # Each language's word tools (dictionaries, date phrases) load at its first question,
        # once per process: not a steady-state cost, so they load here, where `first` and
        # `max` show it, rather than inside the measured row below.
        Query("question: one in each language (loads its tools)",
              [_message(q) for q in FIRST_QUESTIONS], budgeted=False),
        Query("uncached: questions <who is / what happened with / Ukrainian, Russian>",
              [_message(q) for q in _questions(names, seen, runs)], budget=QUESTION_MS),
    ]  # fmt: skip


QUESTION_MS = 30.0
FIRST_QUESTIONS = [
    "Что известно о санкциях?",
    "Що відомо про санкції?",
    "What is known about sanctions?",
]


def _questions(names: list[str], words: list[str], runs: int) -> list[str]:
    """Distinct questions as readers word them, about names and words of the knowledge base."""
    forms = ["Who is {n}?", "What happened with {w}?", "When did {n} {w}?", "Що сталося з {n}?",
             "Что известно о {w}?", "What did {n} say about {w}?"]  # fmt: skip
    return [
        forms[i % len(forms)].format(n=names[i % len(names)], w=words[i % len(words)])
        for i in range(runs)
    ]


async def _measure(engine: Engine, backend: str, runs: int, only: str = "") -> list[Timing]:
    out = io.StringIO()
    request = ConsoleRequest(out)
    # Handler time, not Telegram's pace: the bot-wide send budget (30 messages a second by
    # default) would make back-to-back updates wait for their turn to reply.
    settings = load_settings(database_url="sqlite://", broadcast_rate=10_000, _env_file=None)
    application = build_application(
        settings, engine, request=request, updates_request=request, token=CONSOLE_TOKEN
    )
    timings = []
    update_id = 1
    async with application:
        for query in queries_for(engine, runs):
            if only and only not in query.name and not query.name.startswith("/help"):
                continue
            samples = []
            for run in range(runs):
                update_id += 1
                payload = dict(query.payloads[run % len(query.payloads)], update_id=update_id)
                if "callback_query" in payload:
                    payload["callback_query"] = dict(payload["callback_query"], id=str(update_id))
                update = Update.de_json(payload, application.bot)
                started = time.perf_counter()
                await application.process_update(update)
                samples.append((time.perf_counter() - started) * 1000)
                out.seek(0)
                out.truncate()
            ordered = sorted(samples)
            timings.append(
                Timing(
                    name=query.name,
                    backend=backend,
                    p50=statistics.median(ordered),
                    p95=ordered[max(0, round(0.95 * len(ordered)) - 1)],
                    worst=ordered[-1],
                    first=samples[0],
                    budgeted=query.budgeted,
                    budget=query.budget,
                )
            )
    return timings


@contextmanager
def sqlite_database(events: int, translated: bool = True) -> Iterator[tuple[Engine, str]]:
    with tempfile.TemporaryDirectory(prefix="briefing-bench-") as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        prepare_database(engine)
        growth = grow(
            engine, events=events, actors=events // 20, sources=events // 200,
            translated=translated,
        )  # fmt: skip
        try:
            yield engine, growth.line()
        finally:
            engine.dispose()


@contextmanager
def postgres_database(events: int, translated: bool = True) -> Iterator[tuple[Engine, str]]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    engine = make_engine(f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}")
    try:
        prepare_database(engine)
        growth = grow(
            engine, events=events, actors=events // 20, sources=events // 200,
            translated=translated,
        )  # fmt: skip
        yield engine, growth.line()
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200, help="updates per query (default 200)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--url", help="measure this already grown database (from bench.synthetic) instead"
    )
    parser.add_argument("--only", default="", help="measure only the rows whose name has this")
    parser.add_argument(
        "--untranslated", action="store_true", help="grow entries without Ukrainian translations"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 20,000 events, 50 updates per row"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.runs = min(args.events, 20_000), min(args.runs, 50)
    if args.url:
        engine = make_engine(args.url)
        prepare_database(engine)
        backend = "postgres" if engine.dialect.name == "postgresql" else "sqlite"
        timings = asyncio.run(_measure(engine, backend, args.runs, args.only))
        return _report(timings, [backend], args.runs)

    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and not reachable(POSTGRES_URL):
        print(f"PostgreSQL is not reachable at {POSTGRES_URL}; set BENCH_POSTGRES_URL.")
        if args.backend == "postgres":
            return 2
        backends.remove("postgres")

    results: list[Timing] = []
    for backend in backends:
        database = sqlite_database if backend == "sqlite" else postgres_database
        with database(args.events, not args.untranslated) as (engine, grown):
            print(f"{backend}: grown to {grown}", flush=True)
            results += asyncio.run(_measure(engine, backend, args.runs, args.only))

    return _report(results, backends, args.runs)


def _report(results: list[Timing], backends: list[str], runs: int) -> int:
    print(f"\nHandler time in ms over {runs} updates each; budget p95 ≤ {BUDGET_MS:.0f} ms.")
    print("`first` is the first update (cold caches); ×help = p95 / p95 of /help.\n")
    print("| backend | query | p50 | p95 | max | first | ×help | budget |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    over = False
    for backend in backends:
        rows = [t for t in results if t.backend == backend]
        baseline = next(t.p95 for t in rows if not t.budgeted and "help" in t.name)
        for timing in rows:
            print(timing.row(baseline))
            over |= timing.budgeted and timing.p95 > timing.budget
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
