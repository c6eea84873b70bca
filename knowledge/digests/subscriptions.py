"""Subscriptions: what a chat asked for (frequency, time, zone, filter), kept and ended."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    update,
)
from sqlmodel import Session, col, select

from knowledge.digests.feed import (
    latest_revision_id,
)
from knowledge.digests.outbox import CLAIMED, PENDING, end_subscription
from knowledge.digests.schedules import (
    DAILY,
    DEFAULT_TIME,
    FREQUENCIES,
    INSTANT,
    TIME_LIKE,
    WEEKDAY_WORDS,
    WEEKLY,
    Schedule,
    SubscriptionError,
    looks_like_zone,
    next_due_at,
    parse_time,
    resolve_timezone,
)
from knowledge.language.wording import N_
from knowledge.models import Actor, Delivery, Entry, EntryState, EventTopic, Subscription, as_utc
from knowledge.read.actors import find_actors, resolve_actor

_TOPIC_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")


@dataclass(frozen=True)
class SubscriptionRequest:
    """`/subscribe` arguments, parsed but not yet checked against the knowledge base."""

    schedule: Schedule
    topic: str | None = None
    actor: str | None = None  # a name as typed; `resolve_filter` finds the actor


def _is_keyword(token: str) -> bool:
    low = token.casefold()
    return (
        low in FREQUENCIES
        or low.startswith(("topic=", "actor="))
        or bool(TIME_LIKE.match(token))
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
                    N_("Name the topic after topic=, for example topic=sanctions.")
                )
        elif low.startswith("actor="):
            actor_words = [token[len("actor=") :]] if token[len("actor=") :] else []
        elif low in FREQUENCIES:
            if frequency not in (None, low):
                raise SubscriptionError(N_("Choose one of daily, weekly or instant."))
            frequency = low
        elif low in WEEKDAY_WORDS and weekday is None:
            weekday = WEEKDAY_WORDS[low]
        elif TIME_LIKE.match(token) or (low[:1].isdigit() and ":" in low):
            at_time = parse_time(token)
        elif looks_like_zone(token):
            zone = resolve_timezone(token)
        elif frequency == WEEKLY and weekday is None and token.isalpha():
            raise SubscriptionError(
                N_("“{token}” is not a day of the week. Use mon, tue, wed, thu, fri, sat "
                   "or sun, for example: /subscribe weekly fri 18:00"),
                token=token[:20],
            )  # fmt: skip
        else:
            raise SubscriptionError(
                N_("I don't understand “{token}”. Examples: /subscribe daily 08:00 "
                   "Europe/Kyiv · /subscribe weekly mon 09:00 · /subscribe instant · "
                   "/subscribe topic=sanctions · /subscribe actor=Yermak"),
                token=token[:30],
            )  # fmt: skip
    actor = " ".join(actor_words).strip() if actor_words is not None else None
    if actor_words is not None and not actor:
        raise SubscriptionError(N_("Name the actor after actor=, for example actor=Yermak."))
    if topic is not None and actor is not None:
        raise SubscriptionError(N_("Use one filter at a time: topic=… or actor=…"))
    if topic is not None and not _TOPIC_RE.match(topic):
        raise SubscriptionError(
            N_("“{topic}” is not a topic: topics are words like sanctions or nato-membership."),
            topic=topic[:40],
        )
    frequency = frequency or (WEEKLY if weekday is not None else DAILY)
    if frequency == INSTANT:
        if at_time or weekday is not None or zone:
            raise SubscriptionError(
                N_("Instant digests have no time or day: they go out shortly after a change. "
                   "Send /subscribe instant.")
            )  # fmt: skip
        return SubscriptionRequest(Schedule(INSTANT, DEFAULT_TIME, None, "UTC"), topic, actor)
    if frequency == DAILY and weekday is not None:
        raise SubscriptionError(
            N_("A day of the week goes with weekly, for example: /subscribe weekly fri 18:00")
        )
    if frequency == WEEKLY and weekday is None:
        raise SubscriptionError(
            N_("Which day of the week? For example: /subscribe weekly mon 09:00")
        )
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
            if topics:
                raise SubscriptionError(
                    N_("No event has the topic “{topic}”. Topics: {topics}."),
                    topic=topic[:40], topics=shown,
                )  # fmt: skip
            raise SubscriptionError(N_("No event has the topic “{topic}”."), topic=topic[:40])
        return topic, None
    if actor is not None:
        match = resolve_actor(session=session, name=actor)
        if match is not None:
            return None, match.id
        options = find_actors(session=session, query=actor, limit=4)
        if options:
            names = ", ".join(m.name for m in options)
            raise SubscriptionError(
                N_("Several people or organisations match “{actor}”: {names}. "
                   "Write the name in full."),
                actor=actor[:60], names=names,
            )  # fmt: skip
        raise SubscriptionError(
            N_("I don't know anyone called “{actor}”. /who lists people and organisations."),
            actor=actor[:60],
        )
    return None, None


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
    end_subscription(session, subscription, reason, as_utc(now))
    return True


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
        end_subscription(
            session, subscription, f"the group moved to {new_chat_id}, subscribed already", now
        )
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
