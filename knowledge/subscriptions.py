"""Digest subscriptions: settings, schedules, planning digests, and the delivery outbox.

Schedules are data: each scheduled subscription stores `next_due_at` (UTC), computed from its
wall-clock time in its own time zone with zoneinfo, so daylight-saving changes move the UTC
instant and not the local hour. A subscription whose `next_due_at` has passed — because its
time came, or because the bot was down when it did — is due exactly once: planning its digest
moves the cursor to the newest revision and `next_due_at` to the next slot *in the future*.

The outbox is the `Delivery` table: `plan_digests` writes one row per recipient and digest
(the `digest_key` "<subscription>:<from>-<to>" is unique, so a window is never enqueued
twice) in the same transaction that advances the subscription's cursor. Senders `claim` rows
(PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`; SQLite: one conditional UPDATE, atomic
because SQLite has a single writer), send, and record the outcome with `apply_outcomes`,
which only touches rows the same worker still holds. Claims older than the lease belong to a
process that died; `requeue_stale` hands them back.

Timestamps are always UTC: SQLite keeps DateTime values as zone-less text, so every value
written or compared goes through `as_utc`, and values read back get UTC re-attached.
"""

from __future__ import annotations

import logging
import re
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Engine,
    Integer,
    String,
    and_,
    bindparam,
    exists,
    false,
    func,
    or_,
    text,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from knowledge.changes import (
    ChangeFeed,
    FeedFilter,
    RevisionRow,
    build_feed,
    feed_filter,
    latest_revision,
    latest_revision_id,
    load_revisions,
)
from knowledge.models import Actor, Delivery, Entry, EntryState, EventTopic, Revision, Subscription
from knowledge.read.actors import find_actors, resolve_actor
from knowledge.storage.database import is_postgres, session_scope

log = logging.getLogger(__name__)

DAILY, WEEKLY, INSTANT = "daily", "weekly", "instant"
FREQUENCIES = (DAILY, WEEKLY, INSTANT)
SCHEDULED = (DAILY, WEEKLY)
DEFAULT_TIME = "09:00"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_WORDS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4, "sat": 5,
    "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
_TIME_LIKE = re.compile(r"^(\d{1,3})[:.h](\d{1,3})$")
_TOPIC_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")

# Delivery states.
PENDING, CLAIMED, SENT, FAILED, DROPPED = "pending", "claimed", "sent", "failed", "dropped"
LEASE = timedelta(minutes=5)  # a claim older than this belongs to a process that died
INSTANT_MAX_DELAY_FACTOR = 10  # a never-ending burst still gets a digest after 10 x debounce
PLAN_BATCH = 500  # subscriptions per planning transaction: short transactions, bounded memory


class SubscriptionError(ValueError):
    """Settings that cannot be used; the message is plain text, safe to show as is."""


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a zone-less value (read back from SQLite) is UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _as_utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


# --- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """When digests go out: daily or weekly at a wall-clock time in a zone, or instantly."""

    frequency: str = DAILY
    at_time: str = DEFAULT_TIME
    weekday: int | None = None  # 0 = Monday, weekly only
    timezone: str = "UTC"


@dataclass(frozen=True)
class SubscriptionRequest:
    """`/subscribe` arguments, parsed but not yet checked against the knowledge base."""

    schedule: Schedule
    topic: str | None = None
    actor: str | None = None  # a name as typed; `resolve_filter` finds the actor


@cache
def _zone_names() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def resolve_timezone(name: str) -> str:
    """The canonical zone name for `name` (any letter case); SubscriptionError if unknown."""
    canonical = _zone_names().get(name.casefold(), name)
    try:
        ZoneInfo(canonical)
    except (ZoneInfoNotFoundError, ValueError):
        raise SubscriptionError(
            f"“{name[:40]}” is not a time zone I know. Use an Area/City name such as "
            "Europe/Kyiv, America/New_York or UTC."
        ) from None
    return canonical


def parse_time(token: str) -> str:
    """`8:30`, `08:30` or `08.30` as `08:30`; SubscriptionError for `25:00` or `8:61`."""
    match = _TIME_LIKE.match(token)
    hour, minute = (int(match.group(1)), int(match.group(2))) if match else (-1, -1)
    if not (match and 0 <= hour <= 23 and 0 <= minute <= 59 and len(match.group(2)) == 2):
        raise SubscriptionError(
            f"“{token[:20]}” is not a time of day. Use HH:MM between 00:00 and 23:59, "
            "for example 08:30."
        )
    return f"{hour:02d}:{minute:02d}"


def _looks_like_zone(token: str) -> bool:
    return "/" in token or token.casefold() in _zone_names()


def _is_keyword(token: str) -> bool:
    low = token.casefold()
    return (
        low in FREQUENCIES
        or low.startswith(("topic=", "actor="))
        or bool(_TIME_LIKE.match(token))
        or "/" in token
    )


def parse_request(text: str, *, default_timezone: str) -> SubscriptionRequest:
    """Read `daily 08:00 Europe/Kyiv`, `weekly fri 18:00`, `instant`, `topic=…`, `actor=…`.

    Everything is optional (the default is daily at 09:00 in `default_timezone`); the words may
    come in any order, except that `actor=` takes the words after it as the actor's name.
    """
    frequency: str | None = None
    at_time: str | None = None
    weekday: int | None = None
    zone: str | None = None
    topic: str | None = None
    actor_words: list[str] | None = None
    for token in text.split():
        low = token.casefold()
        if actor_words is not None and not _is_keyword(token):
            actor_words.append(token)
            continue
        if low.startswith("topic="):
            topic = low.removeprefix("topic=").lstrip("#")
            if not topic:
                raise SubscriptionError(
                    "Name the topic after topic=, for example topic=sanctions."
                )
        elif low.startswith("actor="):
            actor_words = [token[len("actor=") :]] if token[len("actor=") :] else []
        elif low in FREQUENCIES:
            if frequency not in (None, low):
                raise SubscriptionError("Choose one of daily, weekly or instant.")
            frequency = low
        elif low in _WEEKDAY_WORDS and weekday is None:
            weekday = _WEEKDAY_WORDS[low]
        elif _TIME_LIKE.match(token) or (low[:1].isdigit() and ":" in low):
            at_time = parse_time(token)
        elif _looks_like_zone(token):
            zone = resolve_timezone(token)
        elif frequency == WEEKLY and weekday is None and token.isalpha():
            raise SubscriptionError(
                f"“{token[:20]}” is not a day of the week. Use mon, tue, wed, thu, fri, sat "
                "or sun, for example: /subscribe weekly fri 18:00"
            )
        else:
            raise SubscriptionError(
                f"I don't understand “{token[:30]}”. Examples: /subscribe daily 08:00 "
                "Europe/Kyiv · /subscribe weekly mon 09:00 · /subscribe instant · "
                "/subscribe topic=sanctions · /subscribe actor=Yermak"
            )
    actor = " ".join(actor_words).strip() if actor_words is not None else None
    if actor_words is not None and not actor:
        raise SubscriptionError("Name the actor after actor=, for example actor=Yermak.")
    if topic is not None and actor is not None:
        raise SubscriptionError("Use one filter at a time: topic=… or actor=…")
    if topic is not None and not _TOPIC_RE.match(topic):
        raise SubscriptionError(
            f"“{topic[:40]}” is not a topic: topics are words like sanctions or nato-membership."
        )
    frequency = frequency or (WEEKLY if weekday is not None else DAILY)
    if frequency == INSTANT:
        if at_time or weekday is not None or zone:
            raise SubscriptionError(
                "Instant digests have no time or day: they go out shortly after a change. "
                "Send /subscribe instant."
            )
        return SubscriptionRequest(Schedule(INSTANT, DEFAULT_TIME, None, "UTC"), topic, actor)
    if frequency == DAILY and weekday is not None:
        raise SubscriptionError(
            "A day of the week goes with weekly, for example: /subscribe weekly fri 18:00"
        )
    if frequency == WEEKLY and weekday is None:
        raise SubscriptionError("Which day of the week? For example: /subscribe weekly mon 09:00")
    schedule = Schedule(
        frequency, at_time or DEFAULT_TIME, weekday, zone or resolve_timezone(default_timezone)
    )
    return SubscriptionRequest(schedule, topic, actor)


def known_topics(*, session: Session) -> list[str]:
    """Topics carried by at least one published event, alphabetically."""
    rows = session.exec(
        select(EventTopic.topic)
        .join(Entry, col(Entry.id) == col(EventTopic.event_id))
        .where(Entry.state == EntryState.PUBLISHED)
        .distinct()
        .order_by(col(EventTopic.topic))
    ).all()
    return list(rows)


def resolve_filter(
    *, session: Session, topic: str | None, actor: str | None
) -> tuple[str | None, int | None]:
    """The topic and actor id a request names; SubscriptionError if we know no such thing."""
    if topic is not None:
        exists_ = session.exec(select(EventTopic.topic).where(EventTopic.topic == topic)).first()
        if exists_ is None:
            topics = known_topics(session=session)
            shown = ", ".join(topics[:25]) + (" …" if len(topics) > 25 else "")
            raise SubscriptionError(
                f"No event has the topic “{topic[:40]}”."
                + (f" Topics: {shown}." if topics else "")
            )
        return topic, None
    if actor is not None:
        match = resolve_actor(session=session, name=actor)
        if match is not None:
            return None, match.id
        options = find_actors(session=session, query=actor, limit=4)
        if options:
            names = ", ".join(m.name for m in options)
            raise SubscriptionError(
                f"Several people or organisations match “{actor[:60]}”: {names}. "
                "Write the name in full."
            )
        raise SubscriptionError(
            f"I don't know anyone called “{actor[:60]}”. /who lists people and organisations."
        )
    return None, None


# --- schedules --------------------------------------------------------------------------------


def _hh_mm(at_time: str) -> time:
    hour, minute = at_time.split(":")
    return time(int(hour), int(minute))


def next_due_at(schedule: Schedule, now: datetime) -> datetime | None:
    """The first scheduled instant strictly after `now`, in UTC (None for instant digests).

    Days are counted on the local calendar and the time is read in the zone on that day, so
    08:00 Europe/Kyiv is 06:00 UTC in winter and 05:00 UTC in summer. A time the clocks skip
    (02:30 on a spring-forward night) is read with the offset before the change, i.e. it
    falls an hour later that morning; a time that occurs twice is taken the first time.
    """
    if schedule.frequency not in SCHEDULED:
        return None
    now = as_utc(now)
    zone = ZoneInfo(schedule.timezone)
    at = _hh_mm(schedule.at_time)
    day: date = now.astimezone(zone).date()
    step = 1
    if schedule.frequency == WEEKLY:
        assert schedule.weekday is not None
        day += timedelta(days=(schedule.weekday - day.weekday()) % 7)
        step = 7
    while True:
        candidate = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
        if candidate > now:
            return candidate
        day += timedelta(days=step)


def schedule_of(subscription: Subscription) -> Schedule:
    return Schedule(
        subscription.frequency, subscription.at_time, subscription.weekday, subscription.timezone
    )


# --- subscribing ------------------------------------------------------------------------------


def get_subscription(*, session: Session, chat_id: int) -> Subscription | None:
    return session.exec(select(Subscription).where(Subscription.chat_id == chat_id)).first()


def subscribe(
    *,
    session: Session,
    chat_id: int,
    chat_type: str,
    request: SubscriptionRequest,
    now: datetime,
    title: str = "",
    username: str | None = None,
    created_by: int | None = None,
) -> tuple[Subscription, str]:
    """Create, resume or change a chat's subscription; returns it and "new"/"resumed"/"updated".

    A new or resumed subscriber starts from now (its cursor is the newest revision): it gets a
    confirmation, not the backlog. Changing the settings of an active one keeps its cursor.
    """
    now = as_utc(now)
    topic, actor_id = resolve_filter(session=session, topic=request.topic, actor=request.actor)
    subscription = get_subscription(session=session, chat_id=chat_id)
    if subscription is None:
        subscription = Subscription(chat_id=chat_id, chat_type=chat_type, created_by=created_by,
                                    created_at=now)  # fmt: skip
        status = "new"
    elif not subscription.active:
        status = "resumed"
    else:
        status = "updated"
    if status != "updated":
        subscription.cursor = latest_revision_id(session=session)
        subscription.active = True
        subscription.ended_reason = None
        subscription.created_by = created_by or subscription.created_by
    schedule = request.schedule
    subscription.chat_type = chat_type
    subscription.title = title[:200]
    subscription.username = (username or None) and username[:64]
    subscription.frequency = schedule.frequency
    subscription.at_time = schedule.at_time
    subscription.weekday = schedule.weekday
    subscription.timezone = schedule.timezone
    subscription.topic, subscription.actor_id = topic, actor_id
    subscription.next_due_at = next_due_at(schedule, now)
    subscription.updated_at = now
    session.add(subscription)
    session.flush()
    return subscription, status


def unsubscribe(
    *, session: Session, chat_id: int, now: datetime, reason: str = "unsubscribed"
) -> bool:
    """Stop a chat's digests (digests already queued for it are dropped); False if none."""
    subscription = get_subscription(session=session, chat_id=chat_id)
    if subscription is None or not subscription.active:
        return False
    _end(session, subscription, reason, as_utc(now))
    return True


def _end(session: Session, subscription: Subscription, reason: str, now: datetime) -> None:
    subscription.active = False
    subscription.ended_reason = reason[:200]
    subscription.next_due_at = None
    subscription.updated_at = now
    session.add(subscription)
    session.execute(
        update(Delivery)
        .where(col(Delivery.subscription_id) == subscription.id, col(Delivery.state) == PENDING)
        .values(state=DROPPED, error=reason[:500])
    )
    session.flush()


def list_channels(*, session: Session) -> list[Subscription]:
    """Active channel subscriptions, in the order they were added."""
    return list(
        session.exec(
            select(Subscription)
            .where(Subscription.chat_type == "channel", col(Subscription.active).is_(True))
            .order_by(col(Subscription.id))
        )
    )


def filter_label(*, session: Session, subscription: Subscription) -> str:
    """`topic: sanctions`, `actor: Andriy Yermak`, or "" without a filter."""
    if subscription.topic:
        return f"topic: {subscription.topic}"
    if subscription.actor_id is not None:
        name = session.exec(select(Actor.name).where(Actor.id == subscription.actor_id)).first()
        return f"actor: {name or '#' + str(subscription.actor_id)}"
    return ""


# --- planning digests -------------------------------------------------------------------------

RenderDigest = Callable[[ChangeFeed, str], list[str]]  # (feed, filter label) -> message parts


@dataclass
class PlanReport:
    """What one planning run did."""

    upto: int = 0
    considered: int = 0  # subscriptions that were due (or forced) and looked at
    digests: int = 0  # deliveries created
    nothing_new: int = 0  # due, but nothing matched: no digest, the cursor moves on
    conflicts: int = 0  # batches another planner had already done (unique digest_key)
    chat_ids: list[int] = field(default_factory=list)


def _due_condition(
    *, now: datetime, upto: int, force: bool, quiet: bool, starve_before: datetime
) -> Any:
    scheduled = col(Subscription.frequency).in_(SCHEDULED)
    instant = col(Subscription.frequency) == INSTANT
    unseen = col(Subscription.cursor) < upto
    if force:
        # "As if their time had come": everyone with unseen changes, plus anyone overdue.
        return or_(unseen, and_(scheduled, col(Subscription.next_due_at) <= now))
    starving = exists(
        select(Revision.id).where(
            col(Revision.id) > col(Subscription.cursor), col(Revision.at) <= starve_before
        )
    )
    return or_(
        and_(scheduled, col(Subscription.next_due_at) <= now),
        and_(instant, unseen, or_(true() if quiet else false(), starving)),
    )


def plan_digests(
    engine: Engine,
    *,
    now: datetime,
    render: RenderDigest,
    debounce_seconds: float = 60,
    force: bool = False,
    batch_size: int = PLAN_BATCH,
) -> PlanReport:
    """Enqueue a digest for every subscription that is due; advance cursors and schedules.

    Due: a daily/weekly subscription whose `next_due_at` has passed; an instant one with
    unseen changes once the newest change is `debounce_seconds` old (bursts are batched) or
    its oldest unseen change is ten times that old. `force` (moderators' `/digest send`)
    takes every active subscription with unseen changes, leaving schedules alone.

    Revisions are read once for the whole run (the newest revision id is fixed at the start,
    so every digest of a run covers the same window end); a feed is built and rendered once
    per distinct (cursor, filter) — after the first digests, thousands of subscribers share a
    handful. Each batch of subscriptions is one short transaction; on PostgreSQL the rows are
    locked with SKIP LOCKED, so a concurrent planner passes over them.
    """
    now = as_utc(now)
    report = PlanReport()
    with session_scope(engine) as session:
        upto, latest_at = latest_revision(session=session)
    report.upto = upto
    debounce = timedelta(seconds=debounce_seconds)
    quiet = latest_at is not None and as_utc(latest_at) <= now - debounce
    condition = _due_condition(
        now=now, upto=upto, force=force, quiet=quiet,
        starve_before=now - debounce * INSTANT_MAX_DELAY_FACTOR,
    )  # fmt: skip
    rows: list[RevisionRow] = []
    loaded_since = upto
    rendered: dict[tuple[int, str | None, int | None], list[str] | None] = {}
    filters: dict[tuple[str | None, int | None], tuple[FeedFilter, str]] = {}
    last_id = 0
    while True:
        try:
            with session_scope(engine) as session:
                query = (
                    select(Subscription)
                    .where(col(Subscription.active).is_(True), col(Subscription.id) > last_id)
                    .where(condition)
                    .order_by(col(Subscription.id))
                    .limit(batch_size)
                )
                if is_postgres(session):
                    query = query.with_for_update(skip_locked=True)
                batch = list(session.exec(query))
                if not batch:
                    break
                last_id = batch[-1].id or last_id
                oldest = min(s.cursor for s in batch)
                if oldest < loaded_since:
                    rows = load_revisions(session=session, since=oldest, upto=loaded_since) + rows
                    loaded_since = oldest
                created: list[int] = []
                for subscription in batch:
                    report.considered += 1
                    key = (subscription.cursor, subscription.topic, subscription.actor_id)
                    if key not in rendered:
                        fkey = (subscription.topic, subscription.actor_id)
                        if fkey not in filters:
                            filters[fkey] = (
                                feed_filter(session=session, topic=fkey[0], actor_id=fkey[1]),
                                filter_label(session=session, subscription=subscription),
                            )
                        flt, label = filters[fkey]
                        feed = build_feed(rows, since=subscription.cursor, upto=upto, flt=flt)
                        rendered[key] = None if feed.empty else render(feed, label)
                    texts = rendered[key]
                    if texts:
                        session.add(
                            Delivery(
                                subscription_id=subscription.id, chat_id=subscription.chat_id,
                                digest_key=f"{subscription.id}:{subscription.cursor}-{upto}",
                                texts=texts, parts=len(texts), created_at=now,
                            )
                        )  # fmt: skip
                        subscription.last_digest_at = now
                        created.append(subscription.chat_id)
                    elif subscription.cursor < upto:
                        report.nothing_new += 1
                    subscription.cursor = max(subscription.cursor, upto)
                    overdue = (
                        subscription.next_due_at is not None
                        and as_utc(subscription.next_due_at) <= now
                    )
                    if subscription.frequency in SCHEDULED and (overdue or not force):
                        subscription.next_due_at = next_due_at(schedule_of(subscription), now)
                    subscription.updated_at = now
                    session.add(subscription)
                session.flush()
        except IntegrityError:
            # Another planner enqueued these windows first; its transaction moved the cursors.
            log.warning("digest batch after subscription %s was already planned", last_id)
            report.conflicts += 1
            continue
        report.digests += len(created)
        report.chat_ids += created
    return report


def preview(
    *, session: Session, subscription: Subscription | None, since: int
) -> tuple[ChangeFeed, str]:
    """What a subscription's next digest would hold now, with its filter label; without a
    subscription, every change after the cursor `since`, unfiltered. Nothing is written."""
    upto = latest_revision_id(session=session)
    if subscription is None:
        rows = load_revisions(session=session, since=since, upto=upto)
        return build_feed(rows, since=since, upto=upto), ""
    flt = feed_filter(session=session, topic=subscription.topic, actor_id=subscription.actor_id)
    rows = load_revisions(session=session, since=subscription.cursor, upto=upto)
    feed = build_feed(rows, since=subscription.cursor, upto=upto, flt=flt)
    return feed, filter_label(session=session, subscription=subscription)


# --- the outbox -------------------------------------------------------------------------------


@dataclass
class Claimed:
    """A delivery a worker holds: what to send, where, and how far it got."""

    id: int
    subscription_id: int
    chat_id: int
    chat_type: str
    texts: list[str]
    parts_sent: int
    attempts: int


def claim(*, session: Session, worker: str, now: datetime, limit: int) -> list[Claimed]:
    """Take up to `limit` due pending deliveries for `worker`, oldest first."""
    now = as_utc(now)
    due = and_(
        col(Delivery.state) == PENDING,
        or_(col(Delivery.not_before).is_(None), col(Delivery.not_before) <= now),
    )
    values = {"state": CLAIMED, "claimed_by": worker, "claimed_at": now}
    if is_postgres(session):
        ids = list(
            session.exec(
                select(Delivery.id)
                .where(due)
                .order_by(col(Delivery.id))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            session.execute(update(Delivery).where(col(Delivery.id).in_(ids)).values(**values))
    else:
        # SQLite has one writer at a time: this single conditional UPDATE is the claim.
        chosen = select(Delivery.id).where(due).order_by(col(Delivery.id)).limit(limit)
        ids = list(
            session.execute(
                update(Delivery)
                .where(col(Delivery.id).in_(chosen.scalar_subquery()), due)
                .values(**values)
                .returning(col(Delivery.id))
            ).scalars()
        )
    if not ids:
        return []
    # Plain columns, not ORM objects: loading a thousand `Delivery` instances cost three times
    # the CPU of the claim itself, and the worker holds these for seconds at most.
    rows = session.execute(
        select(
            col(Delivery.id), col(Delivery.subscription_id), col(Delivery.chat_id),
            col(Subscription.chat_type), col(Delivery.texts), col(Delivery.parts_sent),
            col(Delivery.attempts),
        )
        .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
        .where(col(Delivery.id).in_(ids))
        .order_by(col(Delivery.id))
    ).all()  # fmt: skip
    return [
        Claimed(id_, subscription_id, chat_id, chat_type, list(texts), parts_sent, attempts)
        for id_, subscription_id, chat_id, chat_type, texts, parts_sent, attempts in rows
    ]


def requeue_stale(*, session: Session, now: datetime, lease: timedelta = LEASE) -> int:
    """Hand claims older than the lease (their process died) back to the queue."""
    result = session.execute(
        update(Delivery)
        .where(col(Delivery.state) == CLAIMED, col(Delivery.claimed_at) < as_utc(now) - lease)
        .values(state=PENDING, claimed_by=None, claimed_at=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def next_pending_at(*, session: Session, now: datetime) -> datetime | None:
    """When the next pending delivery may go: `now` if one is due, None if there are none."""
    now = as_utc(now)
    earliest = session.exec(
        select(func.min(func.coalesce(col(Delivery.not_before), now))).where(
            col(Delivery.state) == PENDING
        )
    ).one()
    if earliest is None:
        return None
    return max(as_utc(earliest), now)


def counts(*, session: Session) -> dict[str, int]:
    """Deliveries per state (for tests, benchmarks and health checks)."""
    rows = session.exec(select(Delivery.state, func.count()).group_by(col(Delivery.state))).all()
    return {state: int(n) for state, n in rows}


@dataclass(frozen=True)
class Outcome:
    """What happened to a claimed delivery; applied in batches by `apply_outcomes`.

    kinds: `progress` (some parts sent), `sent` (all parts sent), `retry` (back to the queue
    after `not_before`, counting an attempt), `release` (back to the queue, no attempt
    counted: a flood wait or a shutdown), `failed` (given up), `gone` (the chat is gone or
    blocked us: the subscription ends).
    """

    delivery_id: int
    kind: str
    parts_sent: int
    subscription_id: int = 0
    message_id: int | None = None
    not_before: datetime | None = None
    attempts: int | None = None
    error: str | None = None


_OUTCOME_STATES = {"progress": CLAIMED, "sent": SENT, "retry": PENDING, "release": PENDING,
                   "failed": FAILED, "gone": DROPPED}  # fmt: skip


@cache
def _outcome_statement(kind: str) -> Any:
    """One UPDATE per outcome kind, run for many rows at once (executemany): a worker sending
    hundreds of messages a second records them in a few statements per commit. Built once
    per kind (everything varying is a bound parameter): constructing it cost as much CPU as
    running it."""
    table = Delivery.__table__.c  # type: ignore[attr-defined]
    values: dict[str, Any] = {
        "parts_sent": bindparam("b_parts", type_=Integer),
        "message_id": func.coalesce(bindparam("b_message", type_=BigInteger), table.message_id),
        "attempts": func.coalesce(bindparam("b_attempts", type_=Integer), table.attempts),
        "error": func.coalesce(bindparam("b_error", type_=String), table.error),
        "state": _OUTCOME_STATES[kind],
    }
    if kind == "sent":
        values["sent_at"] = bindparam("b_now", type_=DateTime(timezone=True))
    elif kind in ("retry", "release"):
        not_before = bindparam("b_not_before", type_=DateTime(timezone=True))
        values |= {"claimed_by": None, "claimed_at": None, "not_before": not_before}
    held = and_(
        table.id == bindparam("b_id", type_=Integer),
        table.state == CLAIMED,
        table.claimed_by == bindparam("b_worker", type_=String),
    )
    return update(Delivery.__table__).where(held).values(**values)  # type: ignore[arg-type]


def apply_outcomes(
    *, session: Session, worker: str, outcomes: Sequence[Outcome], now: datetime
) -> None:
    """Record outcomes for deliveries `worker` still holds (a requeued claim is left alone)."""
    now = as_utc(now)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for outcome in outcomes:
        if outcome.kind not in _OUTCOME_STATES:
            raise ValueError(f"unknown outcome {outcome.kind}")
        params = {
            "b_id": outcome.delivery_id, "b_worker": worker, "b_parts": outcome.parts_sent,
            "b_message": outcome.message_id, "b_attempts": outcome.attempts,
            "b_error": None if outcome.error is None else outcome.error[:500],
        }  # fmt: skip
        if outcome.kind == "sent":
            params["b_now"] = now
        elif outcome.kind in ("retry", "release"):
            params["b_not_before"] = _as_utc_or_none(outcome.not_before)
        by_kind.setdefault(outcome.kind, []).append(params)
    for kind, rows in by_kind.items():
        session.connection().execute(_outcome_statement(kind), rows)
    for outcome in outcomes:
        if outcome.kind == "gone":
            subscription = session.get(Subscription, outcome.subscription_id)
            if subscription is not None and subscription.active:
                _end(session, subscription, outcome.error or "the chat is gone", now)


def migrate_chat(
    *, session: Session, subscription_id: int, new_chat_id: int, now: datetime
) -> bool:
    """Follow a group that became a supergroup; False when the supergroup has its own
    subscription already (then this one ends: the other one will carry its digests)."""
    now = as_utc(now)
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        return False
    other = get_subscription(session=session, chat_id=new_chat_id)
    if other is not None and other.id != subscription.id:
        _end(session, subscription, f"the group moved to {new_chat_id}, subscribed already", now)
        return False
    subscription.chat_id = new_chat_id
    subscription.chat_type = "supergroup"
    subscription.updated_at = now
    session.add(subscription)
    session.execute(
        update(Delivery)
        .where(
            col(Delivery.subscription_id) == subscription_id,
            col(Delivery.state).in_((PENDING, CLAIMED)),
        )
        .values(chat_id=new_chat_id)
    )
    session.flush()
    return True


# --- one scheduler at a time ------------------------------------------------------------------


class SchedulerLock:
    """Leadership for the digest scheduler: at most one process plans and sends at a time.

    On PostgreSQL, a session-level advisory lock held on a dedicated connection (autocommit,
    so it never sits idle in a transaction). When the process dies its connection closes and
    the lock is free for another process. The key is derived from the schema name, so
    deployments sharing a database in different schemas don't block each other. SQLite
    serves one process, which always leads.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._key: int | None = None
        self._guard = threading.Lock()  # the scan and delivery jobs may ask at the same time

    @property
    def held(self) -> bool:
        return not is_postgres(self.engine) or self._connection is not None

    def acquire(self) -> bool:
        """Take (or confirm we still hold) the lock; never blocks."""
        if not is_postgres(self.engine):
            return True
        with self._guard:
            return self._acquire()

    def _acquire(self) -> bool:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                return True
            except Exception:
                log.warning("lost the digest scheduler's database connection", exc_info=True)
                self._drop()
        try:
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except Exception:
            log.warning("cannot connect for the digest scheduler lock", exc_info=True)
            return False
        try:
            schema = connection.execute(text("SELECT current_schema()")).scalar() or ""
            key = (0x44494745 << 32) | zlib.crc32(f"briefing-digests:{schema}".encode())
            got = bool(
                connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            )
        except Exception:
            connection.close()
            log.warning("cannot take the digest scheduler lock", exc_info=True)
            return False
        if not got:
            connection.close()
            return False
        self._connection, self._key = connection, key
        log.info("this process now runs the digest scheduler")
        return True

    def release(self) -> None:
        with self._guard:
            self._release()

    def _release(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
        except Exception:
            log.debug("advisory unlock failed", exc_info=True)
        self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                log.debug("closing the lock connection failed", exc_info=True)
