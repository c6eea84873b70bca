"""The database engine from DATABASE_URL, SQLite pragmas, and units of work (sessions)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Engine, delete, event
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

READ_ONLY = "briefing_read_only"  # execution option of the engines `reader()` hands out


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator gave."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Build the engine; SQLite gets WAL, foreign keys and a busy timeout, its folder created."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": 30}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs.setdefault("poolclass", StaticPool)
        else:
            path = url.split("///", 1)[-1]
            if path:
                Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event open transactions (below) instead of pysqlite's lazy BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    """Take SQLite's write lock when a transaction starts, not at its first write.

    A deferred transaction that has read and then writes after another connection committed
    fails at once with "database is locked" (its snapshot is stale; the busy timeout cannot
    help). Taking the lock up front makes concurrent units of work queue on the busy timeout
    instead, which is what a single-writer database can offer. Units of work here are short.
    Read-only units (`reader()`) need no lock: WAL readers never wait for the writer.
    """
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


_write_epoch = 0


def reader(engine: Engine) -> Engine:
    """The engine for read-only units of work: same pool, no write lock taken on SQLite.

    Commits on it don't count as writes (see `write_epoch`). A unit of work that might write
    must use the engine itself.
    """
    if engine.get_execution_options().get(READ_ONLY):
        return engine
    found: Engine | None = engine.__dict__.get("_briefing_reader")
    if found is None:
        found = engine.execution_options(**{READ_ONLY: True})
        found.__dict__["_briefing_base"] = engine
        engine.__dict__["_briefing_reader"] = found
    return found


def base_engine(engine: Engine) -> Engine:
    """The engine a `reader()` was made from (or the engine itself)."""
    return engine.__dict__.get("_briefing_base", engine)


def write_epoch() -> int:
    """Counts commits in this process that may have written: caches of what was read
    compare it to know when they must look at the database again."""
    return _write_epoch


@event.listens_for(Engine, "commit")
def _count_write(connection: Any) -> None:
    global _write_epoch
    if not connection.get_execution_options().get(READ_ONLY):
        _write_epoch += 1


def reachable(url: str, timeout: int = 3) -> bool:
    """Whether a PostgreSQL server answers at `url` within `timeout` seconds (tests and
    benchmarks use it to decide whether the PostgreSQL half can run)."""
    probe = create_engine(normalise_url(url), connect_args={"connect_timeout": timeout})
    try:
        with probe.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception:  # any failure means "not reachable"
        return False
    finally:
        probe.dispose()
    return True


def is_postgres(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "postgresql"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work that only reads: no write lock on SQLite, and nothing to commit."""
    with Session(reader(engine), expire_on_commit=False) as session:
        yield session


def delete_older(
    session: Session, model: Any, at: Any, days: int, *where: ColumnElement[bool]
) -> int:
    """Delete the rows of `model` whose time `at` is more than `days` old (and that meet
    `where`): how a retention period is kept. How many went."""
    since = datetime.now(UTC) - timedelta(days=days)
    result = session.execute(delete(model).where(at < since, *where))
    return int(getattr(result, "rowcount", 0) or 0)
