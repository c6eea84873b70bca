"""The guided /add: one question at a time, each answer checked, a preview, then save."""

from __future__ import annotations

import warnings
from typing import Any

from sqlmodel import Session
from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.answers import entry_reply
from bot.chat import drop_keyboard, send
from bot.commands.guided import GUIDED_STEPS, check_step, guided_change
from bot.context import deps_of, run_db
from bot.gates import (
    MAX_ADMIN_ARGUMENT,
    Context,
    action_of,
    admin_args_or_empty,
    audit_action,
    moderator_gate,
    perform,
    submit_work,
)
from bot.i18n import N_, explained, translator
from bot.language import reader_language
from bot.presenters import admin as render_admin
from bot.presenters import guided as render_guided
from bot.presenters.html import Reply
from knowledge.language.names import clean_input
from knowledge.models import EntryKind
from knowledge.write.curation import Author
from knowledge.write.records import CurationError
from knowledge.write.requests import trial
from knowledge.write.resolve import UnknownSource

ADD_FLOW_TIMEOUT = 600  # seconds of silence after which a guided /add is dropped


FLOW_KEY = "add_flows"  # user_data[FLOW_KEY][chat_id] -> the answers of a guided /add so far


CHOOSE_KIND, ANSWER, CONFIRM = range(3)
ENDED = N_("This /add has ended; send /add to start again.")


def _flow(context: Context, chat_id: int) -> dict[str, Any] | None:
    flows = context.user_data.get(FLOW_KEY) if context.user_data is not None else None
    return flows.get(chat_id) if flows else None


def _start_flow(context: Context, chat_id: int) -> dict[str, Any]:
    assert context.user_data is not None
    flow: dict[str, Any] = {"kind": None, "values": {}, "step": 0}
    context.user_data.setdefault(FLOW_KEY, {})[chat_id] = flow
    return flow


def _end_flow(context: Context, chat_id: int) -> int:
    if context.user_data is not None:
        context.user_data.get(FLOW_KEY, {}).pop(chat_id, None)
    return ConversationHandler.END


def _chat_id(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


async def add_start(update: Update, context: Context) -> int:
    """/add with no arguments: kind (buttons) → each field → preview → Confirm / Cancel."""
    author = await moderator_gate(update, context)
    if author is None:
        return _end_flow(context, _chat_id(update))
    assert author.id is not None
    deps = deps_of(context)
    language = await reader_language(update, context)
    if admin_args_or_empty(update):
        await audit_action(deps, author.id, action_of(update), "usage: /add takes no arguments")
        text = translator(language).gettext(
            "/add takes no arguments: it asks for each field. For one line, use "
            "<code>/add_event</code>, <code>/add_actor</code> or <code>/add_source</code> "
            "(/modhelp)."
        )
        await send(update, context, Reply([text]))
        return _end_flow(context, _chat_id(update))
    _start_flow(context, _chat_id(update))
    await audit_action(deps, author.id, action_of(update), "started the guided flow")
    await send(update, context, render_guided.choose_kind(language))
    return CHOOSE_KIND


async def _begin_kind(update: Update, context: Context, kind: str) -> int:
    flow = _flow(context, _chat_id(update)) or _start_flow(context, _chat_id(update))
    flow.update(kind=kind, values={}, step=0)
    steps = GUIDED_STEPS[kind]
    language = await reader_language(update, context)
    await send(update, context, render_guided.ask(steps[0], 1, len(steps), language=language))
    return ANSWER


async def add_kind_button(update: Update, context: Context) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    if await moderator_gate(update, context) is None:
        return _end_flow(context, _chat_id(update))
    await query.answer()
    await drop_keyboard(update)
    return await _begin_kind(update, context, query.data.rsplit(":", 1)[1])


async def add_kind_text(update: Update, context: Context) -> int:
    if await moderator_gate(update, context) is None:
        return _end_flow(context, _chat_id(update))
    message = update.effective_message
    kind = (message.text or "").strip().lower() if message else ""
    if kind not in (EntryKind.EVENT, EntryKind.ACTOR, EntryKind.SOURCE):
        await send(
            update, context, render_guided.choose_kind(await reader_language(update, context))
        )
        return CHOOSE_KIND
    return await _begin_kind(update, context, kind)


async def add_answer(update: Update, context: Context) -> int:
    """One typed answer: validated at once; a bad one is asked again, a good one moves on."""
    author = await moderator_gate(update, context)
    chat_id = _chat_id(update)
    if author is None:
        return _end_flow(context, chat_id)
    flow = _flow(context, chat_id)
    message = update.effective_message
    language = await reader_language(update, context)
    if flow is None or flow["kind"] is None or message is None:
        await send(update, context, Reply([translator(language).gettext(ENDED)]))
        return _end_flow(context, chat_id)
    kind: str = flow["kind"]
    steps = GUIDED_STEPS[kind]
    step = steps[flow["step"]]
    text = clean_input(message.text or "", MAX_ADMIN_ARGUMENT)
    try:
        value = await run_db(context, lambda session: check_step(session, kind, step, text))
    except CurationError as exc:
        said = explained(exc, language)
        reply = render_guided.ask(step, flow["step"] + 1, len(steps), said, language)
        if isinstance(exc, UnknownSource):
            reply = Reply([*render_admin.problem(exc, language).parts, *reply.parts])
        await send(update, context, reply)
        return ANSWER
    flow["values"][step.field] = value
    flow["step"] += 1
    if flow["step"] < len(steps):
        nxt = steps[flow["step"]]
        reply = render_guided.ask(nxt, flow["step"] + 1, len(steps), language=language)
        await send(update, context, reply)
        return ANSWER
    return await _preview(update, context, author, flow, language)


async def _preview(
    update: Update, context: Context, author: Author, flow: dict[str, Any], language: str
) -> int:
    change = guided_change(flow["kind"], flow["values"])

    def tried(session: Session) -> tuple[Reply, int | None]:
        with trial(session, change, author=author) as applied:
            assert applied.entry_id is not None
            card = entry_reply(session, applied.entry_id)
        session.rollback()  # nothing of the trial may outlive the preview
        return card, applied.duplicate_of

    try:
        card, duplicate = await run_db(context, tried, write=True)
    except CurationError as exc:
        await send(update, context, render_admin.problem(exc, language))
        again = translator(language).gettext("Send /add to start again.")
        await send(update, context, Reply([again]))
        return _end_flow(context, _chat_id(update))
    await send(update, context, render_guided.guided_preview(card, duplicate, language))
    return CONFIRM


async def add_confirm(update: Update, context: Context) -> int:
    query = update.callback_query
    assert query is not None
    chat_id = _chat_id(update)
    author = await moderator_gate(update, context)
    if author is None:
        return _end_flow(context, chat_id)
    await query.answer()
    await drop_keyboard(update)
    flow = _flow(context, chat_id)
    language = await reader_language(update, context)
    if flow is None or flow["kind"] is None:
        await send(update, context, Reply([translator(language).gettext(ENDED)]))
        return _end_flow(context, chat_id)
    deps = deps_of(context)
    change = guided_change(flow["kind"], flow["values"])
    # The moderator saw any duplicate warning in the preview: confirming means "save anyway".
    work = submit_work(
        lambda _s: change, deps.settings.review_required, confirmed=True, language=language
    )
    await send(update, context, await perform(deps, update, author, work, language=language))
    return _end_flow(context, chat_id)


async def add_cancel(update: Update, context: Context) -> int:
    """/cancel or ✖ at any step: drop the answers; nothing was written."""
    query = update.callback_query
    if query is not None:
        await query.answer()
        await drop_keyboard(update)
    user = update.effective_user
    if user is not None:
        await audit_action(
            deps_of(context), user.id, action_of(update), "cancelled the guided flow"
        )
    cancelled = translator(await reader_language(update, context)).gettext(
        "Cancelled. Nothing was saved."
    )
    await send(update, context, Reply([cancelled]))
    return _end_flow(context, _chat_id(update))


async def add_timeout(update: Update, context: Context) -> None:
    """Ten minutes without an answer: say so and forget the answers (nothing was written)."""
    chat = update.effective_chat
    user = update.effective_user
    if chat is None:
        return
    _end_flow(context, chat.id)
    if user is not None:
        await audit_action(
            deps_of(context),
            user.id,
            "/add (timed out)",
            f"expired after {ADD_FLOW_TIMEOUT // 60} minutes",
        )
    minutes = ADD_FLOW_TIMEOUT // 60
    text = translator(await reader_language(update, context)).ngettext(
        "⌛ The /add flow expired after {minutes} minute without an answer. Nothing was "
        "saved; send /add to start again.",
        "⌛ The /add flow expired after {minutes} minutes without an answer. Nothing was "
        "saved; send /add to start again.",
        minutes,
    )
    await context.bot.send_message(chat.id, text.format(minutes=minutes))


async def nothing_to_cancel(update: Update, context: Context) -> None:
    """/cancel outside /add: anyone may send it, so it answers in the reader's language."""
    _ = translator(await reader_language(update, context)).gettext
    await send(update, context, Reply([_("There is nothing to cancel.")]))


async def stale_add_button(update: Update, context: Context) -> None:
    if update.callback_query is not None:
        ended = translator(await reader_language(update, context)).gettext(ENDED)
        await update.callback_query.answer(ended)


def add_conversation() -> ConversationHandler[Any]:
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # Buttons belong to the moderator's conversation in this chat, not to one message:
        # per_message=False is what we want, so PTB's reminder about it is noise here.
        warnings.filterwarnings("ignore", message=".*per_message=False.*", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[CommandHandler("add", add_start)],
            states={
                CHOOSE_KIND: [
                    CallbackQueryHandler(add_kind_button, pattern=r"^add:k:(event|actor|source)$"),
                    MessageHandler(text, add_kind_text),
                ],
                ANSWER: [MessageHandler(text, add_answer)],
                CONFIRM: [CallbackQueryHandler(add_confirm, pattern=r"^add:ok$")],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, add_timeout)],
            },
            fallbacks=[
                CommandHandler("cancel", add_cancel),
                CallbackQueryHandler(add_cancel, pattern=r"^add:no$"),
            ],
            allow_reentry=True,
            conversation_timeout=ADD_FLOW_TIMEOUT,
            name="add_flow",
        )
