"""What every moderator action passes through: the rights check, one unit of work, its audit.

Rights are checked on every command, button press and step of /add, against the database, so
a removed moderator loses them at once. Every admin action is written to the audit trail,
refused ones included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine
from sqlmodel import Session
from telegram import Update
from telegram.constants import ChatType
from telegram.ext import (
    ContextTypes,
)

from bot.answers import entry_reply
from bot.chat import ArgumentTooLong, command_text, send
from bot.context import Deps, deps_of, in_thread
from bot.language import reader_language
from bot.presenters import admin as render_admin
from bot.presenters.html import Reply
from knowledge.storage.database import read_scope, session_scope
from knowledge.write import roles
from knowledge.write.audit import record_audit
from knowledge.write.curation import Author
from knowledge.write.drafts import (
    Submission,
    submit,
)
from knowledge.write.records import CurationError
from knowledge.write.requests import ChangeRequest

log = logging.getLogger(__name__)


Context = ContextTypes.DEFAULT_TYPE


ModeratorAction = Callable[[Session, Author], tuple[Reply, str]]


MAX_ADMIN_ARGUMENT = 4096  # a whole Telegram message: summaries can be long


def action_of(update: Update) -> str:
    """What the user did, for the audit trail: the message text, or the button's data."""
    if update.callback_query is not None:
        return f"button {update.callback_query.data or ''}"
    message = update.effective_message
    return (message.text or message.caption or "") if message else ""


async def audit_action(deps: Deps, user_id: int, command: str, outcome: str) -> None:
    """Record an admin action that changed nothing, in a transaction of its own."""
    await in_thread(deps.engine, _record, deps.engine, user_id, command, outcome)


def _record(engine: Engine, user_id: int, command: str, outcome: str) -> None:
    with session_scope(engine) as session:
        record_audit(session=session, user_id=user_id, command=command, outcome=outcome)


def _allowed(engine: Engine, user_id: int, owners: frozenset[int], owners_only: bool,
             action: str) -> bool:  # fmt: skip
    """Whether the user may act; a refusal is recorded in the same transaction."""
    with session_scope(engine) as session:
        if owners_only:
            allowed = roles.is_owner(user_id, owners)
        else:
            allowed = roles.is_moderator(session=session, user_id=user_id, owners=owners)
        if not allowed:
            record_audit(
                session=session,
                user_id=user_id,
                command=action,
                outcome=f"refused: not {'an owner' if owners_only else 'a moderator'}",
            )
    return allowed


async def moderator_gate(
    update: Update, context: Context, *, owners_only: bool = False
) -> Author | None:
    """The author of an admin action, or None after refusing (and recording the refusal)."""
    user = update.effective_user
    if user is None:  # channel posts: nobody to refuse, nothing to record
        return None
    deps = deps_of(context)
    allowed = await in_thread(
        deps.engine,
        _allowed,
        deps.engine,
        user.id,
        frozenset(deps.settings.admin_ids),
        owners_only,
        action_of(update),
    )
    if allowed:
        return Author(user.id, user.full_name)
    log.warning(
        "refused %r from user %s (not %s)",
        action_of(update)[:60],
        user.id,
        "an owner" if owners_only else "a moderator",
    )
    language = await reader_language(update, context)
    reply = render_admin.refusal(owners_only=owners_only, language=language)
    if update.callback_query is not None:
        await update.callback_query.answer(reply.parts[0])
    else:
        await send(update, context, reply)
    return None


async def perform(
    deps: Deps, update: Update, author: Author, work: ModeratorAction, *, language: str
) -> Reply:
    """Run one moderator action off the event loop: the change and its audit record commit
    together, or neither does. A CurationError rolls the change back and becomes a polite
    answer in the moderator's `language`; that refusal (or an unexpected error) is recorded,
    in English like the whole audit trail, in a transaction of its own."""
    return await in_thread(
        deps.engine, _perform, deps.engine, action_of(update), author, work, language
    )


def _perform(
    engine: Engine, action: str, author: Author, work: ModeratorAction, language: str
) -> Reply:
    assert author.id is not None
    try:
        with session_scope(engine) as session:
            reply, outcome = work(session, author)
            record_audit(session=session, user_id=author.id, command=action, outcome=outcome)
        return reply
    except CurationError as exc:
        _record(engine, author.id, action, f"invalid: {exc}")  # str(): the English wording
        return render_admin.problem(exc, language)
    except Exception:
        try:
            _record(engine, author.id, action, "error")
        except Exception:  # the database itself may be what failed; the first error matters
            log.warning("could not record the failed action in the audit trail", exc_info=True)
        raise


def admin_args(update: Update) -> str:
    return command_text(update, MAX_ADMIN_ARGUMENT)


def audit_line(result: Submission[Reply]) -> str:
    """The audit line for a submitted change (English, as the whole audit trail is: it is a
    record for owners, not a message; /audit shows it as written)."""
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
    work: ModeratorAction,
    *,
    owners_only: bool = False,
    language: str,
) -> Reply | None:
    """The gate, then `work` (built for the moderator's `language`) with its audit record,
    then the reply."""
    author = await moderator_gate(update, context, owners_only=owners_only)
    if author is None:
        return None
    reply = await perform(deps_of(context), update, author, work, language=language)
    await send(update, context, reply)
    return reply


def admin_args_or_empty(update: Update) -> str:
    try:
        return admin_args(update)
    except ArgumentTooLong:
        return ""


def submit_work(
    change_of: Callable[[Session], ChangeRequest],
    review: bool,
    *,
    confirmed: bool = False,
    language: str,
) -> ModeratorAction:
    """Submit a change (applied, or a draft under review); the reply is in the moderator's
    `language`, the entry's preview in the language the change writes."""

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        change = change_of(session)
        result = submit(
            session,
            change,
            author=author,
            review=review,
            confirmed=confirmed,
            preview=lambda s, entry_id: entry_reply(s, entry_id, language=change.language()),
        )
        return render_admin.outcome(result, language=language), audit_line(result)

    return work


def _is_moderator(engine: Engine, user_id: int, owners: frozenset[int]) -> bool:
    with read_scope(engine) as session:
        return roles.is_moderator(session=session, user_id=user_id, owners=owners)


async def moderator_forward(update: Update, context: Context) -> bool:
    """Whether the update is a post a moderator forwarded into a private chat with the bot.

    Such a post is offered for /propose (a button) rather than answered as a question; a
    reader's forward is a question like any text. The handler for plain text asks this first
    (bot/app.py). Only forwards cost a database look-up."""
    message = update.effective_message
    user = update.effective_user
    chat = update.effective_chat
    if message is None or message.forward_origin is None or user is None or chat is None:
        return False
    if chat.type != ChatType.PRIVATE:
        return False
    deps = deps_of(context)
    owners = frozenset(deps.settings.admin_ids)
    return await in_thread(deps.engine, _is_moderator, deps.engine, user.id, owners)
