"""A per-process cache of what was read, valid while the knowledge base is unchanged.

An entry is remembered against a stamp of the knowledge base (the newest revision and entry
ids); any curated change moves the stamp, so nothing stale is ever served."""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from knowledge.models import (
    Alias,
    Entry,
    Revision,
)
from knowledge.storage.database import base_engine, write_epoch

V = TypeVar("V")


@dataclass
class _Memo:
    stamp: tuple[object, ...] = ()
    # Shelf -> key -> value, least recent first. Shelves are evicted separately, so that many
    # distinct rendered replies can't push out the alias index.
    namespaces: defaultdict[str, OrderedDict[Hashable, Any]] = field(
        default_factory=lambda: defaultdict(OrderedDict)
    )


_memos: weakref.WeakKeyDictionary[Engine, _Memo] = weakref.WeakKeyDictionary()


_memo_lock = threading.Lock()


# (write epoch, when read, stamp) per engine: see _stamp.
_stamps: weakref.WeakKeyDictionary[Engine, tuple[int, float, tuple[object, ...]]] = (
    weakref.WeakKeyDictionary()
)


STAMP_TTL = 1.0  # seconds a change made by another process may take to show here


_MEMO_SIZE = 512


_WROTE = "knowledge.cache.wrote"


_STAMPED = "knowledge.cache.stamp"


@event.listens_for(Session, "after_flush")
def _note_write(session: Session, _context: object) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_write(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)
        session.info.pop(_STAMPED, None)


def _stamp(session: Session, engine: Engine) -> tuple[object, ...]:
    """Changes whenever the knowledge base may have: every curated change writes a revision,
    and a bulk load adds entries and aliases. Three index lookups, one round trip.

    Read once per transaction (a reply may consult the cache several times), and shared by
    the transactions that follow while nothing was committed in this process and for at most
    STAMP_TTL seconds: another process's change shows here within that time, this process's
    at once. A unit of work that is answered from the cache then never touches the database.
    """
    stamped = session.info.get(_STAMPED)
    if stamped is not None:
        return stamped
    epoch, now = write_epoch(), time.monotonic()
    with _memo_lock:
        shared = _stamps.get(engine)
    if shared is not None and shared[0] == epoch and now - shared[1] < STAMP_TTL:
        stamp = shared[2]
    else:
        # In plain SQL: building a statement would cost more than the lookups themselves.
        stamp = tuple(session.connection().exec_driver_sql(_STAMP_SQL).one())
        with _memo_lock:
            _stamps[engine] = (epoch, now, stamp)
    session.info[_STAMPED] = stamp
    return stamp


_STAMP_SQL = (
    f"SELECT (SELECT max(id) FROM {Revision.__tablename__}), "
    f"(SELECT max(id) FROM {Entry.__tablename__}), (SELECT max(id) FROM {Alias.__tablename__})"
)


def remembered(
    session: Session, key: Hashable, compute: Callable[[], V], *, namespace: str = "data"
) -> V:
    """`compute()`, kept per database until the knowledge base changes.

    For the expensive parts of a reply that many users ask for alike (exact counts over
    100,000 events, the alias index), and for whole rendered replies (`namespace="replies"`):
    recomputing them per update would blow the latency budget. `compute` must depend on the
    knowledge base only (not on who asks, nor the time). A session that has written in its
    transaction computes afresh and keeps nothing, since its view may yet be rolled back.
    """
    if session.info.get(_WROTE):
        return compute()
    bind = session.get_bind()
    engine = base_engine(bind.engine if isinstance(bind, Connection) else bind)
    stamp = _stamp(session, engine)
    with _memo_lock:
        memo = _memos.get(engine)
        if memo is None or memo.stamp != stamp:
            memo = _memos[engine] = _Memo(stamp)
        values = memo.namespaces[namespace]
        if key in values:
            values.move_to_end(key)
            return values[key]
    value = compute()
    with _memo_lock:
        if _memos.get(engine) is memo:
            if len(values) >= _MEMO_SIZE:
                values.popitem(last=False)
            values[key] = value
    return value
