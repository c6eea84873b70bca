"""One entry in full (event, actor or source) with its citations, and entry titles."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from knowledge.language.dates import format_date
from knowledge.models import (
    Actor,
    Alias,
    Citation,
    Entry,
    Event,
    EventActor,
    EventTopic,
    Source,
)
from knowledge.read.published import PUBLISHED, hidden_ids
from knowledge.read.sources import citation_counts
from knowledge.read.timeline import TimelineFilter, timeline_page
from knowledge.read.views import ActorDetail, CitationView, EventDetail, Ref, SourceDetail


def entry_kind(*, session: Session, entry_id: int) -> str | None:
    entry = session.get(Entry, entry_id)
    return entry.kind if entry else None


def _citation_views(session: Session, entry_id: int) -> list[CitationView]:
    # Five columns: SQLAlchemy's `select`, as SQLModel's is typed for at most four.
    rows = session.execute(
        sa.select(col(Source.id), col(Source.name), col(Source.kind), col(Source.url),
                  col(Citation.note))
        .join(Citation, col(Citation.source_id) == col(Source.id))
        .where(col(Citation.entry_id) == entry_id)
        .order_by(col(Citation.id))
    ).all()  # fmt: skip
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
    count = citation_counts(session).get(source_id, 0)
    # The (source_id, entry_id) index yields the first citing entries without a sort.
    ids = list(
        session.exec(
            select(Citation.entry_id)
            .where(Citation.source_id == source_id)
            .where(col(Citation.entry_id).not_in(hidden_ids()))
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


def citations_of(*, session: Session, entry_id: int) -> list[CitationView]:
    """The sources an entry cites, in the order they were recorded."""
    return _citation_views(session, entry_id)
