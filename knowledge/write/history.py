"""An entry's history: its revisions, newest first, each with what it changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from knowledge.models import (
    Revision,
    as_utc,
)
from knowledge.read.entries import titles
from knowledge.write.records import FieldChange, changed_fields
from knowledge.write.resolve import entry_of_kind

HISTORY_PAGE = 10


@dataclass(frozen=True)
class HistoryItem:
    revision_id: int
    at: datetime
    action: str
    author_id: int | None
    author_name: str
    note: str
    changes: list[FieldChange]


@dataclass
class HistoryPage:
    entry_id: int
    title: str
    items: list[HistoryItem] = field(default_factory=list)
    total: int = 0
    offset: int = 0
    limit: int = HISTORY_PAGE


def show_value(value: Any) -> str:
    """A record value as one line of text for /history."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        shown = []
        for item in value:
            if isinstance(item, dict):
                note = f" ({item.get('note')})" if item.get("note") else ""
                shown.append(f"{item.get('source', '?')}{note}")
            else:
                shown.append(str(item))
        return ", ".join(shown)
    return str(value)


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[FieldChange]:
    """Field by field, what a revision changed (a creation lists every field it set)."""
    shown = [FieldChange(change.field, show_value(change.old), show_value(change.new))
             for change in changed_fields(before, after)]  # fmt: skip
    return [change for change in shown if change.old != change.new]


def history(
    *, session: Session, entry_id: int, offset: int = 0, limit: int = HISTORY_PAGE
) -> HistoryPage:
    """An entry's revisions, oldest first, a page at a time."""
    entry_of_kind(session, entry_id)
    title = titles(session=session, entry_ids=[entry_id]).get(entry_id, "")
    where = Revision.entry_id == entry_id
    total = session.exec(select(func.count()).select_from(Revision).where(where)).one()
    offset = max(0, min(offset, max(total - 1, 0)))
    revisions = session.exec(
        select(Revision).where(where).order_by(col(Revision.id)).offset(offset).limit(limit)
    ).all()
    items = [
        HistoryItem(
            revision_id=r.id or 0,
            at=as_utc(r.at),
            action=r.action,
            author_id=r.author_id,
            author_name=r.author_name,
            note=r.note,
            changes=diff(r.before, r.after),
        )
        for r in revisions
    ]
    return HistoryPage(entry_id, title, items, total, offset, limit)
