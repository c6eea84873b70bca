"""Proposals from a briefing's text: how long reading takes, and the event loop meanwhile.

    python -m bench.propose            # the bundled briefing (3 KB) x5, a 100 KB text x3
    python -m bench.propose --quick    # x2 and x1

Texts: the bundled briefing's own text (3.2 KB), and a seeded 100 KB briefing written here
from sentence patterns in English and Ukrainian with thousands of distinct made-up names,
real aliases, explicit and relative dates and attributions (so caches of names and word
forms can't flatter it). Timed: `knowledge.write.proposals.extract.propose` against the
bundled knowledge base, as the bot runs it (one worker thread); the first call includes
loading dateparser and the word dictionaries (reported apart; the budgets apply to the bot
once it has read one text). The baseline, in the same run, is reading the
same text only: sentences and every word's dictionary form.

Meanwhile another chat asks /timeline every 20 ms through the real application, and a 5 ms
timer measures the event loop's lag. Budgets (issue 16): 3 KB ≤ 1 s, 100 KB ≤ 10 s, lag p99
≤ 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from telegram import Update

from bench.loop_lag import _message, _p, _sample_lag
from bot.app import build_application
from bot.config import load_settings
from bot.console import CONSOLE_TOKEN, ConsoleRequest
from knowledge.language.lemmas import lemmas
from knowledge.language.sentences import split_sentences
from knowledge.storage.database import make_engine, read_scope
from knowledge.write.importer import prepare_database
from knowledge.write.proposals.extract import propose
from knowledge.write.proposals.model import Origin

SMALL_BUDGET_S, LARGE_BUDGET_S, LAG_BUDGET_MS = 1.0, 10.0, 50.0
BUNDLED = Path(__file__).parents[1] / "tests/data/briefings/ukraine-nato-security-dynamic.txt"
SOURCE = "Briefing: Ukraine, NATO, and the ongoing security dynamic explained"
PUBLISHED = date(2026, 11, 20)

_SYLLABLES = ["ka", "lo", "mi", "ren", "tor", "vas", "del", "ni", "ko", "sta", "bur", "gen",
              "ha", "zar", "pol", "ost", "vik", "len", "dar", "mon"]  # fmt: skip
_KNOWN = ["NATO", "Ukraine", "Russia", "Kyiv", "Brussels", "Andriy Yermak", "the United States",
          "Vilnius", "Moscow", "Zelensky"]  # fmt: skip
_MONTHS = ["January", "March", "May", "July", "September", "November"]
_EN = [
    "On {day} {month} {year} {name} met officials of {known} in {place} to discuss {topic}.",
    "According to {outlet}, {name} said that {known} would review {topic} next year.",
    "Last week {name} told reporters that {known} expects progress on {topic}.",
    "In {month} {year} {known} and {name} agreed on new steps on {topic}, media outlets reported.",
    "Analysts note that {topic} remains a concern for {known} and its partners.",
    "The situation around {topic} is changing quickly, and observers are watching closely.",
]
_UK = [
    "{day} листопада {year} року {name} зустрівся у Києві з представниками НАТО.",
    "Як повідомило видання {outlet}, {name} заявив, що Україна чекає рішень.",
    "Минулого тижня {name} заявив, що Росія посилила атаки на енергетику.",
]
_TOPICS = ["air defence", "sanctions", "energy security", "grain exports", "reconstruction",
           "security guarantees", "border crossings", "humanitarian corridors"]  # fmt: skip


def _made_up(rng: random.Random) -> str:
    return " ".join(
        "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        for _ in range(2)
    )


def large_text(size: int = 100_000, seed: int = 16) -> str:
    """A seeded briefing of about `size` bytes, in paragraphs of four sentences."""
    rng = random.Random(seed)
    paragraphs: list[str] = []
    length = 0
    while length < size:
        patterns = _UK if rng.random() < 0.15 else _EN
        sentences = [
            rng.choice(patterns).format(
                day=rng.randint(1, 28), month=rng.choice(_MONTHS), year=rng.randint(2019, 2026),
                name=_made_up(rng), known=rng.choice(_KNOWN), place=rng.choice(_KNOWN),
                topic=rng.choice(_TOPICS), outlet=_made_up(rng).split()[0] + " News",
            )
            for _ in range(4)
        ]  # fmt: skip
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        length += len(paragraph.encode("utf-8")) + 1
    return "\n".join(paragraphs)


def _read_only(text: str) -> None:
    for sentence in split_sentences(text):
        lemmas(sentence.text)


def _time(fn: Any, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


async def _main(quick: bool) -> bool:
    folder = Path(tempfile.mkdtemp(prefix="propose-bench-"))
    engine = make_engine(f"sqlite:///{folder / 'briefing.db'}")
    prepare_database(engine)
    small, large = BUNDLED.read_text(encoding="utf-8"), large_text()
    origin = Origin(SOURCE, published=PUBLISHED)
    counts: dict[str, int] = {}

    def run(text: str, name: str) -> None:
        with read_scope(engine) as session:
            counts[name] = len(propose(session, text, origin).events)

    cold = _time(lambda: run(small, "small"), 1)[0]
    small_times = _time(lambda: run(small, "small"), 2 if quick else 5)
    small_base = _time(lambda: _read_only(small), 2 if quick else 5)
    large_times = _time(lambda: run(large, "large"), 1 if quick else 3)
    large_base = _time(lambda: _read_only(large), 1)

    # The event loop while a 100 KB text is read in a worker thread, as the bot does it.
    settings = load_settings(database_url="sqlite://", _env_file=None)
    request = ConsoleRequest(io.StringIO(), color=False)
    application = build_application(
        settings, engine, request=request, updates_request=request, token=CONSOLE_TOKEN
    )
    async with application:
        base_lag, base_answers = await _round(application, None, 1.0)
        lags, answers = await _round(application, lambda: run(large, "large"), None)
    engine.dispose()

    print(f"texts: {len(small.encode()):,} bytes ({counts['small']} events proposed), "
          f"{len(large.encode()):,} bytes ({counts['large']} events proposed)\n")  # fmt: skip
    print("| text | first call | median | baseline (sentences + word forms) | ratio |")
    print("|---|---:|---:|---:|---:|")
    print(f"| bundled briefing, 3 KB | {cold:.3f} s | {statistics.median(small_times):.3f} s | "
          f"{statistics.median(small_base):.3f} s | "
          f"{statistics.median(small_times) / statistics.median(small_base):.1f}x |")  # fmt: skip
    print(f"| seeded briefing, 100 KB | – | {statistics.median(large_times):.3f} s | "
          f"{statistics.median(large_base):.3f} s | "
          f"{statistics.median(large_times) / statistics.median(large_base):.1f}x |")  # fmt: skip
    print("\nevent loop, times in ms")
    print("| | lag p50 | lag p99 | lag max | other chat's /timeline p50 | max |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, lag, ans in (("idle (baseline)", base_lag, base_answers),
                           ("reading 100 KB in a thread", lags, answers)):  # fmt: skip
        print(f"| {name} | {statistics.median(lag):.2f} | {_p(lag, 0.99):.2f} | {max(lag):.2f} | "
              f"{statistics.median(ans):.2f} | {max(ans):.2f} |")  # fmt: skip
    met = (
        statistics.median(small_times) <= SMALL_BUDGET_S
        and statistics.median(large_times) <= LARGE_BUDGET_S
        and _p(lags, 0.99) <= LAG_BUDGET_MS
    )
    print(f"\nbudget (3 KB ≤ {SMALL_BUDGET_S:.0f} s; 100 KB ≤ {LARGE_BUDGET_S:.0f} s; lag p99 ≤ "
          f"{LAG_BUDGET_MS:.0f} ms): {'met' if met else 'missed'}")  # fmt: skip
    if cold > SMALL_BUDGET_S:
        print(f"the first call after start took {cold:.2f} s: it loads dateparser and the word "
              "dictionaries, which stay unloaded until needed (idle memory)")  # fmt: skip
    return met


async def _round(application: Any, work: Any, seconds: float | None) -> tuple[list, list]:
    """Chat B's /timeline every 20 ms and the loop's lag, while `work` runs in a thread (or
    for `seconds` with nothing else running)."""
    lags: list[float] = []
    answers: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_lag(stop, lags))
    job = asyncio.create_task(asyncio.to_thread(work) if work else asyncio.sleep(seconds or 0))
    while not job.done():
        started = time.perf_counter()
        update = Update.de_json(_message("/timeline", 2), application.bot)
        await application.process_update(update)
        answers.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.02)
    await job
    stop.set()
    await sampler
    return lags, answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    return 0 if asyncio.run(_main(args.quick)) else 1


if __name__ == "__main__":
    sys.exit(main())
