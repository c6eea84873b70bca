"""Submitting a change request: applied at once, or kept as a draft for review or confirmation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

from sqlalchemy import func
from sqlmodel import Session, col, select

from knowledge.language.wording import N_
from knowledge.models import (
    Draft,
    Revision,
    as_utc,
    utcnow,
)
from knowledge.write.curation import Author
from knowledge.write.records import CurationError
from knowledge.write.requests import Applied, ChangeRequest, ImportRejected, apply_change, trial

T = TypeVar("T")


CONFIRM_TTL = timedelta(hours=1)  # how long a "same title, same date — add anyway?" stays open


# Draft states: `confirm` waits for its author's "add anyway", `pending` for a reviewer.
DRAFT_CONFIRM = "confirm"


DRAFT_PENDING = "pending"


DRAFT_APPLIED = "applied"


DRAFT_REJECTED = "rejected"


DRAFT_CANCELLED = "cancelled"


@dataclass
class Submission(Generic[T]):
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
    change: ChangeRequest,
    *,
    author: Author,
    review: bool,
    confirmed: bool = False,
    preview: Callable[[Session, int], T] | None = None,
) -> Submission[T]:
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
        return Submission("applied", applied, preview=seen)
    savepoint.rollback()
    if applied.unchanged:
        return Submission("unchanged", applied, preview=seen)
    state = DRAFT_CONFIRM if suspicious else DRAFT_PENDING
    draft = save_draft(session, change, author=author, state=state)
    return Submission("confirm" if suspicious else "draft", applied, draft=draft, preview=seen)


def save_draft(session: Session, change: ChangeRequest, *, author: Author, state: str) -> Draft:
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


def change_of(draft: Draft) -> ChangeRequest:
    payload = draft.payload or {}
    return ChangeRequest(
        draft.action, dict(payload.get("data") or {}), payload.get("kind"), draft.entry_id
    )


def get_draft(session: Session, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise CurationError(N_("there is no draft {id}"), id=draft_id)
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
) -> Submission[T]:
    """Apply a pending draft as its author's change; a moderator cannot approve their own."""
    draft = get_draft(session, draft_id)
    if draft.state != DRAFT_PENDING:
        raise _not_pending(draft_id, draft.state)
    if draft.author_id == approver.id:
        raise CurationError(N_("you cannot approve your own draft; another moderator must"))
    author = Author(draft.author_id, draft.author_name)
    try:
        outcome = submit(
            session, change_of(draft), author=author, review=False, confirmed=True, preview=preview
        )
    except ImportRejected:
        raise
    except CurationError as exc:
        raise CurationError(
            N_("draft {id} no longer applies: {problem}"), id=draft_id, problem=exc
        ) from None
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


# A draft's states as moderators read them (the states themselves are data).
_NOT_PENDING = {
    DRAFT_APPLIED: N_("draft {id} is applied, not pending"),
    DRAFT_REJECTED: N_("draft {id} is rejected, not pending"),
}


def _not_pending(draft_id: int, state: str) -> CurationError:
    template = _NOT_PENDING.get(state)
    if template is None:
        return CurationError(f"draft {draft_id} is {state}, not pending")
    return CurationError(template, id=draft_id)


def reject_draft(session: Session, draft_id: int, *, decider: Author, reason: str) -> Draft:
    reason = " ".join(reason.split())
    if not reason:
        raise CurationError(N_("say why the draft is rejected"))
    draft = get_draft(session, draft_id)
    if draft.state != DRAFT_PENDING:
        raise _not_pending(draft_id, draft.state)
    _decide(draft, DRAFT_REJECTED, decider, reason)
    session.add(draft)
    session.flush()
    return draft


def _open_confirmation(session: Session, draft_id: int, user: Author) -> Draft:
    draft = get_draft(session, draft_id)
    if draft.state != DRAFT_CONFIRM:
        raise CurationError(N_("this question was already answered"))
    if draft.author_id != user.id:
        raise CurationError(N_("only the moderator who made this change can confirm it"))
    if utcnow() - as_utc(draft.created_at) > CONFIRM_TTL:
        raise CurationError(N_("this confirmation has expired; send the command again"))
    return draft


def confirm_draft(
    session: Session,
    draft_id: int,
    *,
    user: Author,
    review: bool,
    preview: Callable[[Session, int], T] | None = None,
) -> Submission[T]:
    """The author says "add it anyway" to a suspected duplicate: apply it, or queue it for
    review (the same row becomes a pending draft)."""
    draft = _open_confirmation(session, draft_id, user)
    change = change_of(draft)
    if review:
        with trial(session, change, author=user) as applied:  # still valid?
            seen = preview(session, applied.entry_id) if preview and applied.entry_id else None
        draft.state = DRAFT_PENDING
        session.add(draft)
        return Submission("draft", applied, draft=draft, preview=seen)
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
