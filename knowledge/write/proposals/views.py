"""Proposals as plain values for the chat: what a moderator reviews before approving."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from knowledge.models import Actor, Draft, Entry, EntryKind, Source
from knowledge.write.proposals.review import batch_of, kind_of, record_of


@dataclass(frozen=True)
class ProposalView:
    id: int
    batch: int
    kind: str  # event, actor or source
    state: str
    sentence: str
    title: str  # an event's title, or an actor's or source's name
    date: str | None
    precision: str | None
    date_label: str | None
    date_text: str | None
    actors: tuple[str, ...]  # names
    new_actors: tuple[str, ...]  # names of actors proposed alongside
    source: str  # the cited source's name
    status: str | None
    attributed_to: str | None
    update_of: int | None
    update_title: str | None
    entity_kind: str | None  # an actor's or source's kind


def proposal_views(session: Session, drafts: list[Draft]) -> list[ProposalView]:
    batch_names: dict[str, str] = {}
    for draft in drafts:
        if kind_of(draft) != EntryKind.EVENT:
            record = record_of(draft)
            batch_names[f"{kind_of(draft)}:{record['slug']}"] = str(record["name"])
    slugs = {
        slug
        for d in drafts
        if kind_of(d) == EntryKind.EVENT
        for slug in [*(record_of(d).get("actors") or []), record_of(d)["citations"][0]["source"]]
    }
    known = _names(session, slugs)
    views = []
    for draft in drafts:
        assert draft.id is not None
        record = record_of(draft)
        about = draft.payload["proposal"]
        kind = kind_of(draft)
        if kind == EntryKind.EVENT:
            actors, new = [], []
            for slug in record.get("actors") or []:
                if f"actor:{slug}" in batch_names:
                    new.append(batch_names[f"actor:{slug}"])
                else:
                    actors.append(known.get(f"actor:{slug}", slug))
            source_slug = record["citations"][0]["source"]
            source = batch_names.get(f"source:{source_slug}") or known.get(
                f"source:{source_slug}", source_slug
            )
        else:
            actors, new, source = [], [], ""
        views.append(
            ProposalView(
                id=draft.id,
                batch=batch_of(draft),
                kind=kind,
                state=draft.state,
                sentence=str(about.get("sentence") or ""),
                title=str(record.get("title") or record.get("name") or ""),
                date=record.get("date"),
                precision=record.get("precision"),
                date_label=record.get("date_label"),
                date_text=about.get("date_text"),
                actors=tuple(actors),
                new_actors=tuple(new),
                source=source,
                status=record.get("status"),
                attributed_to=about.get("attributed_to"),
                update_of=about.get("update_of"),
                update_title=about.get("update_title"),
                entity_kind=record.get("kind") if kind != EntryKind.EVENT else None,
            )
        )
    return views


def _names(session: Session, slugs: set[str]) -> dict[str, str]:
    """Names of known actors and sources by "kind:slug"."""
    if not slugs:
        return {}
    names: dict[str, str] = {}
    for slug, name in session.exec(
        select(Entry.slug, Actor.name)
        .join(Actor, col(Actor.id) == col(Entry.id))
        .where(col(Entry.slug).in_(slugs), Entry.kind == EntryKind.ACTOR)
    ):
        names[f"actor:{slug}"] = name
    for slug, name in session.exec(
        select(Entry.slug, Source.name)
        .join(Source, col(Source.id) == col(Entry.id))
        .where(col(Entry.slug).in_(slugs), Entry.kind == EntryKind.SOURCE)
    ):
        names[f"source:{slug}"] = name
    return names
