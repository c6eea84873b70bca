"""The timeline: dated events, oldest first, filtered by dates, actors or topics, paged by key."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import and_, func, or_
from sqlalchemy.orm import Mapped
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from knowledge.language.dates import DateError, format_date, parse_date
from knowledge.language.wording import N_, Explained
from knowledge.models import (
    MAX_ID,
    ORIGINAL_LANGUAGE,
    Actor,
    Entry,
    Event,
    EventActor,
    EventTopic,
)
from knowledge.read.actors import find_actors
from knowledge.read.published import HIDDEN_STATES, briefing_backs, briefing_cited, hidden_ids
from knowledge.read.translated import Translator
from knowledge.read.views import EventLine, Page, PageKey
from knowledge.storage.cache import remembered


@dataclass(frozen=True)
class TimelineFilter:
    """What `/timeline` shows: a date range, an actor or a topic (at most one of the last two)."""

    start: date | None = None
    end: date | None = None
    actor_id: int | None = None
    topic: str | None = None
    label: str = ""
    briefing: bool = False  # only what the briefing itself supports

    def code(self) -> str:
        """A compact form for callback data (≤ 24 bytes)."""
        if self.briefing:
            return "b"
        if self.actor_id is not None:
            return f"a{self.actor_id}"
        if self.topic is not None:
            return f"t{zlib.crc32(self.topic.encode()):x}"
        if self.start or self.end:
            s = self.start.strftime("%Y%m%d") if self.start else ""
            e = self.end.strftime("%Y%m%d") if self.end else ""
            return f"r{s}-{e}"
        return "-"


BRIEFING_WORDS = ("briefing", "the briefing", "briefing only")
BRIEFING_LABEL = N_("the briefing alone")  # the label of `/timeline briefing`, translated


class FilterError(Explained):
    """A `/timeline` filter that names nothing we know; the message is for the user."""


def resolve_timeline_filter(*, session: Session, text: str) -> TimelineFilter:
    """Read `/timeline` arguments: `2023`, `2022-02..2023-07`, an actor's name or a topic."""
    text = text.strip()
    if not text:
        return TimelineFilter()
    if text.casefold() in BRIEFING_WORDS:
        return TimelineFilter(briefing=True, label=BRIEFING_LABEL)
    if ".." in text:
        left, _, right = text.partition("..")
        try:
            start = parse_date(left).start if left.strip() else None
            end = parse_date(right).end if right.strip() else None
        except DateError as exc:
            raise FilterError(exc.template, **exc.values) from None
        if start and end and start > end:
            raise FilterError(N_("the range starts after it ends"))
        return TimelineFilter(start=start, end=end, label=text)
    if text[:4].isdigit():
        try:
            fuzzy = parse_date(text)
        except DateError as exc:
            raise FilterError(exc.template, **exc.values) from None
        return TimelineFilter(start=fuzzy.start, end=fuzzy.end, label=text)
    topic = text.lower().lstrip("#").replace(" ", "-")
    if session.exec(select(EventTopic.topic).where(EventTopic.topic == topic).limit(1)).first():
        return TimelineFilter(topic=topic, label=topic)
    matches = find_actors(session=session, query=text, limit=2)
    if matches and (len(matches) == 1 or matches[0].score - matches[1].score >= 5):
        return TimelineFilter(actor_id=matches[0].id, label=matches[0].name)
    raise FilterError(N_("no date, topic or actor matches “{text}”"), text=text[:60])


def _topics_by_code(session: Session) -> dict[str, str]:
    topics = session.exec(select(EventTopic.topic).distinct()).all()
    return {f"{zlib.crc32(topic.encode()):x}": topic for topic in topics}


def decode_filter(*, session: Session, code: str) -> TimelineFilter | None:
    """The filter behind `TimelineFilter.code()`, or None if it no longer resolves."""
    try:
        if code == "-":
            return TimelineFilter()
        if code == "b":
            return TimelineFilter(briefing=True, label=BRIEFING_LABEL)
        if code.startswith("a"):
            actor_id = int(code[1:])
            if not 0 < actor_id <= MAX_ID:  # forged button data: no such actor
                return None
            actor = session.get(Actor, actor_id)
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


_Link = tuple[type[SQLModel], Mapped[int], Mapped[Any], object]


def _links(flt: TimelineFilter) -> list[_Link]:
    """The link tables a filter goes through: (table, its event id, column to match, value)."""
    links: list[_Link] = []
    if flt.actor_id is not None:
        links.append(
            (EventActor, col(EventActor.event_id), col(EventActor.actor_id), flt.actor_id)
        )
    if flt.topic is not None:
        links.append((EventTopic, col(EventTopic.event_id), col(EventTopic.topic), flt.topic))
    return links


_Query = TypeVar("_Query", bound=sa.Select[Any])


def _in_range(query: _Query, flt: TimelineFilter) -> _Query:
    """Events whose whole date range lies in the filter's: "Feb 2022" is in 2022, not in the
    week of 24 Feb; a year the curators estimate is in no month. The rank bounds (the rank
    grows with the end of an event's range) let the database seek the timeline's index."""
    if flt.start:
        query = query.where(col(Event.date_start) >= flt.start)
        query = query.where(col(Event.timeline_rank) >= flt.start.toordinal() * 10)
    if flt.end:
        query = query.where(col(Event.date_end) <= flt.end)
        query = query.where(col(Event.timeline_rank) < (flt.end.toordinal() + 1) * 10)
    return query


def _timeline_query(flt: TimelineFilter, *, walk: bool = True) -> SelectOfScalar[int]:
    """Ids of the published events a filter selects, unordered.

    `walk` tests links with EXISTS, so the database can walk the (date, id) index in order and
    stop after one page: right when the filter matches many events. Otherwise the links are
    joined, which gathers a few matching events directly and sorts them.
    """
    query = _in_range(select(Event.id), flt)
    for link, link_event, column, value in _links(flt):
        if walk:
            query = query.where(
                select(link_event).where(link_event == col(Event.id), column == value).exists()
            )
        else:
            query = query.join(link, link_event == col(Event.id)).where(column == value)
    if flt.briefing:
        query = query.where(col(Event.id).in_(briefing_cited()))
    return query.where(col(Event.id).not_in(hidden_ids()))


def _count_events(session: Session, flt: TimelineFilter) -> int:
    """How many published events the filter selects (exact; remembered until a change)."""

    def compute() -> int:
        links = _links(flt)
        if flt.briefing or len(links) > 1 or (links and (flt.start or flt.end)):
            query = _timeline_query(flt, walk=False)
            return session.exec(select(func.count()).select_from(query.subquery())).one()
        # Count every row in an index, then take away the few retracted ones.
        if links:
            link, link_event, column, value = links[0]
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
        # One statement, one round trip.
        both = sa.select(everything.scalar_subquery() - hidden.scalar_subquery())
        return int(session.execute(both).scalar_one())

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
        # `rank >= r` first so the database can seek the (rank, id) index to the key.
        rank = col(Event.timeline_rank)
        same = rank == key.rank
        if key.before:
            query = query.where(rank <= key.rank).where(
                or_(rank < key.rank, and_(same, col(Event.id) < key.id))
            )
        else:
            query = query.where(rank >= key.rank).where(
                or_(rank > key.rank, and_(same, col(Event.id) > key.id))
            )
    if descending:
        query = query.order_by(col(Event.timeline_rank).desc(), col(Event.id).desc())
    else:
        query = query.order_by(col(Event.timeline_rank), col(Event.id))
    query = query.limit(limit)
    if key is None and not from_end and offset:
        query = query.offset(offset)
    ids = list(session.exec(query))
    return ids[::-1] if descending else ids


def _lines(session: Session, ids: list[int], language: str) -> list[EventLine]:
    if not ids:
        return []
    # Six columns: SQLAlchemy's `select`, as SQLModel's is typed for at most four.
    rows = session.execute(
        sa.select(col(Event.id), col(Event.date_start), col(Event.precision),
                  col(Event.date_label), col(Event.title), col(Event.status),
                  col(Event.timeline_rank), briefing_backs(col(Event.id)))
        .where(col(Event.id).in_(ids))
    ).all()  # fmt: skip
    titles = Translator(session, language, ids, ["title", "date_label"])
    by_id = {row[0]: _line(row, titles, language) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def _line(row: Sequence[Any], titles: Translator, language: str) -> EventLine:
    eid, start, precision, label, title, status, rank, from_briefing = row
    label, _ = titles.text(eid, "date_label", label or "")
    date_text = format_date(start, precision, label or None, language)
    shown, untranslated = titles.text(eid, "title", title)
    return EventLine(eid, date_text, shown, status, start, rank, from_briefing, untranslated)


def timeline_page(
    *,
    session: Session,
    flt: TimelineFilter,
    offset: int = 0,
    limit: int = 10,
    key: PageKey | None = None,
    language: str = ORIGINAL_LANGUAGE,
) -> Page[EventLine]:
    """One page of the timeline, oldest first (ties by id, so pages never overlap), its
    titles in `language` where they are translated.

    With `key` (from a ◀ ▶ button) the page is found by keyset and `offset` only says where
    it starts for the "11–20 of N" label; without it, `offset` is used as given. Pages are
    remembered until the knowledge base changes: the first one is what everybody asks for.
    """
    memo_key = ("timeline-page", flt.code(), flt.start, flt.end, offset, limit, key, language)
    page = remembered(
        session,
        memo_key,
        lambda: _timeline_page(session, flt, offset=offset, limit=limit, key=key, lang=language),
    )
    return Page(list(page.items), page.total, page.offset, page.limit)


def _timeline_page(
    session: Session,
    flt: TimelineFilter,
    *,
    offset: int,
    limit: int,
    key: PageKey | None,
    lang: str,
) -> Page[EventLine]:
    total = _count_events(session, flt)
    if key is None:
        offset = max(0, min(offset, max(total - 1, 0)))
        ids = _page_ids(session, flt, total=total, limit=limit, offset=offset)
        return Page(_lines(session, ids, lang), total, offset, limit)
    ids = _page_ids(session, flt, total=total, limit=limit, key=key)
    if key.before and len(ids) < limit:
        # Nothing (or too little) before the key any more: the list starts here.
        return _timeline_page(session, flt, offset=0, limit=limit, key=None, lang=lang)
    if not key.before and not ids:
        # A stale key past the end: show the last page (as paging from the start ends).
        tail = total % limit or limit
        ids = _page_ids(session, flt, total=total, limit=tail, from_end=True)
        return Page(_lines(session, ids, lang), total, max(total - len(ids), 0), limit)
    if not key.before and len(ids) < limit:
        offset = total - len(ids)
    offset = max(0, min(offset, max(total - len(ids), 0)))
    return Page(_lines(session, ids, lang), total, offset, limit)
