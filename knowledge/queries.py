"""Read-only lookups for subscribers: timeline, entries, who, sources, search.

Each function takes the session as a keyword-only argument and returns plain dataclasses;
retracted entries are left out of lists and search but still answer a direct lookup by id.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import weakref
import zlib
from bisect import bisect_left
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar

from rapidfuzz import fuzz, process
from sqlalchemy import Connection, Engine, Select, and_, event, func, or_
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, SQLModel, col, select

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
from knowledge.search import search_entries, search_terms
from knowledge.storage.database import base_engine, write_epoch
from knowledge.text import name_key

PUBLISHED = EntryState.PUBLISHED
T = TypeVar("T")
V = TypeVar("V")


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
    more: bool = False  # there are more than `total` (a search counts only so far)

    @property
    def has_prev(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total


# --- memo -------------------------------------------------------------------------------------


@dataclass
class _Memo:
    stamp: tuple[object, ...] = ()
    # Shelf -> key -> value, least recent first. Shelves are evicted separately, so that many
    # distinct rendered replies can't push out the alias index.
    shelves: defaultdict[str, OrderedDict[Hashable, Any]] = field(
        default_factory=lambda: defaultdict(OrderedDict)
    )


_memos: weakref.WeakKeyDictionary[Engine, _Memo] = weakref.WeakKeyDictionary()
_memo_lock = threading.Lock()
# (write epoch, when read, stamp) per engine: see _stamp.
_stamps: weakref.WeakKeyDictionary[Engine, tuple[int, float, tuple[object, ...]]] = (
    weakref.WeakKeyDictionary()
)
STAMP_TTL = 1.0  # seconds a change made by another process may take to show here
_MEMO_SIZE = 512
_WROTE = "knowledge.queries.wrote"
_STAMPED = "knowledge.queries.stamp"


@event.listens_for(Session, "after_flush")
def _note_write(session: Session, _context: object) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_write(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)
        session.info.pop(_STAMPED, None)


def _stamp(session: Session, engine: Engine) -> tuple[object, ...]:
    """Changes whenever the knowledge base may have: every curated change writes a revision,
    and a bulk load adds entries and aliases. Three index lookups, one round trip.

    Read once per transaction (a reply may consult the cache several times), and shared by
    the transactions that follow while nothing was committed in this process and for at most
    STAMP_TTL seconds: another process's change shows here within that time, this process's
    at once. A unit of work that is answered from the cache then never touches the database.
    """
    stamped = session.info.get(_STAMPED)
    if stamped is not None:
        return stamped  # type: ignore[no-any-return]
    epoch, now = write_epoch(), time.monotonic()
    with _memo_lock:
        shared = _stamps.get(engine)
    if shared is not None and shared[0] == epoch and now - shared[1] < STAMP_TTL:
        stamp = shared[2]
    else:
        # In plain SQL: building a statement would cost more than the lookups themselves.
        stamp = tuple(session.connection().exec_driver_sql(_STAMP_SQL).one())
        with _memo_lock:
            _stamps[engine] = (epoch, now, stamp)
    session.info[_STAMPED] = stamp
    return stamp


_STAMP_SQL = (
    f"SELECT (SELECT max(id) FROM {Revision.__tablename__}), "
    f"(SELECT max(id) FROM {Entry.__tablename__}), (SELECT max(id) FROM {Alias.__tablename__})"
)


def remembered(
    session: Session, key: Hashable, compute: Callable[[], V], *, shelf: str = "data"
) -> V:
    """`compute()`, kept per database until the knowledge base changes.

    For the expensive parts of a reply that many users ask for alike (exact counts over
    100,000 events, the alias index), and for whole rendered replies (`shelf="replies"`):
    recomputing them per update would blow the latency budget. `compute` must depend on the
    knowledge base only (not on who asks, nor the time). A session that has written in its
    transaction computes afresh and keeps nothing, since its view may yet be rolled back.
    """
    if session.info.get(_WROTE):
        return compute()
    bind = session.get_bind()
    engine = base_engine(bind.engine if isinstance(bind, Connection) else bind)
    stamp = _stamp(session, engine)
    with _memo_lock:
        memo = _memos.get(engine)
        if memo is None or memo.stamp != stamp:
            memo = _memos[engine] = _Memo(stamp)
        values = memo.shelves[shelf]
        if key in values:
            values.move_to_end(key)
            return values[key]  # type: ignore[no-any-return]
    value = compute()
    with _memo_lock:
        if _memos.get(engine) is memo:
            if len(values) >= _MEMO_SIZE:
                values.popitem(last=False)
            values[key] = value
    return value


HIDDEN_STATES = [state.value for state in EntryState if state != PUBLISHED]


def _hidden_ids() -> Select[tuple[int]]:
    # Retracted entries are few, so leaving them out by id is far cheaper than joining every
    # listed row to `entry` to check its state.
    return select(Entry.id).where(col(Entry.state).in_(HIDDEN_STATES))  # type: ignore[return-value]


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


@dataclass(frozen=True)
class PageKey:
    """A keyset position on the timeline: the page after (or before) the event at (date, id).

    Paging by key costs the same on page 10,000 as on page 1, where OFFSET would walk every
    earlier event; the ◀ ▶ buttons carry the key of the page they come from.
    """

    date: date
    id: int
    before: bool = False

    def code(self) -> str:
        """A compact form for callback data (≤ 19 bytes): `a20230711.25`."""
        return f"{'b' if self.before else 'a'}{self.date:%Y%m%d}.{self.id}"

    @classmethod
    def parse(cls, code: str) -> PageKey | None:
        match = re.fullmatch(r"([ab])(\d{4})(\d{2})(\d{2})\.(\d{1,10})", code)
        if match is None:
            return None
        direction, year, month, day, entry_id = match.groups()
        try:
            return cls(date(int(year), int(month), int(day)), int(entry_id), direction == "b")
        except ValueError:
            return None


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


def _topics_by_code(session: Session) -> dict[str, str]:
    topics = session.exec(select(EventTopic.topic).distinct()).all()
    return {f"{zlib.crc32(topic.encode()):x}": topic for topic in topics}


def decode_filter(*, session: Session, code: str) -> TimelineFilter | None:
    """The filter behind `TimelineFilter.code()`, or None if it no longer resolves."""
    try:
        if code == "-":
            return TimelineFilter()
        if code.startswith("a"):
            actor = session.get(Actor, int(code[1:]))
            return TimelineFilter(actor_id=actor.id, label=actor.name) if actor else None
        if code.startswith("t"):
            topic = remembered(session, ("topics",), lambda: _topics_by_code(session)).get(
                code[1:]
            )
            return TimelineFilter(topic=topic, label=topic) if topic else None
        if code.startswith("r"):
            s, _, e = code[1:].partition("-")
            start = date(int(s[:4]), int(s[4:6]), int(s[6:])) if s else None
            end = date(int(e[:4]), int(e[4:6]), int(e[6:])) if e else None
            label = f"{start or ''}..{end or ''}"
            return TimelineFilter(start=start, end=end, label=label)
    except (ValueError, IndexError):
        return None
    return None


def _links(flt: TimelineFilter) -> list[tuple[type[SQLModel], Any, object]]:
    """The link tables a filter goes through: (table, column to match, value)."""
    links: list[tuple[type[SQLModel], Any, object]] = []
    if flt.actor_id is not None:
        links.append((EventActor, col(EventActor.actor_id), flt.actor_id))
    if flt.topic is not None:
        links.append((EventTopic, col(EventTopic.topic), flt.topic))
    return links


def _in_range(query: Select[Any], flt: TimelineFilter) -> Select[Any]:
    if flt.start:
        query = query.where(col(Event.date_start) >= flt.start)
    if flt.end:
        query = query.where(col(Event.date_start) <= flt.end)
    return query


def _timeline_query(flt: TimelineFilter, *, walk: bool = True) -> Select[tuple[int]]:
    """Ids of the published events a filter selects, unordered.

    `walk` tests links with EXISTS, so the database can walk the (date, id) index in order and
    stop after one page: right when the filter matches many events. Otherwise the links are
    joined, which gathers a few matching events directly and sorts them.
    """
    query: Select[Any] = _in_range(select(Event.id), flt)
    for link, column, value in _links(flt):
        link_event = link.event_id  # type: ignore[attr-defined]
        if walk:
            query = query.where(
                select(link_event).where(link_event == col(Event.id), column == value).exists()
            )
        else:
            query = query.join(link, link_event == col(Event.id)).where(column == value)
    return query.where(col(Event.id).not_in(_hidden_ids()))


def _count_events(session: Session, flt: TimelineFilter) -> int:
    """How many published events the filter selects (exact; remembered until a change)."""

    def compute() -> int:
        links = _links(flt)
        if len(links) > 1 or (links and (flt.start or flt.end)):
            query = _timeline_query(flt, walk=False)
            return session.exec(select(func.count()).select_from(query.subquery())).one()
        # Count every row in an index, then take away the few retracted ones.
        if links:
            link, column, value = links[0]
            link_event = link.event_id  # type: ignore[attr-defined]
            everything = select(func.count()).select_from(link).where(column == value)
            hidden = (
                select(func.count())
                .select_from(link)
                .join(Entry, col(Entry.id) == link_event)
                .where(column == value, col(Entry.state).in_(HIDDEN_STATES))
            )
        else:
            everything = _in_range(select(func.count()).select_from(Event), flt)
            hidden = _in_range(
                select(func.count())
                .select_from(Event)
                .join(Entry, col(Entry.id) == col(Event.id))
                .where(col(Entry.state).in_(HIDDEN_STATES)),
                flt,
            )
        return int(session.exec(everything).one()) - int(session.exec(hidden).one())

    return remembered(session, ("timeline-count", flt.code(), flt.start, flt.end), compute)


def _page_ids(
    session: Session,
    flt: TimelineFilter,
    *,
    total: int,
    limit: int,
    offset: int = 0,
    key: PageKey | None = None,
    from_end: bool = False,
) -> list[int]:
    walk = True
    if _links(flt):
        # Walking the date index costs about limit × all / total rows; joining costs total.
        everything = _count_events(session, TimelineFilter())
        walk = total * total >= max(limit, 10) * everything
    query = _timeline_query(flt, walk=walk)
    descending = from_end or (key is not None and key.before)
    if key is not None:
        # `date >= d` first so the database can seek the (date, id) index to the key.
        same_day = col(Event.date_start) == key.date
        if key.before:
            query = query.where(col(Event.date_start) <= key.date).where(
                or_(col(Event.date_start) < key.date, and_(same_day, col(Event.id) < key.id))
            )
        else:
            query = query.where(col(Event.date_start) >= key.date).where(
                or_(col(Event.date_start) > key.date, and_(same_day, col(Event.id) > key.id))
            )
    if descending:
        query = query.order_by(col(Event.date_start).desc(), col(Event.id).desc())
    else:
        query = query.order_by(col(Event.date_start), col(Event.id))
    query = query.limit(limit)
    if key is None and not from_end and offset:
        query = query.offset(offset)
    ids = list(session.exec(query))
    return ids[::-1] if descending else ids


def _lines(session: Session, ids: list[int]) -> list[EventLine]:
    if not ids:
        return []
    rows = session.exec(
        select(Event.id, Event.date_start, Event.precision, Event.date_label, Event.title,
               Event.status).where(col(Event.id).in_(ids))
    ).all()  # fmt: skip
    by_id = {row[0]: _line(row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def _line(row) -> EventLine:  # type: ignore[no-untyped-def]
    eid, start, precision, label, title, status = row
    return EventLine(eid, format_date(start, precision, label), title, status, start)


def timeline_page(
    *,
    session: Session,
    flt: TimelineFilter,
    offset: int = 0,
    limit: int = 10,
    key: PageKey | None = None,
) -> Page[EventLine]:
    """One page of the timeline, oldest first (ties by id, so pages never overlap).

    With `key` (from a ◀ ▶ button) the page is found by keyset and `offset` only says where
    it starts for the "11–20 of N" label; without it, `offset` is used as given. Pages are
    remembered until the knowledge base changes: the first one is what everybody asks for.
    """
    memo_key = ("timeline-page", flt.code(), flt.start, flt.end, offset, limit, key)
    page = remembered(
        session,
        memo_key,
        lambda: _timeline_page(session, flt, offset=offset, limit=limit, key=key),
    )
    return Page(list(page.items), page.total, page.offset, page.limit)


def _timeline_page(
    session: Session, flt: TimelineFilter, *, offset: int, limit: int, key: PageKey | None
) -> Page[EventLine]:
    total = _count_events(session, flt)
    if key is None:
        offset = max(0, min(offset, max(total - 1, 0)))
        ids = _page_ids(session, flt, total=total, limit=limit, offset=offset)
        return Page(_lines(session, ids), total, offset, limit)
    ids = _page_ids(session, flt, total=total, limit=limit, key=key)
    if key.before and len(ids) < limit:
        # Nothing (or too little) before the key any more: the list starts here.
        return _timeline_page(session, flt, offset=0, limit=limit, key=None)
    if not key.before and not ids:
        # A stale key past the end: show the last page (as paging from the start ends).
        tail = total % limit or limit
        ids = _page_ids(session, flt, total=total, limit=tail, from_end=True)
        return Page(_lines(session, ids), total, max(total - len(ids), 0), limit)
    if not key.before and len(ids) < limit:
        offset = total - len(ids)
    offset = max(0, min(offset, max(total - len(ids), 0)))
    return Page(_lines(session, ids), total, offset, limit)


def timeline_after(
    *, session: Session, flt: TimelineFilter, after: tuple[date, int] | None, limit: int = 10
) -> list[EventLine]:
    """Keyset page: the events after (date, id), for callers walking a long timeline."""
    key = PageKey(*after) if after is not None else None
    total = _count_events(session, flt)
    return _lines(session, _page_ids(session, flt, total=total, limit=limit, key=key))


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
    count = _citation_counts(session).get(source_id, 0)
    # The (source_id, entry_id) index yields the first citing entries without a sort.
    ids = list(
        session.exec(
            select(Citation.entry_id)
            .where(Citation.source_id == source_id)
            .where(col(Citation.entry_id).not_in(_hidden_ids()))
            .order_by(col(Citation.entry_id))
            .limit(limit)
        )
    )
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

    def compute() -> dict[str, tuple[list[Ref], int]]:
        published = col(Actor.id).not_in(_hidden_ids())
        counts = dict(
            session.exec(
                select(Actor.kind, func.count()).where(published).group_by(Actor.kind)
            ).all()
        )
        grouped: dict[str, tuple[list[Ref], int]] = {}
        for kind in sorted(counts):
            # Read in order from the (kind, name) index, not sorted per request.
            rows = session.exec(
                select(Actor.id, Actor.name)
                .where(Actor.kind == kind, published)
                .order_by(col(Actor.name))
                .limit(per_kind)
            ).all()
            grouped[kind] = ([Ref(i, n) for i, n in rows], counts[kind])
        return grouped

    return dict(remembered(session, ("actors-by-kind", per_kind), compute))


@dataclass(frozen=True)
class _AliasIndex:
    """Every published alias in memory, for fuzzy matching without a query per alias."""

    keys: list[str]  # alias keys, one per alias row
    owners: list[tuple[int, str, str]]  # (actor id, actor name, alias), parallel to keys
    sorted_keys: list[tuple[str, int]]  # (key, index into owners), in code point order
    words: list[str]  # every distinct word of every key, sorted (for prefixes and typos)
    word_owners: list[list[int]]  # indexes into owners, parallel to words

    def starting_with(self, prefix: str) -> Iterator[int]:
        """Owners of the keys that start with `prefix`."""
        start = bisect_left(self.sorted_keys, (prefix,))
        for key, i in itertools.islice(self.sorted_keys, start, None):
            if not key.startswith(prefix):
                return
            yield i


def _load_alias_index(session: Session) -> _AliasIndex:
    rows = session.exec(
        select(Alias.actor_id, Actor.name, Alias.alias, Alias.key)
        .join(Actor, col(Actor.id) == col(Alias.actor_id))
        .where(col(Alias.actor_id).not_in(_hidden_ids()))
        .order_by(col(Alias.id))
    ).all()
    owners_of: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        for word in dict.fromkeys(row[3].split()):
            owners_of[word].append(index)
    words = sorted(owners_of)
    return _AliasIndex(
        keys=[r[3] for r in rows],
        owners=[(r[0], r[1], r[2]) for r in rows],
        sorted_keys=sorted((r[3], i) for i, r in enumerate(rows)),
        words=words,
        word_owners=[owners_of[w] for w in words],
    )


def _alias_index(session: Session) -> _AliasIndex:
    return remembered(session, ("aliases",), lambda: _load_alias_index(session))


def find_actors(*, session: Session, query: str, limit: int = 5) -> list[ActorMatch]:
    """Actors matching a name: exact alias key first, then prefix, then fuzzy (typos).

    Scores run 0–100; an exact or prefix match scores 100 or 96 and a fuzzy one at most 95,
    so callers can tell a clear winner (one result, or a lead of several points) from a
    choice to offer.
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
        .where(Alias.key == key, col(Alias.actor_id).not_in(_hidden_ids()))
        .limit(50)
    ).all()
    for actor_id, name, alias in exact:
        offer(actor_id, name, alias, 100.0)
    if len(best) >= limit:
        return sorted(best.values(), key=lambda m: (-m.score, m.name))[:limit]
    index = _alias_index(session)
    # The key followed by more words ("klymenko" -> "klymenko time"). In memory, because a
    # range on the column would depend on PostgreSQL's collation (en_US ignores spaces).
    for i in itertools.islice(index.starting_with(key + " "), 50):
        offer(*index.owners[i], 96.0)
    if len(best) < limit and len(key) >= 3:
        # Plain edit-distance ratios: WRatio's partial matching rates any one- or two-letter
        # alias ("m", "us") 90 against every query containing it.
        for _key, score, i in process.extract(
            key, index.keys, scorer=fuzz.ratio, limit=limit * 4, score_cutoff=78
        ):
            offer(*index.owners[i], min(float(score), 95.0))
        if " " not in key:
            # One word may be any word of a longer name: a surname, or a name half typed.
            start = bisect_left(index.words, key)
            for w in range(start, min(start + limit * 4, len(index.words))):
                if not index.words[w].startswith(key):
                    break
                for i in index.word_owners[w][: limit * 4]:
                    offer(*index.owners[i], 90.0)
            for _word, score, w in process.extract(
                key, index.words, scorer=fuzz.ratio, limit=limit * 4, score_cutoff=80
            ):
                for i in index.word_owners[w][: limit * 4]:
                    offer(*index.owners[i], min(float(score), 95.0) - 1)
    return sorted(best.values(), key=lambda m: (-m.score, m.name))[:limit]


def resolve_actor(*, session: Session, name: str) -> ActorMatch | None:
    """The one actor a name clearly means, or None when it is unknown or ambiguous."""
    matches = find_actors(session=session, query=name, limit=2)
    if matches and (len(matches) == 1 or matches[0].score - matches[1].score >= 5):
        return matches[0]
    return None


# --- sources ----------------------------------------------------------------------------------


def _citation_counts(session: Session) -> dict[int, int]:
    """How many published entries cite each source (remembered until a change)."""

    def compute() -> dict[int, int]:
        # Count all citations from the (source_id, entry_id) index, then take away the few
        # of retracted entries: far cheaper than checking every citing entry's state.
        counts = dict(
            session.exec(
                select(Citation.source_id, func.count()).group_by(col(Citation.source_id))
            ).all()
        )
        hidden = session.exec(
            select(Citation.source_id, func.count())
            .join(Entry, col(Entry.id) == col(Citation.entry_id))
            .where(col(Entry.state).in_(HIDDEN_STATES))
            .group_by(col(Citation.source_id))
        ).all()
        for source_id, n in hidden:
            counts[source_id] -= n
        return counts

    return remembered(session, ("citation-counts",), compute)


def source_overview(*, session: Session, limit: int | None = None) -> list[SourceLine]:
    """Published sources with how many published entries cite each, most cited first
    (the first `limit` of them, when given)."""

    def compute() -> list[SourceLine]:
        counts = _citation_counts(session)
        rows = session.exec(
            select(Source.id, Source.name, Source.kind).where(col(Source.id).not_in(_hidden_ids()))
        ).all()
        lines = [SourceLine(i, name, kind, counts.get(i, 0)) for i, name, kind in rows]
        return sorted(lines, key=lambda line: (-line.citations, line.name.casefold()))

    lines = remembered(session, ("source-overview",), compute)
    return lines[:limit] if limit is not None else list(lines)


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
    """Full-text search over published events, actors and sources, best match first.

    Pages are remembered until the knowledge base changes, like timeline pages: the same
    few searches come back again and again, and ranking a common word costs milliseconds.
    """
    terms = tuple(search_terms(text))
    page = remembered(
        session,
        ("search-page", terms, offset, limit),
        lambda: _search_page(session, text, offset=offset, limit=limit),
    )
    return Page(list(page.items), page.total, page.offset, page.limit, page.more)


def _search_page(session: Session, text: str, *, offset: int, limit: int) -> Page[SearchResult]:
    found = search_entries(session, text, limit=limit, offset=offset)
    ids = [h.entry_id for h in found.hits]
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
    items = [results[i] for i in ids if i in results]
    return Page(items, found.total, offset, limit, found.more)


def citations_of(*, session: Session, entry_id: int) -> list[CitationView]:
    """The sources an entry cites, in the order they were recorded."""
    return _citation_views(session, entry_id)
