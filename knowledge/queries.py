"""Read-only lookups for subscribers: timeline, entries, who, sources, search.

Each function takes the session as a keyword-only argument and returns plain dataclasses;
retracted entries are left out of lists and search but still answer a direct lookup by id.
"""

from __future__ import annotations

import threading
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Generic, TypeVar

from rapidfuzz import fuzz, process
from sqlalchemy import and_, func, or_, tuple_
from sqlmodel import Session, col, select

from knowledge.dates import DateError, format_date, parse_date
from knowledge.models import (
    Actor,
    Alias,
    Citation,
    Entry,
    EntryKind,
    EntryState,
    Event,
    EventActor,
    EventTopic,
    Revision,
    Source,
)
from knowledge.search import search_entries
from knowledge.text import name_key

PUBLISHED = EntryState.PUBLISHED
T = TypeVar("T")


# --- views ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventLine:
    id: int
    date_text: str
    title: str
    status: str
    sort_date: date


@dataclass(frozen=True)
class Ref:
    """A named link to another entry."""

    id: int
    name: str


@dataclass(frozen=True)
class CitationView:
    source_id: int
    source_name: str
    source_kind: str
    url: str | None
    note: str


@dataclass(frozen=True)
class EventDetail:
    id: int
    date_text: str
    title: str
    summary: str
    status: str
    retracted_reason: str | None
    topics: list[str]
    actors: list[Ref]
    citations: list[CitationView]

    @property
    def retracted(self) -> bool:
        return self.retracted_reason is not None


@dataclass(frozen=True)
class ActorDetail:
    id: int
    name: str
    kind: str
    role: str
    description: str
    aliases: list[str]
    retracted_reason: str | None
    sources: list[CitationView]
    events: list[EventLine]
    event_count: int


@dataclass(frozen=True)
class SourceDetail:
    id: int
    name: str
    kind: str
    url: str | None
    reliability: str
    retracted_reason: str | None
    backs: list[Ref]  # entries citing it (events and actors), oldest first
    backs_count: int


@dataclass(frozen=True)
class SourceLine:
    id: int
    name: str
    kind: str
    citations: int


@dataclass(frozen=True)
class ActorMatch:
    id: int
    name: str
    matched: str  # the alias that matched
    score: float


@dataclass(frozen=True)
class SearchResult:
    id: int
    kind: str
    title: str
    subtitle: str


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int

    @property
    def has_prev(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total


# --- timeline ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineFilter:
    """What `/timeline` shows: a date range, an actor or a topic (at most one of the last two)."""

    start: date | None = None
    end: date | None = None
    actor_id: int | None = None
    topic: str | None = None
    label: str = ""

    def code(self) -> str:
        """A compact form for callback data (≤ 24 bytes)."""
        if self.actor_id is not None:
            return f"a{self.actor_id}"
        if self.topic is not None:
            return f"t{zlib.crc32(self.topic.encode()):x}"
        if self.start or self.end:
            s = self.start.strftime("%Y%m%d") if self.start else ""
            e = self.end.strftime("%Y%m%d") if self.end else ""
            return f"r{s}-{e}"
        return "-"


class FilterError(ValueError):
    """A `/timeline` filter that names nothing we know; the message is for the user."""


def resolve_timeline_filter(*, session: Session, text: str) -> TimelineFilter:
    """Read `/timeline` arguments: `2023`, `2022-02..2023-07`, an actor's name or a topic."""
    text = text.strip()
    if not text:
        return TimelineFilter()
    if ".." in text:
        left, _, right = text.partition("..")
        try:
            start = parse_date(left).start if left.strip() else None
            end = parse_date(right).end if right.strip() else None
        except DateError as exc:
            raise FilterError(str(exc)) from None
        if start and end and start > end:
            raise FilterError("the range starts after it ends")
        return TimelineFilter(start=start, end=end, label=text)
    if text[:4].isdigit():
        try:
            fuzzy = parse_date(text)
        except DateError as exc:
            raise FilterError(str(exc)) from None
        return TimelineFilter(start=fuzzy.start, end=fuzzy.end, label=text)
    topic = text.lower().lstrip("#").replace(" ", "-")
    if session.exec(select(EventTopic.topic).where(EventTopic.topic == topic).limit(1)).first():
        return TimelineFilter(topic=topic, label=topic)
    matches = find_actors(session=session, query=text, limit=2)
    if matches and (len(matches) == 1 or matches[0].score - matches[1].score >= 5):
        return TimelineFilter(actor_id=matches[0].id, label=matches[0].name)
    raise FilterError(f"no date, topic or actor matches “{text[:60]}”")


def decode_filter(*, session: Session, code: str) -> TimelineFilter | None:
    """The filter behind `TimelineFilter.code()`, or None if it no longer resolves."""
    try:
        if code == "-":
            return TimelineFilter()
        if code.startswith("a"):
            actor = session.get(Actor, int(code[1:]))
            return TimelineFilter(actor_id=actor.id, label=actor.name) if actor else None
        if code.startswith("t"):
            for topic in session.exec(select(EventTopic.topic).distinct()):
                if f"{zlib.crc32(topic.encode()):x}" == code[1:]:
                    return TimelineFilter(topic=topic, label=topic)
            return None
        if code.startswith("r"):
            s, _, e = code[1:].partition("-")
            start = date(int(s[:4]), int(s[4:6]), int(s[6:])) if s else None
            end = date(int(e[:4]), int(e[4:6]), int(e[6:])) if e else None
            label = f"{start or ''}..{end or ''}"
            return TimelineFilter(start=start, end=end, label=label)
    except (ValueError, IndexError):
        return None
    return None


def _timeline_query(flt: TimelineFilter):  # type: ignore[no-untyped-def]
    query = (
        select(Event.id, Event.date_start, Event.precision, Event.date_label, Event.title,
               Event.status)
        .join(Entry, col(Entry.id) == col(Event.id))
        .where(Entry.state == PUBLISHED)
    )  # fmt: skip
    if flt.start:
        query = query.where(col(Event.date_start) >= flt.start)
    if flt.end:
        query = query.where(col(Event.date_start) <= flt.end)
    if flt.actor_id is not None:
        query = query.join(EventActor, col(EventActor.event_id) == col(Event.id)).where(
            EventActor.actor_id == flt.actor_id
        )
    if flt.topic is not None:
        query = query.join(EventTopic, col(EventTopic.event_id) == col(Event.id)).where(
            EventTopic.topic == flt.topic
        )
    return query


def _line(row) -> EventLine:  # type: ignore[no-untyped-def]
    eid, start, precision, label, title, status = row
    return EventLine(eid, format_date(start, precision, label), title, status, start)


def timeline_page(
    *, session: Session, flt: TimelineFilter, offset: int = 0, limit: int = 10
) -> Page[EventLine]:
    """One page of the timeline, oldest first (ties by id, so pages never overlap)."""
    base = _timeline_query(flt)
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    offset = max(0, min(offset, max(total - 1, 0)))
    rows = session.exec(
        base.order_by(col(Event.date_start), col(Event.id)).offset(offset).limit(limit)
    ).all()
    return Page([_line(r) for r in rows], total, offset, limit)


def timeline_after(
    *, session: Session, flt: TimelineFilter, after: tuple[date, int] | None, limit: int = 10
) -> list[EventLine]:
    """Keyset page: the events after (date, id), for callers walking a long timeline."""
    query = _timeline_query(flt)
    if after is not None:
        query = query.where(tuple_(col(Event.date_start), col(Event.id)) > tuple_(*after))
    rows = session.exec(query.order_by(col(Event.date_start), col(Event.id)).limit(limit))
    return [_line(r) for r in rows]


# --- single entries ---------------------------------------------------------------------------


def entry_kind(*, session: Session, entry_id: int) -> str | None:
    entry = session.get(Entry, entry_id)
    return entry.kind if entry else None


def _citation_views(session: Session, entry_id: int) -> list[CitationView]:
    rows = session.exec(
        select(Source.id, Source.name, Source.kind, Source.url, Citation.note)
        .join(Citation, col(Citation.source_id) == col(Source.id))
        .where(Citation.entry_id == entry_id)
        .order_by(col(Citation.id))
    ).all()
    return [CitationView(*row) for row in rows]


def event_detail(*, session: Session, event_id: int) -> EventDetail | None:
    """The whole event, retracted or not (a retracted one carries its reason)."""
    row = session.exec(
        select(Event, Entry)
        .join(Entry, col(Entry.id) == col(Event.id))
        .where(Event.id == event_id)
    ).first()
    if row is None:
        return None
    event, entry = row
    actors = session.exec(
        select(Actor.id, Actor.name)
        .join(EventActor, col(EventActor.actor_id) == col(Actor.id))
        .where(EventActor.event_id == event_id)
        .order_by(col(Actor.name))
    ).all()
    topics = session.exec(
        select(EventTopic.topic).where(EventTopic.event_id == event_id).order_by(EventTopic.topic)
    ).all()
    return EventDetail(
        id=event.id,
        date_text=format_date(event.date_start, event.precision, event.date_label),
        title=event.title,
        summary=event.summary,
        status=event.status,
        retracted_reason=(entry.retracted_reason or "") if entry.state != PUBLISHED else None,
        topics=list(topics),
        actors=[Ref(i, n) for i, n in actors],
        citations=_citation_views(session, event_id),
    )


def actor_detail(*, session: Session, actor_id: int, events: int = 8) -> ActorDetail | None:
    row = session.exec(
        select(Actor, Entry)
        .join(Entry, col(Entry.id) == col(Actor.id))
        .where(Actor.id == actor_id)
    ).first()
    if row is None:
        return None
    actor, entry = row
    aliases = session.exec(
        select(Alias.alias).where(Alias.actor_id == actor_id).order_by(col(Alias.id))
    ).all()
    flt = TimelineFilter(actor_id=actor_id)
    page = timeline_page(session=session, flt=flt, limit=events)
    return ActorDetail(
        id=actor.id,
        name=actor.name,
        kind=actor.kind,
        role=actor.role,
        description=actor.description,
        aliases=[a for a in aliases if a != actor.name],
        retracted_reason=(entry.retracted_reason or "") if entry.state != PUBLISHED else None,
        sources=_citation_views(session, actor_id),
        events=page.items,
        event_count=page.total,
    )


def source_detail(*, session: Session, source_id: int, limit: int = 15) -> SourceDetail | None:
    row = session.exec(
        select(Source, Entry)
        .join(Entry, col(Entry.id) == col(Source.id))
        .where(Source.id == source_id)
    ).first()
    if row is None:
        return None
    source, entry = row
    cited = (
        select(Citation.entry_id)
        .join(Entry, col(Entry.id) == col(Citation.entry_id))
        .where(Citation.source_id == source_id, Entry.state == PUBLISHED)
    )
    count = session.exec(select(func.count()).select_from(cited.subquery())).one()
    ids = list(session.exec(cited.order_by(col(Citation.entry_id)).limit(limit)))
    return SourceDetail(
        id=source.id,
        name=source.name,
        kind=source.kind,
        url=source.url,
        reliability=source.reliability,
        retracted_reason=(entry.retracted_reason or "") if entry.state != PUBLISHED else None,
        backs=[Ref(i, n) for i, n in titles(session=session, entry_ids=ids).items()],
        backs_count=count,
    )


def titles(*, session: Session, entry_ids: list[int]) -> dict[int, str]:
    """A display title for each entry id (event title, actor or source name), in input order."""
    found: dict[int, str] = {}
    if not entry_ids:
        return found
    for model, attr in ((Event, Event.title), (Actor, Actor.name), (Source, Source.name)):
        rows = session.exec(select(model.id, attr).where(col(model.id).in_(entry_ids)))
        found.update({i: t for i, t in rows})
    return {i: found[i] for i in entry_ids if i in found}


# --- who --------------------------------------------------------------------------------------


def actors_by_kind(*, session: Session, per_kind: int = 30) -> dict[str, tuple[list[Ref], int]]:
    """Published actors grouped by kind: up to `per_kind` names each, and how many there are."""
    counts = dict(
        session.exec(
            select(Actor.kind, func.count())
            .join(Entry, col(Entry.id) == col(Actor.id))
            .where(Entry.state == PUBLISHED)
            .group_by(Actor.kind)
        ).all()
    )
    grouped: dict[str, tuple[list[Ref], int]] = {}
    for kind in sorted(counts):
        rows = session.exec(
            select(Actor.id, Actor.name)
            .join(Entry, col(Entry.id) == col(Actor.id))
            .where(Entry.state == PUBLISHED, Actor.kind == kind)
            .order_by(col(Actor.name))
            .limit(per_kind)
        ).all()
        grouped[kind] = ([Ref(i, n) for i, n in rows], counts[kind])
    return grouped


@dataclass
class _AliasCache:
    stamp: tuple[object, ...] = ()
    keys: list[str] = field(default_factory=list)
    owners: list[tuple[int, str, str]] = field(default_factory=list)  # (actor id, name, alias)


_alias_caches: dict[int, _AliasCache] = defaultdict(_AliasCache)
_alias_lock = threading.Lock()


def _alias_index(session: Session) -> _AliasCache:
    """Every published alias key in memory, reloaded only when the alias table changes."""
    # Aliases are rewritten on every actor change and retraction writes a revision, so these
    # three numbers change whenever the published alias set may have.
    stamp = (
        session.exec(select(func.max(Alias.id))).one(),
        session.exec(select(func.count(Alias.id))).one(),
        session.exec(select(func.max(Revision.id))).one(),
    )
    bind = session.get_bind()
    with _alias_lock:
        cache = _alias_caches[id(bind)]
        if cache.stamp == stamp:
            return cache
        rows = session.exec(
            select(Alias.actor_id, Actor.name, Alias.alias, Alias.key)
            .join(Actor, col(Actor.id) == col(Alias.actor_id))
            .join(Entry, col(Entry.id) == col(Alias.actor_id))
            .where(Entry.state == PUBLISHED)
            .order_by(col(Alias.id))
        ).all()
        fresh = _AliasCache(stamp, [r[3] for r in rows], [(r[0], r[1], r[2]) for r in rows])
        _alias_caches[id(bind)] = fresh
        return fresh


def find_actors(*, session: Session, query: str, limit: int = 5) -> list[ActorMatch]:
    """Actors matching a name: exact alias key first, then prefix, then fuzzy (typos).

    Scores run 0–100; an exact or prefix match scores 100 or 95, so callers can tell a clear
    winner (one result, or a lead of several points) from a choice to offer.
    """
    key = name_key(query)[:200]
    if not key:
        return []
    best: dict[int, ActorMatch] = {}

    def offer(actor_id: int, name: str, alias: str, score: float) -> None:
        if actor_id not in best or best[actor_id].score < score:
            best[actor_id] = ActorMatch(actor_id, name, alias, score)

    exact = session.exec(
        select(Alias.actor_id, Actor.name, Alias.alias)
        .join(Actor, col(Actor.id) == col(Alias.actor_id))
        .join(Entry, col(Entry.id) == col(Alias.actor_id))
        .where(Entry.state == PUBLISHED, or_(Alias.key == key, and_(
            col(Alias.key).startswith(key + " "))))
        .limit(50)
    ).all()  # fmt: skip
    for actor_id, name, alias in exact:
        offer(actor_id, name, alias, 100.0 if name_key(alias) == key else 96.0)
    if len(best) < limit and len(key) >= 3:
        cache = _alias_index(session)
        for _key, score, index in process.extract(
            key, cache.keys, scorer=fuzz.WRatio, limit=limit * 4, score_cutoff=78
        ):
            actor_id, name, alias = cache.owners[index]
            # WRatio rates a short query inside a long name highly; keep exact matches ahead.
            offer(actor_id, name, alias, min(float(score), 95.0))
    return sorted(best.values(), key=lambda m: (-m.score, m.name))[:limit]


def resolve_actor(*, session: Session, name: str) -> ActorMatch | None:
    """The one actor a name clearly means, or None when it is unknown or ambiguous."""
    matches = find_actors(session=session, query=name, limit=2)
    if matches and (len(matches) == 1 or matches[0].score - matches[1].score >= 5):
        return matches[0]
    return None


# --- sources ----------------------------------------------------------------------------------


def source_overview(*, session: Session) -> list[SourceLine]:
    """Every published source with how many published entries cite it, most cited first."""
    cited = (
        select(Citation.source_id, func.count().label("n"))
        .join(Entry, col(Entry.id) == col(Citation.entry_id))
        .where(Entry.state == PUBLISHED)
        .group_by(Citation.source_id)
        .subquery()
    )
    rows = session.exec(
        select(Source.id, Source.name, Source.kind, func.coalesce(cited.c.n, 0))
        .join(Entry, col(Entry.id) == col(Source.id))
        .outerjoin(cited, cited.c.source_id == col(Source.id))
        .where(Entry.state == PUBLISHED)
        .order_by(func.coalesce(cited.c.n, 0).desc(), col(Source.name))
    ).all()
    return [SourceLine(*row) for row in rows]


def find_source(*, session: Session, name: str) -> Source | None:
    """A published source by name (case-insensitive), or by a close spelling."""
    wanted = " ".join(name.split()).casefold()
    if not wanted:
        return None
    exact = session.exec(
        select(Source)
        .join(Entry, col(Entry.id) == col(Source.id))
        .where(Source.name_key == wanted, Entry.state == PUBLISHED)
    ).first()
    if exact is not None:
        return exact
    rows = session.exec(
        select(Source.id, Source.name_key)
        .join(Entry, col(Entry.id) == col(Source.id))
        .where(Entry.state == PUBLISHED)
        .limit(5000)
    ).all()
    found = process.extractOne(wanted, [r[1] for r in rows], scorer=fuzz.WRatio, score_cutoff=85)
    return session.get(Source, rows[found[2]][0]) if found else None


# --- search -----------------------------------------------------------------------------------


def search(*, session: Session, text: str, offset: int = 0, limit: int = 5) -> Page[SearchResult]:
    """Full-text search over published events, actors and sources, best match first."""
    hits, total = search_entries(session, text, limit=limit, offset=offset)
    ids = [h.entry_id for h in hits]
    results: dict[int, SearchResult] = {}
    if ids:
        for eid, start, precision, label, title in session.exec(
            select(Event.id, Event.date_start, Event.precision, Event.date_label, Event.title)
            .where(col(Event.id).in_(ids))
        ):  # fmt: skip
            results[eid] = SearchResult(eid, EntryKind.EVENT, title,
                                        format_date(start, precision, label))  # fmt: skip
        for aid, name, kind, role in session.exec(
            select(Actor.id, Actor.name, Actor.kind, Actor.role).where(col(Actor.id).in_(ids))
        ):
            results[aid] = SearchResult(aid, EntryKind.ACTOR, name, role or kind)
        for sid, name, kind in session.exec(
            select(Source.id, Source.name, Source.kind).where(col(Source.id).in_(ids))
        ):
            results[sid] = SearchResult(sid, EntryKind.SOURCE, name, kind.replace("_", " "))
    return Page([results[i] for i in ids if i in results], total, offset, limit)


def citations_of(*, session: Session, entry_id: int) -> list[CitationView]:
    """The sources an entry cites, in the order they were recorded."""
    return _citation_views(session, entry_id)
