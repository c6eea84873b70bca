"""Grow a knowledge base synthetically (100,000 events by default) for the latency benchmarks.

Benchmark data only: rows are bulk-inserted straight into the tables, bypassing curation (no
revisions are written), and the search index is filled with
`knowledge.storage.search_index.index_entries`, which shapes documents exactly as the curation
path does. The generator is seeded, so two runs build the same knowledge base. Names come from
syllables with a Cyrillic spelling for each, so transliteration and fuzzy matching face
thousands of plausible look-alikes.

    python -m bench.synthetic sqlite:////tmp/briefing-100k.db --events 100000
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from bisect import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, func, insert, text
from sqlmodel import Session, select

from bench.synthetic_words import FIRST_NAMES, ORG_WORDS, SYLLABLES, TOPICS, WORDS
from knowledge.language.dates import date_end, timeline_rank
from knowledge.language.names import name_key
from knowledge.models import (
    Actor,
    ActorKind,
    Alias,
    Citation,
    DatePrecision,
    Entry,
    EntryKind,
    EntryState,
    Event,
    EventActor,
    EventStatus,
    EventTopic,
    Source,
    SourceKind,
    Translation,
)
from knowledge.storage.database import is_postgres, make_engine
from knowledge.storage.search_index import index_entries
from knowledge.write.importer import prepare_database

CHUNK = 5_000


@dataclass(frozen=True)
class Growth:
    """How much was added, and how long it took."""

    events: int
    actors: int
    sources: int
    aliases: int
    topics: int
    event_actors: int
    citations: int
    seconds: float

    def line(self) -> str:
        return (
            f"{self.events:,} events, {self.actors:,} actors ({self.aliases:,} aliases), "
            f"{self.sources:,} sources, {self.topics:,} topic tags, "
            f"{self.event_actors:,} event-actor links, {self.citations:,} citations "
            f"in {self.seconds:.1f} s"
        )


class _Zipf:
    """Draw indexes 0..n-1 with Zipf-like weights: a few very common, a long tail."""

    def __init__(self, n: int, rng: random.Random, exponent: float = 1.0) -> None:
        self.rng = rng
        self.cumulative = list(itertools.accumulate(1.0 / (i + 1) ** exponent for i in range(n)))
        self.total = self.cumulative[-1]

    def draw(self) -> int:
        return bisect(self.cumulative, self.rng.random() * self.total)

    def sample(self, k: int) -> list[int]:
        picked: dict[int, None] = {}
        for _ in range(k * 3):
            picked[self.draw()] = None
            if len(picked) == k:
                break
        return list(picked)


def _chunks(rows: Iterable[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _bulk(session: Session, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    target: Table = table.__table__
    for batch in _chunks(rows):
        session.execute(insert(target), batch)


def _name(rng: random.Random, parts: int) -> tuple[str, str]:
    """A made-up surname and its Cyrillic spelling."""
    picked = [rng.choice(SYLLABLES) for _ in range(parts)]
    latin = "".join(p[0] for p in picked).capitalize()
    cyrillic = "".join(p[1] for p in picked).capitalize()
    return latin, cyrillic


def _words(rng: random.Random, zipf: _Zipf, vocabulary: Sequence[str], n: int) -> str:
    return " ".join(vocabulary[zipf.draw()] for _ in range(n))


def grow(
    engine: Engine,
    *,
    events: int = 100_000,
    actors: int = 5_000,
    sources: int = 500,
    seed: int = 20230711,
    translated: bool = True,
) -> Growth:
    """Add synthetic sources, actors (with aliases) and events (with topics, actors, citations),
    each with a Ukrainian translation of its text unless `translated` is False (the
    translation is a letter-for-letter Cyrillic rendering: the same lengths and word
    frequencies, in the index beside the original as curation puts it).

    The schema must exist (`prepare_database`); existing entries, such as the bundled
    briefing, are kept, and new ids continue after the highest one.
    """
    started = time.perf_counter()
    rng = random.Random(seed)
    # The long tail of the vocabulary: pronounceable nonsense words, rare in the text.
    vocabulary = list(WORDS) + sorted(
        {"".join(rng.choice(SYLLABLES)[0] for _ in range(3)) for _ in range(3_000)}
    )
    word_zipf = _Zipf(len(vocabulary), rng, 1.05)
    now = datetime.now(UTC)

    with Session(engine) as session:
        next_id = (session.exec(select(func.max(Entry.id))).one() or 0) + 1
        existing_sources = list(session.exec(select(Source.id)))
        source_ids = list(range(next_id, next_id + sources))
        actor_ids = list(range(source_ids[-1] + 1, source_ids[-1] + 1 + actors))
        # `events` stay published; a further 0.1 % are retracted, so every query's "published
        # only" condition has rows to skip.
        retracted = max(1, events // 1000)
        event_ids = list(range(actor_ids[-1] + 1, actor_ids[-1] + 1 + events + retracted))

        entries = [
            {"id": i, "kind": kind, "slug": f"syn-{kind}-{i}", "state": EntryState.PUBLISHED,
             "created_at": now, "updated_at": now}
            for kind, ids in ((EntryKind.SOURCE, source_ids), (EntryKind.ACTOR, actor_ids),
                              (EntryKind.EVENT, event_ids))
            for i in ids
        ]  # fmt: skip
        for row in rng.sample(entries[-len(event_ids) :], retracted):
            row["state"] = EntryState.RETRACTED
            row["retracted_reason"] = "synthetic retraction"
        _bulk(session, Entry, entries)

        source_kinds = [k.value for k in SourceKind if k != SourceKind.BRIEFING]
        source_rows, docs = [], []
        for n, sid in enumerate(source_ids):
            latin, _ = _name(rng, 2)
            name = f"{latin} {rng.choice(['Daily', 'Monitor', 'Review', 'Channel', 'Wire'])} {n}"
            kind = rng.choice(source_kinds)
            reliability = _words(rng, word_zipf, vocabulary, 12)
            source_rows.append({"id": sid, "name": name, "name_key": name.casefold(),
                                "kind": kind, "url": f"https://example.org/s/{sid}",
                                "reliability": reliability})  # fmt: skip
            docs.append((sid, name, f"{reliability} {kind}"))
        _bulk(session, Source, source_rows)
        translations: list[tuple[int, dict[str, str]]] = [
            (int(str(r["id"])), {"name": str(r["name"]), "reliability": str(r["reliability"])})
            for r in source_rows
        ]
        all_sources = existing_sources + source_ids
        source_zipf = _Zipf(len(all_sources), rng, 0.8)

        actor_kinds = [ActorKind.PERSON] * 6 + [ActorKind.ORGANISATION] * 2 + [
            ActorKind.STATE, ActorKind.MEDIA, ActorKind.PLACE]  # fmt: skip
        actor_rows, alias_rows, actor_citations = [], [], []
        for aid in actor_ids:
            kind = rng.choice(actor_kinds)
            surname, cyrillic = _name(rng, rng.choice((2, 3, 3, 4)))
            if kind == ActorKind.PERSON:
                first = rng.choice(FIRST_NAMES)
                name, aliases = f"{first} {surname}", [surname, cyrillic]
            elif kind == ActorKind.ORGANISATION:
                name = f"{surname} {rng.choice(ORG_WORDS)}"
                aliases = [f"{cyrillic} {rng.choice(ORG_WORDS)}", "".join(
                    w[0] for w in name.split()).upper()]  # fmt: skip
            else:
                name, aliases = surname, [cyrillic]
            role = _words(rng, word_zipf, vocabulary, 5)
            description = _words(rng, word_zipf, vocabulary, 25)
            actor_rows.append({"id": aid, "kind": kind.value, "name": name, "role": role,
                               "description": description})  # fmt: skip
            for alias in [name, *aliases]:
                alias_rows.append({"actor_id": aid, "alias": alias, "key": name_key(alias)[:200]})
            for sidx in source_zipf.sample(rng.choice((1, 1, 2))):
                actor_citations.append({"entry_id": aid, "source_id": all_sources[sidx],
                                        "note": ""})  # fmt: skip
            docs.append((aid, name, f"{role} {description} {' '.join(aliases)}"))
            translations.append((aid, {"name": name, "role": role, "description": description}))
        _bulk(session, Actor, actor_rows)
        _bulk(session, Alias, alias_rows)

        # A few actors are in thousands of events (like NATO or Ukraine), most in a handful.
        actor_zipf = _Zipf(actors, rng, 0.9)
        topic_zipf = _Zipf(len(TOPICS), rng, 1.0)
        first_day = date(1991, 8, 24)
        span = (date(2025, 12, 31) - first_day).days
        precisions = [DatePrecision.DAY] * 14 + [DatePrecision.MONTH] * 3 + [
            DatePrecision.YEAR, DatePrecision.APPROXIMATE]  # fmt: skip
        statuses = [EventStatus.CONFIRMED] * 3 + [EventStatus.REPORTED] * 4 + [
            EventStatus.CLAIMED]  # fmt: skip
        event_rows, topic_rows, link_rows, citations = [], [], [], list(actor_citations)
        for eid in event_ids:
            day = first_day + timedelta(days=rng.randrange(span))
            precision = rng.choice(precisions)
            label = None
            if precision == DatePrecision.MONTH:
                day = day.replace(day=1)
            elif precision == DatePrecision.YEAR:
                day = day.replace(month=1, day=1)
            elif precision == DatePrecision.APPROXIMATE:
                label = f"around {day.year}"
            title = _words(rng, word_zipf, vocabulary, rng.randint(5, 10)).capitalize()
            summary = _words(rng, word_zipf, vocabulary, rng.randint(20, 45)).capitalize() + "."
            topics = sorted({TOPICS[i] for i in topic_zipf.sample(rng.choice((1, 1, 2, 3)))})
            event_rows.append({"id": eid, "date_start": day, "precision": precision.value,
                               "date_end": date_end(day, precision.value),
                               "timeline_rank": timeline_rank(day, precision.value),
                               "date_label": label, "title": title[:200], "summary": summary,
                               "status": rng.choice(statuses).value})  # fmt: skip
            topic_rows.extend({"event_id": eid, "topic": t} for t in topics)
            for aidx in actor_zipf.sample(rng.choice((1, 2, 2, 3, 4))):
                link_rows.append({"event_id": eid, "actor_id": actor_ids[aidx]})
            for sidx in source_zipf.sample(rng.choice((1, 1, 2, 3))):
                note = _words(rng, word_zipf, vocabulary, rng.randint(0, 12))
                citations.append({"entry_id": eid, "source_id": all_sources[sidx], "note": note})
            docs.append((eid, title, f"{summary} {' '.join(topics)}"))
            translations.append((eid, {"title": title[:200], "summary": summary}))
        _bulk(session, Event, event_rows)
        _bulk(session, EventTopic, topic_rows)
        _bulk(session, EventActor, link_rows)
        _bulk(session, Citation, citations)
        if translated:
            docs = _with_translations(session, docs, translations)
        index_entries(session, docs)
        session.commit()

    _settle(engine)
    return Growth(
        events=len(event_ids),
        actors=actors,
        sources=sources,
        aliases=len(alias_rows),
        topics=len(topic_rows),
        event_actors=len(link_rows),
        citations=len(citations),
        seconds=time.perf_counter() - started,
    )


_TO_CYRILLIC = str.maketrans("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                             "абцдефґгійклмнопкрстуввхизАБЦДЕФҐГІЙКЛМНОПКРСТУВВХИЗ")  # fmt: skip


def _with_translations(
    session: Session,
    docs: list[tuple[int, str, str]],
    translations: list[tuple[int, dict[str, str]]],
) -> list[tuple[int, str, str]]:
    """Write each entry's Ukrainian fields, and return its search document with them added
    as `knowledge.write.curation` adds them (title or name to the title, the rest to the body)."""
    rows: list[dict[str, Any]] = []
    extra: dict[int, tuple[str, str]] = {}
    for entry_id, fields in translations:
        uk = {field: text.translate(_TO_CYRILLIC) for field, text in fields.items()}
        rows.extend({"entry_id": entry_id, "language": "uk", "field": field, "text": text}
                    for field, text in uk.items())  # fmt: skip
        title = uk.get("title") or uk.get("name") or ""
        body = " ".join(text for field, text in uk.items() if field not in ("title", "name"))
        extra[entry_id] = (title, body)
    _bulk(session, Translation, rows)
    return [(i, f"{title} {extra[i][0]}", f"{body} {extra[i][1]}") if i in extra
            else (i, title, body) for i, title, body in docs]  # fmt: skip


def _settle(engine: Engine) -> None:
    """What a long-lived database has had time to do: statistics gathered, index merged."""
    if is_postgres(engine):
        # VACUUM cannot run in a transaction; it also sets the visibility map for index-only
        # scans, as autovacuum would have done on a production database by now.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
        return
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO searchdoc(searchdoc) VALUES ('optimize')"))
        connection.exec_driver_sql("ANALYZE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--actors", type=int, default=None, help="default: events / 20")
    parser.add_argument("--sources", type=int, default=None, help="default: events / 200")
    parser.add_argument("--untranslated", action="store_true", help="no Ukrainian translations")
    args = parser.parse_args(argv)
    engine = make_engine(args.database_url)
    prepare_database(engine)
    growth = grow(
        engine,
        events=args.events,
        actors=args.actors or max(args.events // 20, 10),
        sources=args.sources or max(args.events // 200, 5),
        translated=not args.untranslated,
    )
    print(growth.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
