"""The `Sender` table: each process of the bot reports what it has sent and reads the others'.

Several replicas on one PostgreSQL database share Telegram's per-bot limit. Each rewrites its
own row a few times a second (cumulative counts, its digest rate, the time) and reads the rows
other processes rewrote recently; the sender turns the differences into rates
(bot/delivery/shared.py). Rows of processes gone for an hour are deleted on the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from knowledge.models import Sender, as_utc
from knowledge.storage.database import is_postgres

FORGET = timedelta(hours=1)


@dataclass(frozen=True)
class SenderReport:
    """What one process has sent so far (cumulative), as it last said."""

    worker: str
    replies: int
    digests: int
    floods: int
    digest_rate: float
    seen_at: datetime


def exchange(*, session: Session, mine: SenderReport, fresh: timedelta) -> list[SenderReport]:
    """Write this process's report; return the other processes' reports newer than `fresh`."""
    now = as_utc(mine.seen_at)
    values = {
        "worker": mine.worker, "replies": mine.replies, "digests": mine.digests,
        "floods": mine.floods, "digest_rate": mine.digest_rate, "seen_at": now,
    }  # fmt: skip
    insert = pg_insert if is_postgres(session) else sqlite_insert
    statement = insert(Sender).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["worker"],
            set_={key: statement.excluded[key] for key in values if key != "worker"},
        )
    )
    session.execute(delete(Sender).where(col(Sender.seen_at) < now - FORGET))
    rows = session.exec(
        select(Sender).where(col(Sender.worker) != mine.worker, col(Sender.seen_at) >= now - fresh)
    ).all()
    return [
        SenderReport(row.worker, row.replies, row.digests, row.floods, row.digest_rate,
                     as_utc(row.seen_at))
        for row in rows
    ]  # fmt: skip
