"""A change request, applied inside a savepoint so it can be tried, previewed or kept."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from knowledge.models import (
    ORIGINAL_LANGUAGE,
    TRANSLATION_LANGUAGES,
    Entry,
    EntryState,
    Event,
    Revision,
)
from knowledge.write.curation import Author, create_entry, retract_entry, undo_last, update_entry
from knowledge.write.importer import BriefingError, ImportSummary, import_briefing
from knowledge.write.records import CurationError


class ImportRejected(CurationError):
    """A YAML file with problems; `errors` name the file and line of each."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors[0] if errors else "the file cannot be imported")
        self.errors = errors


@dataclass(frozen=True)
class ChangeRequest:
    """One thing a moderator asked for, in a form a Draft can keep as JSON.

    payload: create {"record"}, edit {"changes", "fields"}, retract {"reason"},
    undo {"revision"}, import {"name", "text"}.
    """

    action: str
    payload: dict[str, Any]
    kind: str | None = None
    entry_id: int | None = None

    def language(self) -> str:
        """The language an edit writes (`title.uk` -> "uk"), so its preview shows the entry
        as readers of that language will see it; the original's otherwise."""
        fields = self.payload.get("fields", []) if self.action == "edit" else []
        for field in fields:
            language = str(field).partition(".")[2]
            if language in TRANSLATION_LANGUAGES:
                return language
        return ORIGINAL_LANGUAGE

    def describe(self) -> str:
        """A one-line description for lists of drafts and the audit trail."""
        if self.action == "create":
            record = self.payload.get("record", {})
            return f"add {self.kind} “{record.get('title') or record.get('name') or '?'}”"
        if self.action == "edit":
            return f"edit #{self.entry_id}: {', '.join(self.payload.get('fields', []))}"
        if self.action == "retract":
            return f"retract #{self.entry_id}: {self.payload.get('reason', '')}"
        if self.action == "undo":
            return f"undo the last change of #{self.entry_id}"
        size = len(str(self.payload.get("text", "")).encode("utf-8"))
        return f"import {self.payload.get('name', 'a file')} ({size:,} bytes)"


@dataclass
class Applied:
    """What applying a change did (inside a savepoint that may still be rolled back)."""

    change: ChangeRequest
    entry_id: int | None = None
    revision_id: int | None = None
    summary: ImportSummary | None = None
    duplicate_of: int | None = None

    @property
    def unchanged(self) -> bool:
        return self.change.action == "edit" and self.revision_id is None


def apply_change(session: Session, change: ChangeRequest, *, author: Author) -> Applied:
    """Apply a change through curation (the only write path); nothing is committed here."""
    applied = Applied(change, entry_id=change.entry_id)
    if change.action == "create":
        assert change.kind is not None
        entry, revision = create_entry(
            session, change.kind, change.payload["record"], author=author
        )
        applied.entry_id, applied.revision_id = entry.id, revision.id
    elif change.action == "edit":
        assert change.entry_id is not None
        revision_or_none = update_entry(
            session, change.entry_id, change.payload["changes"], author=author
        )
        applied.revision_id = revision_or_none.id if revision_or_none else None
    elif change.action == "retract":
        assert change.entry_id is not None
        revision = retract_entry(session, change.entry_id, change.payload["reason"], author=author)
        applied.revision_id = revision.id
    elif change.action == "undo":
        assert change.entry_id is not None
        expected = change.payload.get("revision")
        if expected is not None and last_revision_id(session, change.entry_id) != expected:
            raise CurationError(
                f"#{change.entry_id} has changed since the undo was asked for; "
                "check /history and send /undo again"
            )
        applied.revision_id = undo_last(session, change.entry_id, author=author).id
    elif change.action == "import":
        try:
            applied.summary = import_briefing(
                session, change.payload["text"], name=change.payload["name"], author=author
            )
        except BriefingError as exc:
            raise ImportRejected(exc.errors) from None
    else:
        raise CurationError(f"unknown action {change.action}")
    if change.action in ("create", "edit") and applied.entry_id is not None:
        applied.duplicate_of = _duplicate_event(session, applied.entry_id)
    return applied


def last_revision_id(session: Session, entry_id: int) -> int | None:
    return session.exec(select(func.max(Revision.id)).where(Revision.entry_id == entry_id)).one()


def _duplicate_event(session: Session, event_id: int) -> int | None:
    """Another published event with the same title (ignoring case and spacing) and date."""
    event = session.get(Event, event_id)
    if event is None:
        return None
    title = " ".join(event.title.split()).casefold()
    rows = session.exec(
        select(Event.id, Event.title)
        .join(Entry, col(Entry.id) == col(Event.id))
        .where(
            Event.date_start == event.date_start,
            Event.id != event_id,
            Entry.state == EntryState.PUBLISHED,
        )
        .order_by(col(Event.id))
    ).all()
    for other_id, other_title in rows:
        if " ".join(other_title.split()).casefold() == title:
            return other_id
    return None


@contextmanager
def trial(session: Session, change: ChangeRequest, *, author: Author) -> Iterator[Applied]:
    """Apply a change inside a savepoint and roll it back on leaving: validation and previews
    see the entry as it would be, and the database keeps nothing."""
    savepoint = session.begin_nested()
    try:
        yield apply_change(session, change, author=author)
    finally:
        savepoint.rollback()
