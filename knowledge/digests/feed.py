"""What changed since a revision cursor: the New / Updated / Retracted sections of a digest.

Revisions are the change log (curation writes one per published change; review drafts write
none until approved, so only published changes appear here) and their ids only grow, so a
subscriber's cursor — the last revision id its digests covered — is all we need to know what
it has not seen. Everything is read in one query for the whole window; the feed for each
filter is then built in memory, so a scheduler serving thousands of subscribers reads the
revision table once, not once per subscriber or per entry.

The feed describes the *net* change over the window, as a subscriber sees it between two
digests: several edits of one entry collapse into one item, from the state before the first
revision in the window to the state after the last. Hence:

* created in the window (even if edited afterwards): New, with its latest content;
* created *and* retracted in the window: left out. The subscriber never heard of it, it is
  hidden from every list now, and a "retracted" notice about something never announced would
  only puzzle; a retraction of an entry they were told about is always listed;
* existing before, retracted by the end: Retracted, with the reason;
* retracted before and restored by the end: Updated (the `retracted` field goes to None);
* edited and edited back (an undo): left out, nothing differs;
* changes to an entry that stayed retracted throughout: left out, nobody can see it.

Filters: a topic matches events carrying it before or after any change in the window (an event
moved out of "sanctions" is still news to a "sanctions" subscriber); an actor matches the
actor's own entry and events linking it before or after. Sources match no filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypedDict

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from knowledge.models import Entry, EntryKind, Revision, Source, SourceKind
from knowledge.write.records import FieldChange, changed_fields

RETRACTED = "retracted"


@dataclass(frozen=True)
class EntryChange:
    """One entry in a digest section, as it stands at the end of the window."""

    entry_id: int
    kind: str
    title: str  # an event's title, an actor's or a source's name
    record: dict[str, Any]  # the latest snapshot
    revision_id: int  # the latest revision covered
    fields: tuple[FieldChange, ...] = ()  # Updated only
    reason: str = ""  # Retracted only
    # Only where a source from the briefing backs it; False (the default, the weaker claim):
    # only the curators' public-record additions back it.
    from_briefing: bool = False


@dataclass(frozen=True)
class ChangeFeed:
    """The three sections of a digest for the revisions in (since, upto]."""

    since: int
    upto: int
    new: list[EntryChange] = field(default_factory=list)
    updated: list[EntryChange] = field(default_factory=list)
    retracted: list[EntryChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.new or self.updated or self.retracted)

    @property
    def count(self) -> int:
        return len(self.new) + len(self.updated) + len(self.retracted)


@dataclass(frozen=True)
class RevisionRow:
    """The part of a revision a feed needs (plus the entry's kind), read in one query."""

    id: int
    entry_id: int
    kind: str
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class FeedFilter:
    """A subscription's filter: a topic, or an actor (its entry id and slug), or nothing."""

    topic: str | None = None
    actor_id: int | None = None
    actor_slugs: frozenset[str] = frozenset()

    def matches(self, rows: Sequence[RevisionRow]) -> bool:
        if self.topic is None and self.actor_id is None:
            return True
        if self.actor_id is not None and rows[0].entry_id == self.actor_id:
            return True
        if rows[0].kind != EntryKind.EVENT:
            return False
        for snapshot in _snapshots(rows):
            if self.topic is not None and self.topic in (snapshot.get("topics") or ()):
                return True
            if self.actor_slugs and self.actor_slugs.intersection(snapshot.get("actors") or ()):
                return True
        return False


def _snapshots(rows: Iterable[RevisionRow]) -> Iterable[dict[str, Any]]:
    for row in rows:
        if row.before is not None:
            yield row.before
        if row.after is not None:
            yield row.after


# --- reading ----------------------------------------------------------------------------------


def latest_revision_id(*, session: Session) -> int:
    """The newest revision id (0 on an empty database): "now" as a cursor."""
    return int(session.exec(select(func.max(Revision.id))).one() or 0)


def latest_revision(*, session: Session) -> tuple[int, datetime | None]:
    """The newest revision's id and time, for debouncing instant digests."""
    row = session.exec(select(Revision.id, Revision.at).order_by(col(Revision.id).desc())).first()
    return (0, None) if row is None else (int(row[0] or 0), row[1])


def cursor_before(*, session: Session, moment: datetime) -> int:
    """The last revision id written before `moment` (0 if none): a cursor for "since then"."""
    found = session.exec(select(func.max(Revision.id)).where(col(Revision.at) < moment)).one()
    return int(found or 0)


def load_revisions(*, session: Session, since: int, upto: int) -> list[RevisionRow]:
    """Every revision in (since, upto], oldest first, with its entry's kind: one query."""
    if upto <= since:
        return []
    # Six columns: SQLAlchemy's `select`, as SQLModel's is typed for at most four.
    rows = session.execute(
        sa.select(
            col(Revision.id), col(Revision.entry_id), col(Entry.kind), col(Revision.at),
            col(Revision.before), col(Revision.after),
        )
        .join(Entry, col(Entry.id) == col(Revision.entry_id))
        .where(col(Revision.id) > since, col(Revision.id) <= upto)
        .order_by(col(Revision.id))
    ).all()  # fmt: skip
    return [RevisionRow(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def feed_filter(*, session: Session, topic: str | None, actor_id: int | None) -> FeedFilter:
    """A subscription's filter, with the actor's slug that events link it by."""
    if actor_id is None:
        return FeedFilter(topic=topic)
    slug = session.exec(select(Entry.slug).where(Entry.id == actor_id)).first()
    return FeedFilter(
        topic=topic, actor_id=actor_id, actor_slugs=frozenset({slug} if slug else ())
    )


def changes_since(
    *,
    session: Session,
    cursor: int,
    upto: int | None = None,
    topic: str | None = None,
    actor_id: int | None = None,
) -> ChangeFeed:
    """The digest sections for one subscriber: published changes after `cursor`."""
    if upto is None:
        upto = latest_revision_id(session=session)
    rows = load_revisions(session=session, since=cursor, upto=upto)
    flt = feed_filter(session=session, topic=topic, actor_id=actor_id)
    public_record = public_record_slugs(session=session)
    return build_feed(rows, since=cursor, upto=upto, flt=flt, public_record=public_record)


# --- building ---------------------------------------------------------------------------------


def public_record_slugs(*, session: Session) -> frozenset[str]:
    """The sources that mark what the curators added themselves (not from the briefing)."""
    return frozenset(
        session.exec(
            select(Entry.slug)
            .join(Source, col(Source.id) == col(Entry.id))
            .where(col(Source.kind) == SourceKind.PUBLIC_RECORD)
        )
    )


def _cites_briefing(record: dict[str, Any], public_record: frozenset[str]) -> bool:
    if "citations" not in record and "sources" not in record:  # a source itself
        return record.get("kind") != SourceKind.PUBLIC_RECORD
    cited = [c.get("source") for c in record.get("citations", []) if isinstance(c, dict)]
    cited += list(record.get("sources", []))
    return any(slug not in public_record for slug in cited)


def build_feed(
    rows: Sequence[RevisionRow],
    *,
    since: int,
    upto: int,
    flt: FeedFilter | None = None,
    public_record: frozenset[str] = frozenset(),
) -> ChangeFeed:
    """The net change per entry over (since, upto] from revision rows (any superset, sorted).
    `public_record` names the sources of the curators' own additions (`public_record_slugs`)."""
    flt = flt or FeedFilter()
    by_entry: dict[int, list[RevisionRow]] = {}
    for row in rows:
        if since < row.id <= upto:
            by_entry.setdefault(row.entry_id, []).append(row)
    feed = ChangeFeed(since=since, upto=upto)
    for entry_rows in by_entry.values():
        if not flt.matches(entry_rows):
            continue
        change = _net_change(entry_rows)
        if change is None:
            continue
        section, item = change
        item = replace(item, from_briefing=_cites_briefing(item.record, public_record))
        getattr(feed, section).append(item)
    feed.new.sort(key=lambda c: c.entry_id)
    feed.updated.sort(key=lambda c: c.revision_id)
    feed.retracted.sort(key=lambda c: c.revision_id)
    return feed


def _title(record: dict[str, Any]) -> str:
    return str(record.get("title") or record.get("name") or record.get("slug") or "")


class _ChangeBase(TypedDict):
    """The fields every kind of `EntryChange` starts from, typed so `EntryChange(**base)` is
    checked."""

    entry_id: int
    kind: str
    title: str
    record: dict[str, Any]
    revision_id: int


def _net_change(rows: Sequence[RevisionRow]) -> tuple[str, EntryChange] | None:
    first, last = rows[0], rows[-1]
    before, after = first.before, last.after
    if after is None:  # revisions always carry an "after"; be defensive about odd rows
        return None
    base: _ChangeBase = {"entry_id": first.entry_id, "kind": first.kind, "title": _title(after),
                         "record": after, "revision_id": last.id}  # fmt: skip
    now_retracted = RETRACTED in after
    if before is None:
        return None if now_retracted else ("new", EntryChange(**base))
    was_retracted = RETRACTED in before
    if now_retracted and was_retracted:
        return None
    if now_retracted:
        return "retracted", EntryChange(**base, reason=str(after.get(RETRACTED) or ""))
    fields = tuple(changed_fields(before, after))
    return ("updated", EntryChange(**base, fields=fields)) if fields else None
