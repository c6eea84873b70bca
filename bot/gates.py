"""What every moderator action passes through: the rights check, one unit of work, its audit.

Rights are checked on every command, button press and step of /add, against the database, so
a removed moderator loses them at once. Every admin action is written to the audit trail,
refused ones included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from telegram import Update
from telegram.ext import (
    Application,
    ContextTypes,
)

from bot.answers import entry_reply
from bot.chat import ArgumentTooLong, command_text, send
from bot.context import Deps, deps_of
from bot.presenters import admin as render_admin
from bot.presenters.html import Reply
from knowledge.storage.database import session_scope
from knowledge.write import roles
from knowledge.write.audit import record_audit
from knowledge.write.curation import Author
from knowledge.write.drafts import (
    Outcome,
    submit,
)
from knowledge.write.records import CurationError
from knowledge.write.requests import Change

log = logging.getLogger(__name__)


App = Application[Any, Any, Any, Any, Any, Any]


Context = ContextTypes.DEFAULT_TYPE


Work = Callable[[Session, Author], tuple[Reply, str]]


MAX_ADMIN_ARGUMENT = 4096  # a whole Telegram message: summaries can be long


def action_of(update: Update) -> str:
    """What the user did, for the audit trail: the message text, or the button's data."""
    if update.callback_query is not None:
        return f"button {update.callback_query.data or ''}"
    message = update.effective_message
    return (message.text or message.caption or "") if message else ""


def audit_action(deps: Deps, user_id: int, command: str, outcome: str) -> None:
    # Its own transaction: the record stays even when the action itself was rolled back.
    with session_scope(deps.engine) as session:
        record_audit(session=session, user_id=user_id, command=command, outcome=outcome)


async def moderator_gate(
    update: Update, context: Context, *, owners_only: bool = False
) -> Author | None:
    """The author of an admin action, or None after refusing (and recording the refusal)."""
    user = update.effective_user
    if user is None:  # channel posts: nobody to refuse, nothing to record
        return None
    deps = deps_of(context)
    owners = deps.settings.admin_ids
    with session_scope(deps.engine) as session:
        if owners_only:
            allowed = roles.is_owner(user.id, owners)
        else:
            allowed = roles.is_moderator(session=session, user_id=user.id, owners=owners)
        if not allowed:
            record_audit(
                session=session,
                user_id=user.id,
                command=action_of(update),
                outcome=f"refused: not {'an owner' if owners_only else 'a moderator'}",
            )
    if allowed:
        return Author(user.id, user.full_name)
    log.warning(
        "refused %r from user %s (not %s)",
        action_of(update)[:60],
        user.id,
        "an owner" if owners_only else "a moderator",
    )
    reply = render_admin.refusal(owners_only=owners_only)
    if update.callback_query is not None:
        await update.callback_query.answer(
            render_admin.OWNER_REFUSAL if owners_only else render_admin.REFUSAL
        )
    else:
        await send(update, context, reply)
    return None


def perform(deps: Deps, update: Update, author: Author, work: Work) -> Reply:
    """Run one unit of work in its own transaction; a CurationError rolls it back and becomes
    a polite answer. The audit record is written whatever happens."""
    outcome = "error"
    try:
        try:
            with session_scope(deps.engine) as session:
                reply, outcome = work(session, author)
        except CurationError as exc:
            reply, outcome = render_admin.problem(exc), f"invalid: {exc}"
    finally:
        assert author.id is not None
        audit_action(deps, author.id, action_of(update), outcome)
    return reply


def admin_args(update: Update) -> str:
    return command_text(update, MAX_ADMIN_ARGUMENT)


def audit_line(result: Outcome[Reply]) -> str:
    """The audit line for a submitted change."""
    applied = result.applied
    what = applied.change.describe()
    if result.status == "applied":
        where = f" #{applied.entry_id}" if applied.entry_id else ""
        revision = f" r{applied.revision_id}" if applied.revision_id else ""
        summary = f" ({applied.summary.line()})" if applied.summary else ""
        return f"ok{where}{revision}: {what}{summary}"
    if result.status == "unchanged":
        return f"unchanged #{applied.entry_id}"
    assert result.draft is not None
    if result.status == "confirm":
        return f"asked to confirm (draft {result.draft.id}, same as #{applied.duplicate_of})"
    return f"draft {result.draft.id}: {what}"


async def run_admin(
    update: Update,
    context: Context,
    work: Work,
    *,
    owners_only: bool = False,
) -> Reply | None:
    author = await moderator_gate(update, context, owners_only=owners_only)
    if author is None:
        return None
    reply = perform(deps_of(context), update, author, work)
    await send(update, context, reply)
    return reply


def admin_args_or_empty(update: Update) -> str:
    try:
        return admin_args(update)
    except ArgumentTooLong:
        return ""


def submit_work(
    change_of: Callable[[Session], Change], review: bool, *, confirmed: bool = False
) -> Work:
    def work(session: Session, author: Author) -> tuple[Reply, str]:
        change = change_of(session)
        result = submit(
            session,
            change,
            author=author,
            review=review,
            confirmed=confirmed,
            preview=entry_reply,
        )
        return render_admin.outcome(result), audit_line(result)

    return work
