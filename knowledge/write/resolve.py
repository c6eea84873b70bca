"""Finding what a moderator names: entries by id and kind, sources and actors by name."""

from __future__ import annotations

from sqlmodel import Session, col, select

from knowledge.language.wording import N_
from knowledge.models import (
    Entry,
    EntryKind,
    EntryState,
    Source,
)
from knowledge.read.actors import find_actors, resolve_actor
from knowledge.read.sources import find_source
from knowledge.write.records import CurationError


class UnknownSource(CurationError):
    """A source name that matches none; the reply offers to create it with /add_source."""

    def __init__(self, name: str, suggestion: str | None) -> None:
        if suggestion:
            super().__init__(
                N_("no source is called “{name}” (did you mean “{suggestion}”?)"),
                name=name[:80],
                suggestion=suggestion,
            )
        else:
            super().__init__(N_("no source is called “{name}”"), name=name[:80])
        self.name = name[:200]
        self.suggestion = suggestion


def entry_of_kind(session: Session, entry_id: int) -> Entry:
    entry = session.get(Entry, entry_id)
    if entry is None:
        raise CurationError(N_("there is no entry #{id}"), id=entry_id)
    return entry


def resolve_source(session: Session, name: str) -> str:
    """A source's slug from its name (case-insensitive) or slug; unknown -> UnknownSource."""
    wanted = " ".join(name.split())
    if not wanted:
        raise CurationError(N_("a source name is empty"))
    row = session.exec(
        select(Entry.slug, Entry.state)
        .join(Source, col(Source.id) == col(Entry.id))
        .where(Source.name_key == wanted.casefold())
    ).first()
    if row is None:
        row = session.exec(
            select(Entry.slug, Entry.state).where(
                Entry.kind == EntryKind.SOURCE, Entry.slug == wanted.lower()
            )
        ).first()
    if row is None:
        close = find_source(session=session, name=wanted)
        raise UnknownSource(wanted, close.name if close else None)
    slug, state = row
    if state != EntryState.PUBLISHED:
        raise CurationError(N_("the source “{name}” is retracted"), name=wanted[:80])
    return slug


def resolve_sources(session: Session, text: str) -> list[str]:
    """Slugs of sources named in `A; B` (or `A, B` when no name has a comma in it)."""
    slugs: list[str] = []
    for name in split_names(text, ";"):
        try:
            slugs.append(resolve_source(session, name))
        except UnknownSource:
            if "," not in name:
                raise
            slugs += [resolve_source(session, part) for part in split_names(name, ",")]
    return list(dict.fromkeys(slugs))


def resolve_actors(session: Session, text: str) -> list[str]:
    """Slugs of actors named in `A; B` or `A, B`."""
    names = split_names(text, ";" if ";" in text else ",")
    return list(dict.fromkeys(resolve_actor_slug(session, name) for name in names))


def resolve_actor_slug(session: Session, name: str) -> str:
    """An actor's slug from any of their names (aliases, transliterations) or their slug."""
    wanted = " ".join(name.split())
    by_slug = session.exec(
        select(Entry.slug).where(
            Entry.kind == EntryKind.ACTOR,
            Entry.slug == wanted.lower(),
            Entry.state == EntryState.PUBLISHED,
        )
    ).first()
    if by_slug is not None:
        return by_slug
    match = resolve_actor(session=session, name=wanted)
    if match is None:
        several = find_actors(session=session, query=wanted, limit=3)
        if several:
            names = ", ".join(f"“{m.name}”" for m in several)
            raise CurationError(
                N_("“{name}” could mean {names}; write the full name"),
                name=wanted[:60],
                names=names,
            )
        raise CurationError(
            N_("no actor is called “{name}”; add them with /add_actor"), name=wanted[:60]
        )
    return session.get_one(Entry, match.id).slug


def split_names(text: str, separator: str) -> list[str]:
    if text.strip() in ("", "-"):
        return []
    return [n.strip() for n in text.split(separator) if n.strip()]


def refuse_taken_source_name(session: Session, name: str) -> None:
    """Source names are unique (case-insensitively): say which entry has it already."""
    wanted = " ".join(name.split()).casefold()
    existing = session.exec(select(Source.id).where(Source.name_key == wanted)).first()
    if wanted and existing is not None:
        raise CurationError(
            N_("a source named “{name}” already exists (#{id})"),
            name=name.strip()[:80],
            id=existing,
        )
