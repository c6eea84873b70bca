"""Moderators' one-line changes: /add_event, /add_actor, /add_source, /edit, /retract, /undo."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session
from telegram import Update
from telegram.error import BadRequest

import knowledge.write.history as history_mod
from bot.answers import entry_reply
from bot.chat import ArgumentTooLong, drop_keyboard, send
from bot.commands.curation import (
    parse_add_actor,
    parse_add_event,
    parse_add_source,
    parse_edit,
    parse_entry_id,
    parse_retract,
    parse_undo,
)
from bot.context import deps_of
from bot.gates import (
    Context,
    ModeratorAction,
    admin_args,
    admin_args_or_empty,
    audit_line,
    moderator_gate,
    perform,
    run_admin,
    submit_work,
)
from bot.i18n import translator
from bot.language import reader_language
from bot.presenters import admin as render_admin
from bot.presenters import records as render_records
from bot.presenters.html import Reply
from knowledge.write.curation import Author
from knowledge.write.drafts import (
    cancel_draft,
    confirm_draft,
)
from knowledge.write.requests import ChangeRequest


async def _curate(
    update: Update, context: Context, parse: Callable[[Session, str], ChangeRequest]
) -> None:
    """The one-line commands: parse, submit (apply or draft), confirm with a preview."""
    author = await moderator_gate(update, context)
    if author is None:
        return
    deps = deps_of(context)
    language = await reader_language(update, context)
    _ = translator(language).gettext
    try:
        text = admin_args(update)
    except ArgumentTooLong:
        await send(update, context, Reply([_("That message is too long to read.")]))
        return
    work = submit_work(
        lambda session: parse(session, text), deps.settings.review_required, language=language
    )
    await send(update, context, await perform(deps, update, author, work, language=language))


async def add_event(update: Update, context: Context) -> None:
    await _curate(update, context, parse_add_event)


async def add_actor(update: Update, context: Context) -> None:
    await _curate(update, context, parse_add_actor)


async def add_source(update: Update, context: Context) -> None:
    await _curate(update, context, parse_add_source)


async def edit(update: Update, context: Context) -> None:
    await _curate(update, context, parse_edit)


async def retract(update: Update, context: Context) -> None:
    await _curate(update, context, parse_retract)


async def undo(update: Update, context: Context) -> None:
    await _curate(update, context, parse_undo)


def _history_work(entry_id: int, offset: int, language: str) -> ModeratorAction:
    def work(session: Session, _author: Author) -> tuple[Reply, str]:
        page = history_mod.history(session=session, entry_id=entry_id, offset=offset)
        return render_records.history(page, language), f"shown #{entry_id} from {offset}"

    return work


async def history(update: Update, context: Context) -> None:
    text = admin_args_or_empty(update)
    language = await reader_language(update, context)

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        entry_id = parse_entry_id(text, "history")
        return _history_work(entry_id, 0, language)(session, author)

    await run_admin(update, context, work, language=language)


async def history_button(update: Update, context: Context) -> None:
    """◀ ▶ under a history: `mh:<entry id>:<offset>`."""
    query = update.callback_query
    assert query is not None and query.data is not None
    author = await moderator_gate(update, context)
    if author is None:
        return
    _, raw_id, raw_offset = query.data.split(":")
    language = await reader_language(update, context)
    work = _history_work(int(raw_id), int(raw_offset), language)
    reply = await perform(deps_of(context), update, author, work, language=language)
    await query.answer()
    if len(reply.parts) == 1 and query.message is not None:
        try:
            await query.edit_message_text(reply.parts[0], reply_markup=reply.keyboard)
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
    await send(update, context, reply)


async def confirm_button(update: Update, context: Context) -> None:
    """`mc:y:<draft>` saves a suspected duplicate anyway; `mc:n:<draft>` drops it."""
    query = update.callback_query
    assert query is not None and query.data is not None
    author = await moderator_gate(update, context)
    if author is None:
        return
    _, answer, raw_id = query.data.split(":")
    draft_id = int(raw_id)
    review = deps_of(context).settings.review_required
    language = await reader_language(update, context)
    _ = translator(language).gettext
    answered: list[bool] = []

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        if answer == "n":
            cancel_draft(session, draft_id, user=author)
            answered.append(True)
            return Reply([_("Cancelled. Nothing was saved.")]), f"cancelled draft {draft_id}"
        result = confirm_draft(session, draft_id, user=author, review=review, preview=entry_reply)
        answered.append(True)
        return render_admin.outcome(result, language=language), audit_line(result)

    reply = await perform(deps_of(context), update, author, work, language=language)
    await query.answer()
    if answered:  # a refused or failed answer leaves the question open for its author
        await drop_keyboard(update)
    await send(update, context, reply)
