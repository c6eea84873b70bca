"""The delivery outbox (the `Delivery` table): claims with leases, outcomes, requeueing.

Senders `claim` rows (PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`; SQLite: one conditional
UPDATE, atomic because SQLite has a single writer), send, and record the outcome with
`apply_outcomes`, which only touches rows the same worker still holds. Claims older than the
lease belong to a process that died; `requeue_stale` hands them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    String,
    and_,
    bindparam,
    func,
    or_,
    update,
)
from sqlmodel import Session, col, select

from knowledge.digests.schedules import as_utc_or_none
from knowledge.models import Delivery, Subscription, as_utc, table_of
from knowledge.storage.database import delete_older, is_postgres

# Delivery states.
PENDING, CLAIMED, SENT, FAILED, DROPPED = "pending", "claimed", "sent", "failed", "dropped"


LEASE = timedelta(minutes=5)  # a claim older than this belongs to a process that died


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
        # SQLAlchemy's `select`: SQLModel's is typed for at most four columns.
        sa.select(
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


def requeue_claims_of_others(*, session: Session, worker: str) -> int:
    """Hand every claim not held by `worker` back to the queue: called by the process that has
    just become the only sender (its predecessor is gone), so nobody waits out the lease."""
    result = session.execute(
        update(Delivery)
        .where(col(Delivery.state) == CLAIMED, col(Delivery.claimed_by) != worker)
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
class DeliveryOutcome:
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
    delivery = table_of(Delivery)
    table = delivery.c
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
    return update(delivery).where(held).values(**values)


def apply_outcomes(
    *, session: Session, worker: str, outcomes: Sequence[DeliveryOutcome], now: datetime
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
            params["b_not_before"] = as_utc_or_none(outcome.not_before)
        by_kind.setdefault(outcome.kind, []).append(params)
    for kind, rows in by_kind.items():
        session.connection().execute(_outcome_statement(kind), rows)
    for outcome in outcomes:
        if outcome.kind == "gone":
            subscription = session.get(Subscription, outcome.subscription_id)
            if subscription is not None and subscription.active:
                end_subscription(session, subscription, outcome.error or "the chat is gone", now)


def end_subscription(
    session: Session, subscription: Subscription, reason: str, now: datetime
) -> None:
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


def prune_deliveries(*, session: Session, days: int) -> int:
    """Forget finished deliveries (sent, failed, dropped: each holds its digest's text) made
    more than `days` ago; pending and claimed ones stay whatever their age. How many went."""
    finished = col(Delivery.state).in_((SENT, FAILED, DROPPED))
    return delete_older(session, Delivery, col(Delivery.created_at), days, finished)
