"""Planning digests: for each due subscription, what changed since its cursor, into the outbox.

A subscription whose `next_due_at` has passed — because its time came, or because the bot was
down when it did — is due exactly once: planning its digest writes one outbox row per message
(the `digest_key` "<subscription>:<from>-<to>" is unique, so a window is never enqueued
twice), moves the cursor to the newest revision and `next_due_at` to the next slot in the
future, all in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Engine,
    and_,
    bindparam,
    exists,
    false,
    insert,
    or_,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from knowledge.digests.feed import (
    ChangeFeed,
    FeedFilter,
    RevisionRow,
    build_feed,
    feed_filter,
    latest_revision,
    latest_revision_id,
    load_revisions,
    public_record_slugs,
)
from knowledge.digests.languages import feed_in_language
from knowledge.digests.schedules import INSTANT, SCHEDULED, next_due_at, schedule_of
from knowledge.digests.subscriptions import filter_label
from knowledge.models import (
    ORIGINAL_LANGUAGE,
    Delivery,
    Revision,
    Subscription,
    as_utc,
    table_of,
)
from knowledge.storage.database import is_postgres, session_scope
from knowledge.write.languages import chat_languages

log = logging.getLogger(__name__)


INSTANT_MAX_DELAY_FACTOR = 10  # a never-ending burst still gets a digest after 10 x debounce


PLAN_BATCH = 500  # subscriptions per planning transaction: short transactions, bounded memory


_SUBSCRIPTIONS = table_of(Subscription)
# A planned subscription's new cursor and schedule, by primary key (executed with a list of
# values: one statement a batch, and no ORM objects to keep in step).
_MOVE_SUBSCRIPTION = (
    update(_SUBSCRIPTIONS)
    .where(_SUBSCRIPTIONS.c.id == bindparam("b_id"))
    .values(
        cursor=bindparam("b_cursor"), next_due_at=bindparam("b_due"),
        updated_at=bindparam("b_now"), last_digest_at=bindparam("b_last"),
    )
)  # fmt: skip

# (feed, filter label, language) -> message parts
RenderDigest = Callable[[ChangeFeed, str, str], list[str]]


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
    default_language: str = ORIGINAL_LANGUAGE,
) -> PlanReport:
    """Enqueue a digest for every subscription that is due; advance cursors and schedules.

    Due: a daily/weekly subscription whose `next_due_at` has passed; an instant one with
    unseen changes once the newest change is `debounce_seconds` old (bursts are batched) or
    its oldest unseen change is ten times that old. `force` (moderators' `/digest send`)
    takes every active subscription with unseen changes, leaving schedules alone.

    Revisions are read once for the whole run (the newest revision id is fixed at the start,
    so every digest of a run covers the same window end); a feed is built and rendered once
    per distinct (cursor, filter, language) — after the first digests, thousands of subscribers
    share a handful. A chat's language is the one it chose with /language, else
    `default_language`. Each batch of subscriptions is one short transaction; on PostgreSQL
    the rows are locked with SKIP LOCKED, so a concurrent planner passes over them.
    """
    now = as_utc(now)
    report = PlanReport()
    with session_scope(engine) as session:
        upto, latest_at = latest_revision(session=session)
        public_record = public_record_slugs(session=session)
    report.upto = upto
    debounce = timedelta(seconds=debounce_seconds)
    quiet = latest_at is not None and as_utc(latest_at) <= now - debounce
    condition = _due_condition(
        now=now, upto=upto, force=force, quiet=quiet,
        starve_before=now - debounce * INSTANT_MAX_DELAY_FACTOR,
    )  # fmt: skip
    rows: list[RevisionRow] = []
    loaded_since = upto
    rendered: dict[tuple[int, str | None, int | None, str], list[str] | None] = {}
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
                # The batch's outbox rows as plain values (the table's defaults fill the rest:
                # pending, nothing sent), inserted in one statement: a `Delivery` object apiece
                # cost more than the rest of planning together. The subscriptions' new cursors
                # and schedules likewise (_MOVE_SUBSCRIPTION).
                outbox: list[dict[str, Any]] = []
                moved: list[dict[str, Any]] = []
                chosen = chat_languages(session=session, chat_ids=[s.chat_id for s in batch])
                for subscription in batch:
                    report.considered += 1
                    language = chosen.get(subscription.chat_id, default_language)
                    key = (
                        subscription.cursor,
                        subscription.topic,
                        subscription.actor_id,
                        language,
                    )
                    if key not in rendered:
                        fkey = (subscription.topic, subscription.actor_id)
                        if fkey not in filters:
                            filters[fkey] = (
                                feed_filter(session=session, topic=fkey[0], actor_id=fkey[1]),
                                filter_label(session=session, subscription=subscription),
                            )
                        flt, label = filters[fkey]
                        feed = build_feed(rows, since=subscription.cursor, upto=upto, flt=flt,
                                          public_record=public_record)  # fmt: skip
                        if not feed.empty:
                            feed = feed_in_language(session=session, feed=feed, language=language)
                        rendered[key] = None if feed.empty else render(feed, label, language)
                    texts = rendered[key]
                    if texts:
                        assert subscription.id is not None  # read from the table, so it has its id
                        outbox.append(
                            {
                                "subscription_id": subscription.id,
                                "chat_id": subscription.chat_id,
                                "digest_key": f"{subscription.id}:{subscription.cursor}-{upto}",
                                "texts": texts, "parts": len(texts), "created_at": now,
                            }
                        )  # fmt: skip
                        created.append(subscription.chat_id)
                    elif subscription.cursor < upto:
                        report.nothing_new += 1
                    due = subscription.next_due_at
                    overdue = due is not None and as_utc(due) <= now
                    if subscription.frequency in SCHEDULED and (overdue or not force):
                        due = next_due_at(schedule_of(subscription), now)
                    moved.append(
                        {
                            "b_id": subscription.id, "b_cursor": max(subscription.cursor, upto),
                            "b_due": due, "b_now": now,
                            "b_last": now if texts else subscription.last_digest_at,
                        }
                    )  # fmt: skip
                if outbox:
                    session.execute(insert(table_of(Delivery)), outbox)
                session.execute(_MOVE_SUBSCRIPTION, moved)
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
    public_record = public_record_slugs(session=session)
    if subscription is None:
        rows = load_revisions(session=session, since=since, upto=upto)
        return build_feed(rows, since=since, upto=upto, public_record=public_record), ""
    flt = feed_filter(session=session, topic=subscription.topic, actor_id=subscription.actor_id)
    rows = load_revisions(session=session, since=subscription.cursor, upto=upto)
    feed = build_feed(rows, since=subscription.cursor, upto=upto, flt=flt,
                      public_record=public_record)  # fmt: skip
    return feed, filter_label(session=session, subscription=subscription)
