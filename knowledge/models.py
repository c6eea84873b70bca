"""SQLModel tables: entries (events, actors, sources), their links, revisions and the bot's state.

Every curated thing is an `Entry` first, so events, actors and sources share one id space:
a moderator types `/edit 12` or `/history 12` without saying which kind #12 is.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

# Deterministic constraint names, so migrations can refer to them on every database.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


MAX_ID = 2**31 - 1  # ids are INTEGER columns; a larger number from a user names nothing


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a zone-less value (read back from SQLite) is UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a `table=True` model, for statements that bypass the ORM.

    SQLModel sets `__table__` on table models without declaring it on the class, so reading
    it as a plain attribute has no type."""
    table = getattr(model, "__table__", None)
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


def _ts(**kwargs: Any) -> Any:
    """A timezone-aware timestamp column (SQLite stores it as text; we re-attach UTC on read)."""
    return Field(sa_type=DateTime(timezone=True), **kwargs)


class EntryKind(enum.StrEnum):
    EVENT = "event"
    ACTOR = "actor"
    SOURCE = "source"


class EntryState(enum.StrEnum):
    PUBLISHED = "published"
    RETRACTED = "retracted"


class DatePrecision(enum.StrEnum):
    DAY = "day"
    MONTH = "month"
    YEAR = "year"
    APPROXIMATE = "approximate"


class EventStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    REPORTED = "reported"
    CLAIMED = "claimed"


class ActorKind(enum.StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"
    STATE = "state"
    GROUP = "group"  # states acting together that are not an organisation ("Western partners")
    MEDIA = "media"
    PLACE = "place"


class SourceKind(enum.StrEnum):
    TELEGRAM_CHANNEL = "telegram_channel"
    NEWS_OUTLET = "news_outlet"
    OFFICIAL = "official"
    ANALYSIS = "analysis"
    PUBLIC_RECORD = "public_record"
    BRIEFING = "briefing"


class Entry(SQLModel, table=True):
    """The identity and lifecycle of one curated thing; details live in Event/Actor/Source."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)
    slug: str = Field(max_length=120)
    state: str = Field(default=EntryState.PUBLISHED, max_length=16, index=True)
    retracted_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)

    # Slugs are unique per kind: a channel can be both a source and an actor.
    __table_args__ = (UniqueConstraint("kind", "slug", name="uq_entry_kind_slug"),)


class Event(SQLModel, table=True):
    """A dated event. `date_start`..`date_end` is every day the date may mean (one day, a
    month, a year); `timeline_rank` orders the timeline (knowledge/language/dates.py): by the
    end of that range, the more precise first, and after the event `after_id` names."""

    id: int = Field(foreign_key="entry.id", primary_key=True)
    date_start: date = Field(index=True)
    date_end: date
    precision: str = Field(max_length=16)
    date_label: str | None = Field(default=None, max_length=200)
    title: str = Field(max_length=200)
    summary: str = Field(max_length=2000)
    status: str = Field(default=EventStatus.REPORTED, max_length=16)
    timeline_rank: int = Field(default=0)
    after_id: int | None = Field(default=None, foreign_key="entry.id")

    __table_args__ = (
        Index("ix_event_date_id", "date_start", "id"),
        Index("ix_event_rank_id", "timeline_rank", "id"),  # 0007_chronology
    )


class Actor(SQLModel, table=True):
    id: int = Field(foreign_key="entry.id", primary_key=True)
    kind: str = Field(max_length=16, index=True)
    name: str = Field(max_length=200)
    role: str = Field(default="", max_length=300)
    description: str = Field(default="", max_length=2000)

    __table_args__ = (Index("ix_actor_kind_name", "kind", "name"),)  # 0005_query_performance


class Source(SQLModel, table=True):
    id: int = Field(foreign_key="entry.id", primary_key=True)
    name: str = Field(max_length=200)
    name_key: str = Field(max_length=200, unique=True)  # casefolded name, for lookups
    kind: str = Field(max_length=32)
    url: str | None = Field(default=None, max_length=500)
    reliability: str = Field(default="", max_length=1000)


ORIGINAL_LANGUAGE = "en"  # what the curators write entries in
TRANSLATION_LANGUAGES = ("uk",)  # what an entry's text may also be given in

# The fields that carry prose, per entry kind; slugs, dates, kinds and links are the same in
# every language.
TRANSLATABLE_FIELDS: dict[str, tuple[str, ...]] = {
    EntryKind.EVENT: ("title", "summary", "date_label"),
    EntryKind.ACTOR: ("name", "role", "description"),
    EntryKind.SOURCE: ("name", "reliability"),
}


class Translation(SQLModel, table=True):
    """One field of an entry in another language: a translation of the curated original,
    written through curation like any other change (so history, undo and digests see it)."""

    entry_id: int = Field(foreign_key="entry.id", primary_key=True)
    language: str = Field(max_length=8, primary_key=True)
    field: str = Field(max_length=32, primary_key=True)
    text: str = Field(max_length=2000)


class Alias(SQLModel, table=True):
    """A name an actor is known by; `key` is its normalised, transliterated Latin form."""

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int = Field(foreign_key="entry.id", index=True)
    alias: str = Field(max_length=200)
    key: str = Field(max_length=200, index=True)


class EventTopic(SQLModel, table=True):
    event_id: int = Field(foreign_key="entry.id", primary_key=True)
    topic: str = Field(max_length=60, primary_key=True, index=True)


class EventActor(SQLModel, table=True):
    event_id: int = Field(foreign_key="entry.id", primary_key=True)
    actor_id: int = Field(foreign_key="entry.id", primary_key=True, index=True)


class Briefing(SQLModel, table=True):
    """A briefing the knowledge base was curated from: what /about tells a newcomer."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=200)
    summary: str = Field(default="", max_length=2000)
    origin: str = Field(default="", max_length=300)  # where the briefing itself came from
    url: str | None = Field(default=None, max_length=500)
    loaded_at: datetime = _ts(default_factory=utcnow)


class Citation(SQLModel, table=True):
    """A source backing an entry (an event or an actor), with a note on what it backs."""

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="entry.id", index=True)
    source_id: int = Field(foreign_key="entry.id", index=True)
    note: str = Field(default="", max_length=1000)

    __table_args__ = (
        UniqueConstraint("entry_id", "source_id", name="uq_citation_entry_source"),
        Index("ix_citation_source_entry", "source_id", "entry_id"),  # 0005_query_performance
    )


class Revision(SQLModel, table=True):
    """One recorded change to an entry: who, when, and the entry before and after.

    Revision ids only grow, so "changes since revision N" is the cursor digests use.
    """

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="entry.id", index=True)
    action: str = Field(max_length=16)  # create / edit / retract / undo / import
    author_id: int | None = Field(default=None, sa_type=BigInteger)
    author_name: str = Field(default="", max_length=200)
    at: datetime = _ts(default_factory=utcnow, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    note: str = Field(default="", max_length=500)


class Moderator(SQLModel, table=True):
    user_id: int = Field(primary_key=True, sa_type=BigInteger)
    added_by: int = Field(sa_type=BigInteger)
    added_at: datetime = _ts(default_factory=utcnow)
    name: str = Field(default="", max_length=200)


class AuditRecord(SQLModel, table=True):
    """Every admin action, refused ones included."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_type=BigInteger, index=True)
    at: datetime = _ts(default_factory=utcnow, index=True)
    command: str = Field(max_length=300)
    outcome: str = Field(max_length=300)


class Draft(SQLModel, table=True):
    """A moderator's change not yet applied: waiting for another moderator's approval
    (REVIEW_REQUIRED, state `pending`) or for its author to confirm a suspected duplicate
    (state `confirm`). Then `applied`, `rejected` or `cancelled`. A draft never writes a
    Revision; approving it applies the change through knowledge/curation.py.
    `payload` is {"kind": entry kind or None, "data": the change} (see knowledge/moderation.py).
    """

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int | None = Field(default=None, foreign_key="entry.id")
    action: str = Field(max_length=16)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    author_id: int = Field(sa_type=BigInteger)
    author_name: str = Field(default="", max_length=200)
    created_at: datetime = _ts(default_factory=utcnow)
    state: str = Field(default="pending", max_length=16, index=True)
    decided_by: int | None = Field(default=None, sa_type=BigInteger)
    decided_at: datetime | None = _ts(default=None)
    reason: str = Field(default="", max_length=500)


class Subscription(SQLModel, table=True):
    """A chat (private, group or channel) that receives digests, and where it is up to."""

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_type=BigInteger, unique=True)
    chat_type: str = Field(max_length=16)
    title: str = Field(default="", max_length=200)
    username: str | None = Field(default=None, max_length=64)  # a channel's @username
    frequency: str = Field(default="daily", max_length=16)  # daily / weekly / instant
    at_time: str = Field(default="09:00", max_length=5)  # HH:MM in `timezone`
    weekday: int | None = None  # 0 = Monday, for weekly
    timezone: str = Field(default="UTC", max_length=64)
    topic: str | None = Field(default=None, max_length=60)
    actor_id: int | None = Field(default=None)
    cursor: int = Field(default=0)  # the last revision id this chat's digests covered
    active: bool = Field(default=True, index=True)
    next_due_at: datetime | None = _ts(default=None, index=True)  # None for instant
    last_digest_at: datetime | None = _ts(default=None)
    ended_reason: str | None = Field(default=None, max_length=200)  # why it is inactive
    created_by: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)


class Delivery(SQLModel, table=True):
    """The outbox: one digest for one chat, in one or more message parts. Claimed, sent, marked.

    A multi-part digest is one row so its parts are claimed, paced and resumed together, in
    order; `parts_sent` records progress, so a restart resumes at the first unsent part.
    States: pending -> claimed -> sent, or back to pending (429, 5xx: `not_before`), or
    failed (retries exhausted, rejected) / dropped (the chat blocked us or unsubscribed).
    """

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="subscription.id", index=True)
    chat_id: int = Field(sa_type=BigInteger, index=True)
    digest_key: str = Field(max_length=64)  # "<subscription>:<from>-<to>": one per window
    texts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    parts: int = Field(default=1)
    parts_sent: int = Field(default=0)
    state: str = Field(default="pending", max_length=16, index=True)
    attempts: int = Field(default=0)
    not_before: datetime | None = _ts(default=None)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = _ts(default=None)
    sent_at: datetime | None = _ts(default=None)
    message_id: int | None = Field(default=None, sa_type=BigInteger)
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts(default_factory=utcnow)

    __table_args__ = (
        UniqueConstraint("digest_key", name="uq_delivery_digest_key"),
        Index("ix_delivery_due", "state", "not_before"),
    )


class SavedQuery(SQLModel, table=True):
    """A search text kept so paging buttons can refer to it by id (callback data is 64 bytes)."""

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(max_length=300, unique=True)
    created_at: datetime = _ts(default_factory=utcnow)


class UnansweredQuestion(SQLModel, table=True):
    """A question the briefing could not answer, or answered unsurely: the text only, never who
    asked. Kept for GAPS_RETENTION_DAYS, so curation can follow what readers want to know."""

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(max_length=300, index=True)
    language: str = Field(max_length=8)
    unsure: bool = False
    asked_at: datetime = _ts(default_factory=utcnow, index=True)


class ProcessedUpdate(SQLModel, table=True):
    """Update ids already handled, so a retried or duplicated webhook update runs once."""

    update_id: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    at: datetime = _ts(default_factory=utcnow, index=True)


class Sender(SQLModel, table=True):
    """One process of the bot that sends messages (PostgreSQL, several replicas): what it has
    sent so far, so that all of them keep to one send budget per bot token. Each process
    rewrites its row a few times a second; a row not rewritten for a while is a gone process."""

    worker: str = Field(primary_key=True, max_length=64)
    replies: int = Field(default=0, sa_type=BigInteger)  # messages handlers sent, ever
    digests: int = Field(default=0, sa_type=BigInteger)  # digest messages sent, ever
    floods: int = Field(default=0, sa_type=BigInteger)  # 429s taken as bot-wide, ever
    digest_rate: float = Field(default=0.0)  # its adaptive digest rate (messages a second)
    seen_at: datetime = _ts(default_factory=utcnow, index=True)


class ChatLanguage(SQLModel, table=True):
    """The interface language a chat chose with /language. A private chat's id is its user's,
    so a reader's own choice is the row of their private chat; a group's or channel's is set
    by its admins or the bot's moderators. Digests to the chat go out in it too."""

    chat_id: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    language: str = Field(max_length=8)
    set_by: int | None = Field(default=None, sa_type=BigInteger)
    updated_at: datetime = _ts(default_factory=utcnow)
