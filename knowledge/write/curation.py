"""The only write path: create, edit, retract and undo entries, recording a revision for each.

Nothing here commits: the caller owns the transaction, so a batch (an import) is all-or-nothing,
and a change commits together with its audit record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from knowledge.language.dates import date_end, parse_date, timeline_rank
from knowledge.language.names import name_key, slugify
from knowledge.language.wording import N_
from knowledge.models import (
    TRANSLATION_LANGUAGES,
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
    Translation,
    utcnow,
)
from knowledge.storage.search_index import index_entry
from knowledge.write.records import CurationError, normalise_record, resolve_record_refs, snapshot


@dataclass(frozen=True)
class Author:
    """Who makes a change: a Telegram user, or a tool such as the importer (id None)."""

    id: int | None
    name: str


IMPORTER = Author(None, "importer")


def _apply(session: Session, entry: Entry, record: dict[str, Any]) -> None:
    """Write a canonical record's fields and links onto an existing entry row."""
    assert entry.id is not None
    eid = entry.id
    if entry.kind == EntryKind.EVENT:
        fuzzy = parse_date(record["date"])
        event = session.get(Event, eid) or Event(
            id=eid, date_start=fuzzy.start, date_end=fuzzy.end, precision="", title="", summary=""
        )
        event.date_start = fuzzy.start
        event.precision = record["precision"]
        event.date_end = date_end(fuzzy.start, event.precision)
        event.date_label = record["date_label"]
        after = record.get("after")
        event.after_id = resolve_record_refs(session, "event", after, "event") if after else None
        event.title, event.summary, event.status = (
            record["title"],
            record["summary"],
            record["status"],
        )
        session.add(event)
        _place_on_timeline(session, event)
        session.execute(delete(EventTopic).where(col(EventTopic.event_id) == eid))
        session.execute(delete(EventActor).where(col(EventActor.event_id) == eid))
        for topic in record["topics"]:
            session.add(EventTopic(event_id=eid, topic=topic))
        for slug in record["actors"]:
            session.add(
                EventActor(
                    event_id=eid, actor_id=resolve_record_refs(session, "actor", slug, "actor")
                )
            )
        _write_citations(session, eid, record["citations"])
        title, body = event.title, f"{event.summary} {' '.join(record['topics'])}"
    elif entry.kind == EntryKind.ACTOR:
        actor = session.get(Actor, eid) or Actor(id=eid, kind="", name="")
        actor.kind, actor.name = record["kind"], record["name"]
        actor.role, actor.description = record["role"], record["description"]
        session.add(actor)
        session.execute(delete(Alias).where(col(Alias.actor_id) == eid))
        for alias in [record["name"], *record["aliases"]]:
            session.add(Alias(actor_id=eid, alias=alias, key=name_key(alias)[:200]))
        _write_citations(session, eid, [{"source": s, "note": ""} for s in record["sources"]])
        title = actor.name
        body = f"{actor.role} {actor.description} {' '.join(record['aliases'])}"
    else:
        source = session.get(Source, eid) or Source(id=eid, name="", name_key="", kind="")
        clash = session.exec(
            select(Source.id).where(Source.name_key == record["name"].casefold(), Source.id != eid)
        ).first()
        if clash is not None:
            raise CurationError(
                N_("a source named “{name}” already exists (#{id})"), name=record["name"], id=clash
            )
        source.name, source.name_key = record["name"], record["name"].casefold()
        source.kind, source.url, source.reliability = (
            record["kind"],
            record["url"],
            record["reliability"],
        )
        session.add(source)
        title, body = source.name, f"{source.reliability} {source.kind}"
    translated = _write_translations(session, eid, record)
    # Translations are indexed with the original, so a word in either language finds it.
    index_entry(
        session, eid,
        " ".join([title, *(t.get("title") or t.get("name") or "" for t in translated)]),
        " ".join([body, *(text for t in translated for f, text in t.items()
                          if f not in ("title", "name", "date_label"))]),
    )  # fmt: skip
    entry.state = EntryState.RETRACTED if "retracted" in record else EntryState.PUBLISHED
    entry.retracted_reason = record.get("retracted")
    entry.updated_at = utcnow()
    session.add(entry)
    session.flush()


def _write_translations(
    session: Session, entry_id: int, record: dict[str, Any]
) -> list[dict[str, str]]:
    """Replace the entry's translated fields with the record's; returns its blocks."""
    session.execute(delete(Translation).where(col(Translation.entry_id) == entry_id))
    blocks = []
    for language in TRANSLATION_LANGUAGES:
        block = record.get(language) or {}
        for field, text in block.items():
            session.add(Translation(entry_id=entry_id, language=language, field=field, text=text))
        blocks.append(block)
    return blocks


def _place_on_timeline(session: Session, event: Event) -> None:
    """Rank the event, then every event said to follow it (and those following them)."""
    pending, seen = [event], set()
    while pending:
        current = pending.pop()
        if current.id in seen:
            continue  # a loop of "after"s is refused on input; never spin on one
        seen.add(current.id)
        before = session.get(Event, current.after_id) if current.after_id is not None else None
        rank = timeline_rank(
            current.date_start, current.precision, after=before.timeline_rank if before else None
        )
        if rank != current.timeline_rank or current is event:
            current.timeline_rank = rank
            session.add(current)
            session.flush()
            pending.extend(session.exec(select(Event).where(Event.after_id == current.id)))


def _write_citations(session: Session, entry_id: int, citations: list[dict[str, str]]) -> None:
    session.execute(delete(Citation).where(col(Citation.entry_id) == entry_id))
    for citation in citations:
        source_id = resolve_record_refs(session, EntryKind.SOURCE, citation["source"], "source")
        session.add(Citation(entry_id=entry_id, source_id=source_id, note=citation["note"]))


def _record_revision(
    session: Session,
    entry: Entry,
    action: str,
    author: Author,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    note: str = "",
) -> Revision:
    assert entry.id is not None
    revision = Revision(
        entry_id=entry.id,
        action=action,
        author_id=author.id,
        author_name=author.name[:200],
        before=before,
        after=after,
        note=note[:500],
    )
    session.add(revision)
    session.flush()
    return revision


def unique_slug(session: Session, kind: str, base: str) -> str:
    """`base`, or `base-2`, `base-3`… whichever is free for this kind."""
    base = slugify(base)
    slug, n = base, 1
    while session.exec(select(Entry.id).where(Entry.kind == kind, Entry.slug == slug)).first():
        n += 1
        slug = f"{base}-{n}"
    return slug


_SLUG_TAKEN = {
    EntryKind.EVENT: N_("an event with slug “{slug}” already exists (#{id})"),
    EntryKind.ACTOR: N_("an actor with slug “{slug}” already exists (#{id})"),
    EntryKind.SOURCE: N_("a source with slug “{slug}” already exists (#{id})"),
}


def create_entry(
    session: Session, kind: str, record: dict[str, Any], *, author: Author, action: str = "create"
) -> tuple[Entry, Revision]:
    """Validate and add a new entry; its first revision records the whole record."""
    record = dict(record)
    if not record.get("slug"):
        record["slug"] = unique_slug(session, kind, str(record.get("title") or record.get("name")))
    clean = normalise_record(session, kind, record)
    exists = session.exec(
        select(Entry.id).where(Entry.kind == kind, Entry.slug == clean["slug"])
    ).first()
    if exists is not None:
        raise CurationError(_SLUG_TAKEN[EntryKind(kind)], slug=clean["slug"], id=exists)
    entry = Entry(kind=kind, slug=clean["slug"])
    session.add(entry)
    session.flush()
    _apply(session, entry, clean)
    return entry, _record_revision(session, entry, action, author, None, snapshot(session, entry))


def update_entry(
    session: Session,
    entry_id: int,
    changes: dict[str, Any],
    *,
    author: Author,
    action: str = "edit",
    note: str = "",
) -> Revision | None:
    """Apply field changes (or a whole record); None when nothing would change."""
    entry = get_entry(session, entry_id)
    before = snapshot(session, entry)
    merged = {**before, **changes}
    if "retracted" in changes and changes["retracted"] is None:
        merged.pop("retracted", None)
    clean = normalise_record(session, entry.kind, merged)
    if clean == before:
        return None
    _apply(session, entry, clean)
    return _record_revision(session, entry, action, author, before, snapshot(session, entry), note)


def get_entry(session: Session, entry_id: int) -> Entry:
    entry = session.get(Entry, entry_id)
    if entry is None:
        raise CurationError(N_("there is no entry #{id}"), id=entry_id)
    return entry


def retract_entry(session: Session, entry_id: int, reason: str, *, author: Author) -> Revision:
    """Mark an entry retracted: hidden from lists and search, kept with its reason and history."""
    reason = " ".join(reason.split())
    if not reason:
        raise CurationError(N_("say why the entry is retracted"))
    entry = get_entry(session, entry_id)
    if entry.state == EntryState.RETRACTED:
        raise CurationError(N_("#{id} is already retracted"), id=entry_id)
    revision = update_entry(
        session, entry_id, {"retracted": reason}, author=author, action="retract", note=reason
    )
    assert revision is not None
    return revision


def undo_last(session: Session, entry_id: int, *, author: Author) -> Revision:
    """Revert the entry's latest revision; the revert is itself a new revision."""
    entry = get_entry(session, entry_id)
    last = session.exec(
        select(Revision).where(Revision.entry_id == entry_id).order_by(col(Revision.id).desc())
    ).first()
    if last is None:
        raise CurationError(N_("#{id} has no history to undo"), id=entry_id)
    if last.before is None:
        if entry.state == EntryState.RETRACTED:
            raise CurationError(
                N_("#{id} was created by its last revision and is retracted"), id=entry_id
            )
        # Undoing a creation cannot delete (nothing is ever lost): it retracts instead.
        revision = update_entry(
            session, entry_id, {"retracted": "undo of its creation"}, author=author,
            action="undo", note=f"undo of revision {last.id}",
        )  # fmt: skip
    else:
        target = dict(last.before)
        if "retracted" not in target:
            target["retracted"] = None
        for language in TRANSLATION_LANGUAGES:
            target.setdefault(language, {})  # a translation added since goes again
        revision = update_entry(
            session, entry_id, target, author=author, action="undo",
            note=f"undo of revision {last.id}",
        )  # fmt: skip
    if revision is None:
        raise CurationError(N_("#{id} already matches its previous version"), id=entry_id)
    return revision
