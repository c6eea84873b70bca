"""One entry in full (event, actor or source) with its citations, and entry titles."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, select

from knowledge.language.dates import format_date
from knowledge.models import (
    ORIGINAL_LANGUAGE,
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
from knowledge.read.translated import Translator, is_original
from knowledge.read.views import ActorDetail, CitationView, EventDetail, Ref, SourceDetail


def entry_kind(*, session: Session, entry_id: int) -> str | None:
    entry = session.get(Entry, entry_id)
    return entry.kind if entry else None


def _citation_views(
    session: Session, entry_id: int, language: str = ORIGINAL_LANGUAGE
) -> list[CitationView]:
    # Five columns: SQLAlchemy's `select`, as SQLModel's is typed for at most four.
    rows = session.execute(
        sa.select(col(Source.id), col(Source.name), col(Source.kind), col(Source.url),
                  col(Citation.note))
        .join(Citation, col(Citation.source_id) == col(Source.id))
        .where(col(Citation.entry_id) == entry_id)
        .order_by(col(Citation.id))
    ).all()  # fmt: skip
    names = Translator(session, language, [row[0] for row in rows], ["name"])
    views = []
    for source_id, name, kind, url, note in rows:
        shown, untranslated = names.text(source_id, "name", name)
        note_original = bool(note) and not is_original(language)
        views.append(CitationView(source_id, shown, kind, url, note, untranslated, note_original))
    return views


def _refs(session: Session, rows: Sequence[tuple[int, str]], language: str) -> list[Ref]:
    names = Translator(session, language, [i for i, _ in rows], ["name", "title"])
    refs = []
    for entry_id, name in rows:
        shown, untranslated = names.text(entry_id, "name", name)
        if untranslated:
            shown, untranslated = names.text(entry_id, "title", name)
        refs.append(Ref(entry_id, shown, untranslated))
    return refs


def event_detail(
    *, session: Session, event_id: int, language: str = ORIGINAL_LANGUAGE
) -> EventDetail | None:
    """The whole event, retracted or not (a retracted one carries its reason), its text in
    `language` where it is translated."""
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
    own = Translator(session, language, [event_id], ["title", "summary", "date_label"])
    title, title_missing = own.text(event_id, "title", event.title)
    summary, summary_missing = own.text(event_id, "summary", event.summary)
    label, _ = own.text(event_id, "date_label", event.date_label or "")
    return EventDetail(
        id=event.id,
        date_text=format_date(event.date_start, event.precision, label or None, language),
        title=title,
        summary=summary,
        status=event.status,
        retracted_reason=(entry.retracted_reason or "") if entry.state != PUBLISHED else None,
        topics=list(topics),
        actors=_refs(session, actors, language),
        citations=_citation_views(session, event_id, language),
        untranslated=_missing(title=title_missing, summary=summary_missing),
    )


def _missing(**fields: bool) -> tuple[str, ...]:
    return tuple(field for field, missing in fields.items() if missing)


def actor_detail(
    *, session: Session, actor_id: int, events: int = 8, language: str = ORIGINAL_LANGUAGE
) -> ActorDetail | None:
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
    page = timeline_page(session=session, flt=flt, limit=events, language=language)
    own = Translator(session, language, [actor_id], ["name", "role", "description"])
    name, name_missing = own.text(actor_id, "name", actor.name)
    role, role_missing = own.text(actor_id, "role", actor.role)
    description, description_missing = own.text(actor_id, "description", actor.description)
    return ActorDetail(
        id=actor.id,
        name=name,
        kind=actor.kind,
        role=role,
        description=description,
        # The name shown heads the card; in a translation, the original name is another alias.
        aliases=[a for a in dict.fromkeys([actor.name, *aliases]) if a != name],
        retracted_reason=(entry.retracted_reason or "") if entry.state != PUBLISHED else None,
        sources=_citation_views(session, actor_id, language),
        events=page.items,
        event_count=page.total,
        untranslated=_missing(
            name=name_missing, role=role_missing, description=description_missing
        ),
    )


def source_detail(
    *, session: Session, source_id: int, limit: int = 15, language: str = ORIGINAL_LANGUAGE
) -> SourceDetail | None:
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
    own = Translator(session, language, [source_id], ["name", "reliability"])
    name, name_missing = own.text(source_id, "name", source.name)
    reliability, reliability_missing = own.text(source_id, "reliability", source.reliability)
    return SourceDetail(
        id=source.id,
        name=name,
        kind=source.kind,
        url=source.url,
        reliability=reliability,
        retracted_reason=(entry.retracted_reason or "") if entry.state != PUBLISHED else None,
        backs=titled_refs(session=session, entry_ids=ids, language=language),
        backs_count=count,
        untranslated=_missing(name=name_missing, reliability=reliability_missing),
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


def titled_refs(
    *, session: Session, entry_ids: list[int], language: str = ORIGINAL_LANGUAGE
) -> list[Ref]:
    """Each entry as a link with its title (event) or name (actor, source) in `language`,
    in input order; entries that don't exist are left out."""
    return _refs(session, list(titles(session=session, entry_ids=entry_ids).items()), language)


def citations_of(
    *, session: Session, entry_id: int, language: str = ORIGINAL_LANGUAGE
) -> list[CitationView]:
    """The sources an entry cites, in the order they were recorded."""
    return _citation_views(session, entry_id, language)
