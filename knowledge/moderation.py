"""Curation in chat, without Telegram: moderators, the audit trail, command parsing and drafts.

Every change a moderator asks for becomes a `Change` first. `submit` validates it by applying
it inside a savepoint, and then either keeps it (review off), or keeps only a `Draft` row
(review on, or a suspected duplicate waiting for the moderator's confirmation). Drafts never
write revisions: digests read revisions as "published changes", so a draft stays invisible
until `approve_draft` applies it through knowledge/curation.py like any other change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import func
from sqlmodel import Session, col, select

from knowledge.curation import (
    LIMITS,
    Author,
    CurationError,
    FieldChange,
    changed_fields,
    create_entry,
    parse_field_value,
    retract_entry,
    snapshot,
    undo_last,
    update_entry,
)
from knowledge.importer import ImportError_, ImportSummary, import_briefing
from knowledge.language.dates import DateError, parse_date
from knowledge.models import (
    ActorKind,
    AuditRecord,
    DatePrecision,
    Draft,
    Entry,
    EntryKind,
    EntryState,
    Event,
    Moderator,
    Revision,
    Source,
    SourceKind,
    utcnow,
)
from knowledge.read.actors import find_actors, resolve_actor
from knowledge.read.entries import titles
from knowledge.read.sources import find_source

T = TypeVar("T")

MAX_CHAT_IMPORT_BYTES = 2_000_000  # a file sent in chat; the CLI importer allows more
AUDIT_DEFAULT, AUDIT_MAX = 20, 200
CONFIRM_TTL = timedelta(hours=1)  # how long a "same title, same date — add anyway?" stays open
HISTORY_PAGE = 10

# Draft states: `confirm` waits for its author's "add anyway", `pending` for a reviewer.
DRAFT_CONFIRM = "confirm"
DRAFT_PENDING = "pending"
DRAFT_APPLIED = "applied"
DRAFT_REJECTED = "rejected"
DRAFT_CANCELLED = "cancelled"

ACTIONS = ("create", "edit", "retract", "undo", "import")

USAGE = {
    "add_event": "/add_event DATE | TITLE | SUMMARY | SOURCE[; SOURCE…]",
    "add_actor": "/add_actor NAME | KIND | ROLE | ALIAS[, ALIAS…]",
    "add_source": "/add_source NAME | KIND | URL",
    "edit": "/edit ID | FIELD | VALUE",
    "retract": "/retract ID | REASON",
    "history": "/history ID",
    "undo": "/undo ID",
    "approve": "/approve DRAFT",
    "reject": "/reject DRAFT | REASON",
    "mod": "/mod add USER_ID · /mod remove USER_ID (or in reply to their message)",
    "audit": "/audit [N]",
}

_ID_RE = re.compile(r"^#?(\d{1,9})$")


class UsageError(CurationError):
    """The command's shape is wrong; the reply shows its usage line."""

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command


class UnknownSource(CurationError):
    """A source name that matches none; the reply offers to create it with /add_source."""

    def __init__(self, name: str, suggestion: str | None) -> None:
        hint = f" (did you mean “{suggestion}”?)" if suggestion else ""
        super().__init__(f"no source is called “{name[:80]}”{hint}")
        self.name = name[:200]
        self.suggestion = suggestion


class ImportRejected(CurationError):
    """A YAML file with problems; `errors` name the file and line of each."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors[0] if errors else "the file cannot be imported")
        self.errors = errors


def as_utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- moderators -------------------------------------------------------------------------------


def add_moderator(*, session: Session, user_id: int, added_by: int, name: str = "") -> bool:
    """Make a user a moderator; False if they already are one."""
    if session.get(Moderator, user_id) is not None:
        return False
    session.add(Moderator(user_id=user_id, added_by=added_by, name=name[:200]))
    session.flush()
    return True


def remove_moderator(*, session: Session, user_id: int) -> bool:
    """Take a moderator's rights away; False if they were not one."""
    moderator = session.get(Moderator, user_id)
    if moderator is None:
        return False
    session.delete(moderator)
    session.flush()
    return True


def list_moderators(*, session: Session) -> list[Moderator]:
    return list(session.exec(select(Moderator).order_by(col(Moderator.added_at))))


def moderator_ids(*, session: Session) -> list[int]:
    return list(session.exec(select(Moderator.user_id)))


# --- audit ------------------------------------------------------------------------------------


def record_audit(*, session: Session, user_id: int, command: str, outcome: str) -> AuditRecord:
    record = AuditRecord(
        user_id=user_id, command=" ".join(command.split())[:300], outcome=outcome[:300]
    )
    session.add(record)
    session.flush()
    return record


def recent_audit(*, session: Session, limit: int = AUDIT_DEFAULT) -> list[AuditRecord]:
    """The latest audit records, newest first."""
    limit = max(1, min(limit, AUDIT_MAX))
    return list(
        session.exec(select(AuditRecord).order_by(col(AuditRecord.id).desc()).limit(limit))
    )


def parse_audit_count(text: str) -> int:
    text = text.strip()
    if not text:
        return AUDIT_DEFAULT
    if not text.isdigit() or int(text) < 1:
        raise UsageError("N must be a whole number", "audit")
    return min(int(text), AUDIT_MAX)


# --- changes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One thing a moderator asked for, in a form a Draft can keep as JSON.

    payload: create {"record"}, edit {"changes", "fields"}, retract {"reason"},
    undo {"revision"}, import {"name", "text"}.
    """

    action: str
    payload: dict[str, Any]
    kind: str | None = None
    entry_id: int | None = None

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

    change: Change
    entry_id: int | None = None
    revision_id: int | None = None
    summary: ImportSummary | None = None
    duplicate_of: int | None = None

    @property
    def unchanged(self) -> bool:
        return self.change.action == "edit" and self.revision_id is None


def apply_change(session: Session, change: Change, *, author: Author) -> Applied:
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
        if expected is not None and _last_revision_id(session, change.entry_id) != expected:
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
        except ImportError_ as exc:
            raise ImportRejected(exc.errors) from None
    else:
        raise CurationError(f"unknown action {change.action}")
    if change.action in ("create", "edit") and applied.entry_id is not None:
        applied.duplicate_of = _duplicate_event(session, applied.entry_id)
    return applied


def _last_revision_id(session: Session, entry_id: int) -> int | None:
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
def trial(session: Session, change: Change, *, author: Author) -> Iterator[Applied]:
    """Apply a change inside a savepoint and roll it back on leaving: validation and previews
    see the entry as it would be, and the database keeps nothing."""
    savepoint = session.begin_nested()
    try:
        yield apply_change(session, change, author=author)
    finally:
        savepoint.rollback()


@dataclass
class Outcome(Generic[T]):
    """What `submit` did: applied / unchanged / draft (waits for review) / confirm (waits for
    the author to confirm a suspected duplicate)."""

    status: str
    applied: Applied
    draft: Draft | None = None
    preview: T | None = None

    @property
    def entry_id(self) -> int | None:
        return self.applied.entry_id


def submit(
    session: Session,
    change: Change,
    *,
    author: Author,
    review: bool,
    confirmed: bool = False,
    preview: Callable[[Session, int], T] | None = None,
) -> Outcome[T]:
    """Validate and apply a change, or keep it as a draft; raise CurationError when invalid.

    `preview(session, entry_id)` renders the entry as subscribers will see it: after the change
    when it is applied, or as it would be (inside the rolled-back savepoint) for drafts.
    """
    savepoint = session.begin_nested()
    try:
        applied = apply_change(session, change, author=author)
        suspicious = applied.duplicate_of is not None and not confirmed
        hold = review or suspicious or applied.unchanged
        seen = preview(session, applied.entry_id) if preview and applied.entry_id else None
    except BaseException:
        savepoint.rollback()
        raise
    if not hold:
        savepoint.commit()
        return Outcome("applied", applied, preview=seen)
    savepoint.rollback()
    if applied.unchanged:
        return Outcome("unchanged", applied, preview=seen)
    state = DRAFT_CONFIRM if suspicious else DRAFT_PENDING
    draft = save_draft(session, change, author=author, state=state)
    return Outcome("confirm" if suspicious else "draft", applied, draft=draft, preview=seen)


# --- drafts -----------------------------------------------------------------------------------


def save_draft(session: Session, change: Change, *, author: Author, state: str) -> Draft:
    draft = Draft(
        entry_id=change.entry_id,
        action=change.action,
        payload={"kind": change.kind, "data": change.payload},
        author_id=author.id or 0,
        author_name=author.name[:200],
        state=state,
    )
    session.add(draft)
    session.flush()
    return draft


def change_of(draft: Draft) -> Change:
    payload = draft.payload or {}
    return Change(
        draft.action, dict(payload.get("data") or {}), payload.get("kind"), draft.entry_id
    )


def get_draft(session: Session, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise CurationError(f"there is no draft {draft_id}")
    return draft


def pending_drafts(*, session: Session, limit: int = 30) -> tuple[list[Draft], int]:
    """Drafts waiting for review, oldest first, and how many there are."""
    where = Draft.state == DRAFT_PENDING
    total = session.exec(select(func.count()).select_from(Draft).where(where)).one()
    drafts = session.exec(select(Draft).where(where).order_by(col(Draft.id)).limit(limit)).all()
    return list(drafts), total


def _decide(draft: Draft, state: str, decider: Author, reason: str = "") -> None:
    draft.state = state
    draft.decided_by = decider.id
    draft.decided_at = utcnow()
    draft.reason = reason[:500]


def approve_draft(
    session: Session,
    draft_id: int,
    *,
    approver: Author,
    preview: Callable[[Session, int], T] | None = None,
) -> Outcome[T]:
    """Apply a pending draft as its author's change; a moderator cannot approve their own."""
    draft = get_draft(session, draft_id)
    if draft.state != DRAFT_PENDING:
        raise CurationError(f"draft {draft_id} is {draft.state}, not pending")
    if draft.author_id == approver.id:
        raise CurationError("you cannot approve your own draft; another moderator must")
    author = Author(draft.author_id, draft.author_name)
    try:
        outcome = submit(
            session, change_of(draft), author=author, review=False, confirmed=True, preview=preview
        )
    except ImportRejected:
        raise
    except CurationError as exc:
        raise CurationError(f"draft {draft_id} no longer applies: {exc}") from None
    revision_id = outcome.applied.revision_id
    if revision_id is not None:
        revision = session.get_one(Revision, revision_id)
        note = f"approved by {approver.name} ({approver.id}), draft {draft_id}"
        revision.note = f"{revision.note} · {note}"[:500] if revision.note else note[:500]
        session.add(revision)
    _decide(draft, DRAFT_APPLIED, approver)
    session.add(draft)
    outcome.draft = draft
    return outcome


def reject_draft(session: Session, draft_id: int, *, decider: Author, reason: str) -> Draft:
    reason = " ".join(reason.split())
    if not reason:
        raise UsageError("say why the draft is rejected", "reject")
    draft = get_draft(session, draft_id)
    if draft.state != DRAFT_PENDING:
        raise CurationError(f"draft {draft_id} is {draft.state}, not pending")
    _decide(draft, DRAFT_REJECTED, decider, reason)
    session.add(draft)
    session.flush()
    return draft


def _open_confirmation(session: Session, draft_id: int, user: Author) -> Draft:
    draft = get_draft(session, draft_id)
    if draft.state != DRAFT_CONFIRM:
        raise CurationError("this question was already answered")
    if draft.author_id != user.id:
        raise CurationError("only the moderator who made this change can confirm it")
    if utcnow() - as_utc(draft.created_at) > CONFIRM_TTL:
        raise CurationError("this confirmation has expired; send the command again")
    return draft


def confirm_draft(
    session: Session,
    draft_id: int,
    *,
    user: Author,
    review: bool,
    preview: Callable[[Session, int], T] | None = None,
) -> Outcome[T]:
    """The author says "add it anyway" to a suspected duplicate: apply it, or queue it for
    review (the same row becomes a pending draft)."""
    draft = _open_confirmation(session, draft_id, user)
    change = change_of(draft)
    if review:
        with trial(session, change, author=user) as applied:  # still valid?
            seen = preview(session, applied.entry_id) if preview and applied.entry_id else None
        draft.state = DRAFT_PENDING
        session.add(draft)
        return Outcome("draft", applied, draft=draft, preview=seen)
    outcome = submit(session, change, author=user, review=False, confirmed=True, preview=preview)
    _decide(draft, DRAFT_APPLIED, user)
    session.add(draft)
    outcome.draft = draft
    return outcome


def cancel_draft(session: Session, draft_id: int, *, user: Author) -> Draft:
    draft = _open_confirmation(session, draft_id, user)
    _decide(draft, DRAFT_CANCELLED, user, "cancelled by its author")
    session.add(draft)
    return draft


# --- parsing the one-line commands ------------------------------------------------------------


def split_args(text: str, command: str, *, minimum: int, maximum: int) -> list[str]:
    """`A | B | C` -> ["A", "B", "C"]; the last part keeps any further `|`."""
    parts = [p.strip() for p in text.split("|", maximum - 1)] if text.strip() else []
    if not minimum <= len(parts) <= maximum:
        wanted = f"{minimum}" if minimum == maximum else f"{minimum} to {maximum}"
        raise UsageError(f"expected {wanted} parts separated by |, got {len(parts)}", command)
    return parts


def parse_entry_id(text: str, command: str) -> int:
    match = _ID_RE.match(text.strip())
    if not match:
        raise UsageError(f"“{text.strip()[:40]}” is not an entry number", command)
    return int(match.group(1))


def parse_draft_id(text: str, command: str) -> int:
    match = _ID_RE.match(text.strip())
    if not match:
        raise UsageError(f"“{text.strip()[:40]}” is not a draft number (see /pending)", command)
    return int(match.group(1))


def _entry_of_kind(session: Session, entry_id: int) -> Entry:
    entry = session.get(Entry, entry_id)
    if entry is None:
        raise CurationError(f"there is no entry #{entry_id}")
    return entry


def resolve_source(session: Session, name: str) -> str:
    """A source's slug from its name (case-insensitive) or slug; unknown -> UnknownSource."""
    wanted = " ".join(name.split())
    if not wanted:
        raise CurationError("a source name is empty")
    row = session.exec(
        select(Entry.slug, Entry.state)
        .join(Source, col(Source.id) == col(Entry.id))
        .where(Source.name_key == wanted.casefold())
    ).first()
    if row is None:
        row = session.exec(
            select(Entry.slug, Entry.state).where(
                Entry.kind == EntryKind.SOURCE, Entry.slug == wanted.lower()
            )
        ).first()
    if row is None:
        close = find_source(session=session, name=wanted)
        raise UnknownSource(wanted, close.name if close else None)
    slug, state = row
    if state != EntryState.PUBLISHED:
        raise CurationError(f"the source “{wanted[:80]}” is retracted")
    return slug


def resolve_sources(session: Session, text: str) -> list[str]:
    """Slugs of sources named in `A; B` (or `A, B` when no name has a comma in it)."""
    slugs: list[str] = []
    for name in _names(text, ";"):
        try:
            slugs.append(resolve_source(session, name))
        except UnknownSource:
            if "," not in name:
                raise
            slugs += [resolve_source(session, part) for part in _names(name, ",")]
    return list(dict.fromkeys(slugs))


def resolve_actors(session: Session, text: str) -> list[str]:
    """Slugs of actors named in `A; B` or `A, B`."""
    names = _names(text, ";" if ";" in text else ",")
    return list(dict.fromkeys(resolve_actor_slug(session, name) for name in names))


def resolve_actor_slug(session: Session, name: str) -> str:
    """An actor's slug from any of their names (aliases, transliterations) or their slug."""
    wanted = " ".join(name.split())
    by_slug = session.exec(
        select(Entry.slug).where(
            Entry.kind == EntryKind.ACTOR,
            Entry.slug == wanted.lower(),
            Entry.state == EntryState.PUBLISHED,
        )
    ).first()
    if by_slug is not None:
        return by_slug
    match = resolve_actor(session=session, name=wanted)
    if match is None:
        several = find_actors(session=session, query=wanted, limit=3)
        if several:
            names = ", ".join(f"“{m.name}”" for m in several)
            raise CurationError(f"“{wanted[:60]}” could mean {names}; write the full name")
        raise CurationError(f"no actor is called “{wanted[:60]}”; add them with /add_actor")
    return session.get_one(Entry, match.id).slug


def _names(text: str, separator: str) -> list[str]:
    if text.strip() in ("", "-"):
        return []
    return [n.strip() for n in text.split(separator) if n.strip()]


def _date(text: str) -> str:
    try:
        return parse_date(text).iso()
    except DateError as exc:
        raise CurationError(f"date: {exc}") from None


def parse_add_event(session: Session, text: str) -> Change:
    """`DATE | TITLE | SUMMARY | SOURCE[; SOURCE…]`."""
    date_text, title, summary, sources = split_args(text, "add_event", minimum=4, maximum=4)
    record = {
        "date": _date(date_text),
        "title": title,
        "summary": "" if summary == "-" else summary,
        "citations": [{"source": s, "note": ""} for s in resolve_sources(session, sources)],
    }
    if not record["citations"]:
        raise CurationError("an event needs at least one source")
    return Change("create", {"record": record}, EntryKind.EVENT)


def parse_add_actor(session: Session, text: str) -> Change:
    """`NAME | KIND | ROLE | ALIAS[, ALIAS…]` (role and aliases may be left out or `-`)."""
    parts = [*split_args(text, "add_actor", minimum=2, maximum=4), "", ""]
    name, kind, role, aliases = parts[:4]
    record = {
        "name": name,
        "kind": kind.strip().lower(),
        "role": "" if role == "-" else role,
        "aliases": _names(aliases, ","),
    }
    return Change("create", {"record": record}, EntryKind.ACTOR)


def parse_add_source(session: Session, text: str) -> Change:
    """`NAME | KIND | URL` (`-` for no URL)."""
    parts = [*split_args(text, "add_source", minimum=2, maximum=3), ""]
    name, kind, url = parts[:3]
    _refuse_taken_source_name(session, name)
    record = {"name": name, "kind": kind.strip().lower(), "url": url.strip() or None}
    return Change("create", {"record": record}, EntryKind.SOURCE)


def _refuse_taken_source_name(session: Session, name: str) -> None:
    """Source names are unique (case-insensitively): say which entry has it already."""
    wanted = " ".join(name.split()).casefold()
    existing = session.exec(select(Source.id).where(Source.name_key == wanted)).first()
    if wanted and existing is not None:
        raise CurationError(f"a source named “{name.strip()[:80]}” already exists (#{existing})")


_FIELD_ALIASES = {"citations": "sources", "alias": "aliases", "topic": "topics"}
_COARSER = {DatePrecision.YEAR: 4, DatePrecision.MONTH: 7}


def parse_edit(session: Session, text: str) -> Change:
    """`ID | FIELD | VALUE`: any editable field, names resolved like the add commands."""
    raw_id, raw_field, value = split_args(text, "edit", minimum=3, maximum=3)
    entry_id = parse_entry_id(raw_id, "edit")
    entry = _entry_of_kind(session, entry_id)
    field_name = raw_field.strip().lower().replace(" ", "_")
    field_name = _FIELD_ALIASES.get(field_name, field_name)
    try:
        parsed = parse_field_value(entry.kind, field_name, value)
    except CurationError as exc:
        raise CurationError(f"#{entry_id} is {_a(entry.kind)}: {exc}") from None
    current = snapshot(session, entry)
    changes: dict[str, Any]
    if entry.kind == EntryKind.EVENT and field_name == "date":
        fuzzy_iso = _date(value)
        changes = {"date": fuzzy_iso}
        # A new date brings its own precision; an approximate date stays approximate.
        if current["precision"] != DatePrecision.APPROXIMATE:
            changes["precision"] = parse_date(fuzzy_iso).precision.value
    elif entry.kind == EntryKind.EVENT and field_name == "precision":
        precision = str(parsed).lower()
        changes = {"precision": precision}
        if precision in _COARSER and len(current["date"]) > _COARSER[precision]:
            changes["date"] = current["date"][: _COARSER[precision]]  # 2023-07-11 -> 2023-07
    elif entry.kind == EntryKind.EVENT and field_name == "sources":
        notes = {c["source"]: c["note"] for c in current["citations"]}
        slugs = resolve_sources(session, value)
        changes = {"citations": [{"source": s, "note": notes.get(s, "")} for s in slugs]}
    elif entry.kind == EntryKind.ACTOR and field_name == "sources":
        changes = {"sources": resolve_sources(session, value)}
    elif field_name == "actors":
        changes = {"actors": resolve_actors(session, value)}
    elif field_name in ("kind", "status"):
        changes = {field_name: str(parsed).lower()}
    else:
        changes = {field_name: parsed}
    return Change("edit", {"changes": changes, "fields": [field_name]}, entry.kind, entry_id)


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def parse_retract(session: Session, text: str) -> Change:
    raw_id, reason = split_args(text, "retract", minimum=2, maximum=2)
    entry = _entry_of_kind(session, parse_entry_id(raw_id, "retract"))
    if not reason.strip():
        raise UsageError("say why the entry is retracted", "retract")
    if entry.state == EntryState.RETRACTED:
        raise CurationError(f"#{entry.id} is already retracted")
    return Change("retract", {"reason": reason}, entry.kind, entry.id)


def parse_undo(session: Session, text: str) -> Change:
    entry = _entry_of_kind(session, parse_entry_id(text, "undo"))
    assert entry.id is not None
    last = _last_revision_id(session, entry.id)
    if last is None:
        raise CurationError(f"#{entry.id} has no history to undo")
    return Change("undo", {"revision": last}, entry.kind, entry.id)


def import_change(name: str, data: bytes) -> Change:
    """A YAML file sent in chat, checked for size and encoding before anything else."""
    if len(data) > MAX_CHAT_IMPORT_BYTES:
        raise CurationError(
            f"{name} is {len(data):,} bytes; files sent in chat may be up to "
            f"{MAX_CHAT_IMPORT_BYTES // 1_000_000} MB"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CurationError(f"{name} is not UTF-8 text (byte {exc.start})") from None
    return Change("import", {"name": name[:120], "text": text})


# --- the guided /add flow ---------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One question of the guided flow."""

    field: str
    prompt: str
    optional: bool = False
    choices: tuple[str, ...] = ()


GUIDED_STEPS: dict[str, tuple[Step, ...]] = {
    EntryKind.EVENT: (
        Step("date", "Date: YYYY, YYYY-MM or YYYY-MM-DD"),
        Step("title", f"Title (up to {LIMITS['title']} characters)"),
        Step("summary", f"Summary (up to {LIMITS['summary']} characters), or - for none", True),
        Step("sources", "Sources, by name, separated by ;"),
        Step("actors", "Actors, by name, separated by ; — or - for none", True),
    ),
    EntryKind.ACTOR: (
        Step("name", f"Name (up to {LIMITS['name']} characters)"),
        Step("kind", "Kind", choices=tuple(k.value for k in ActorKind)),
        Step("role", f"Role (up to {LIMITS['role']} characters), or - for none", True),
        Step("aliases", "Other names, separated by commas — or - for none", True),
    ),
    EntryKind.SOURCE: (
        Step("name", f"Name (up to {LIMITS['name']} characters)"),
        Step("kind", "Kind", choices=tuple(k.value for k in SourceKind)),
        Step("url", "Web address (http:// or https://), or - for none", True),
    ),
}


def check_step(session: Session, kind: str, step: Step, text: str) -> Any:
    """Validate one answer of the guided flow as it is typed; return the value to keep."""
    text = text.strip()
    empty = text in ("", "-")
    if empty and step.optional:
        return [] if step.field in ("aliases", "actors") else ""
    if empty:
        raise CurationError(f"{step.field} must not be empty")
    if step.choices:
        value = text.lower().replace(" ", "_")
        if value not in step.choices:
            raise CurationError(f"{step.field} must be one of: {', '.join(step.choices)}")
        return value
    if step.field == "date":
        return _date(text)
    if step.field == "sources":
        return resolve_sources(session, text)
    if step.field == "actors":
        return resolve_actors(session, text)
    if step.field == "aliases":
        aliases = _names(text, ",")
        for alias in aliases:
            if len(alias) > LIMITS["alias"]:
                raise CurationError(
                    f"alias is {len(alias)} characters; the limit is {LIMITS['alias']}"
                )
        return aliases
    if step.field == "url" and not re.match(r"^https?://[^\s<>\"]+$", text):
        raise CurationError("url must start with http:// or https://")
    if step.field == "name" and kind == EntryKind.SOURCE:
        _refuse_taken_source_name(session, text)
    limit = LIMITS.get(step.field)
    if limit is not None and len(text) > limit:
        raise CurationError(f"{step.field} is {len(text)} characters; the limit is {limit}")
    return text


def guided_change(kind: str, values: dict[str, Any]) -> Change:
    """The answers of a finished guided flow as a create change."""
    record = dict(values)
    if kind == EntryKind.EVENT:
        record["citations"] = [{"source": s, "note": ""} for s in record.pop("sources", [])]
    if kind == EntryKind.SOURCE:
        record["url"] = record.get("url") or None
    return Change("create", {"record": record}, kind)


# --- history ----------------------------------------------------------------------------------


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
    _entry_of_kind(session, entry_id)
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
