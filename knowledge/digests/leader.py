"""One process schedules digests: a lock in the database elects it, and another takes over."""

from __future__ import annotations

import logging
import threading
import zlib

from sqlalchemy import (
    Connection,
    Engine,
    text,
)

from knowledge.storage.database import is_postgres

log = logging.getLogger(__name__)


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
