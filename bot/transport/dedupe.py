"""Update dedupe: each update id is processed once, whichever replica receives it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete
from sqlalchemy.dialects import postgresql, sqlite

from knowledge.models import ProcessedUpdate, table_of

KEEP_PROCESSED = timedelta(days=2)  # Telegram gives up redelivering an update long before this


PRUNE_EVERY = timedelta(hours=1)


def claim_update(*, engine: Engine, update_id: int, now: datetime | None = None) -> bool:
    """Record `update_id` as processed; False when some process (or replica) already did.

    One autocommitted `INSERT ... ON CONFLICT DO NOTHING`: the primary key decides, so two
    replicas racing on the same update can't both win.
    """
    table = table_of(ProcessedUpdate)
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(table)
        .values(update_id=update_id, at=now or datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["update_id"])
        # RETURNING, not rowcount: psycopg reports -1 for ON CONFLICT inserts.
        .returning(table.c.update_id)
    )
    with engine.begin() as connection:
        if dialect is postgresql:
            # Don't wait for the WAL flush: a crash could at worst forget the last few ids,
            # and this runs for every update.
            connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        return connection.execute(statement).first() is not None


def prune_processed_updates(*, engine: Engine, before: datetime) -> int:
    """Forget update ids recorded before `before`; returns how many rows went."""
    table = table_of(ProcessedUpdate)
    with engine.begin() as connection:
        return connection.execute(delete(table).where(table.c.at < before)).rowcount
