"""Helpers every handler module shares: reading arguments, replying, editing in place."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.i18n import SOURCE_LANGUAGE, number, translator
from bot.language import reader_language
from bot.presenters.html import Reply
from knowledge.language.names import clean_input

log = logging.getLogger(__name__)

MAX_ARGUMENT = 300  # characters of a subscriber's query we read; longer input gets a polite no


class ArgumentTooLong(ValueError):
    pass


def command_text(update: Update, max_length: int = MAX_ARGUMENT) -> str:
    """Everything after the command word (`/who@bot Andriy Yermak` -> `Andriy Yermak`)."""
    message = update.effective_message
    raw = (message.text or message.caption or "") if message else ""
    words = raw.split(maxsplit=1)
    rest = words[1] if len(words) > 1 else ""
    if len(rest) > max_length * 4:
        raise ArgumentTooLong
    cleaned = clean_input(rest, max_length * 2)
    if len(cleaned) > max_length:
        raise ArgumentTooLong
    return cleaned


async def argument_or_refuse(
    update: Update, context: ContextTypes.DEFAULT_TYPE, max_length: int = MAX_ARGUMENT
) -> str | None:
    """The command's argument text, or None after politely refusing an over-long one."""
    try:
        return command_text(update, max_length)
    except ArgumentTooLong:
        await send(update, context, too_long(max_length, await reader_language(update, context)))
        return None


def too_long(limit: int = MAX_ARGUMENT, language: str = SOURCE_LANGUAGE) -> Reply:
    text = translator(language).gettext(
        "That is longer than I can look up ({limit} characters at most). Please shorten it."
    )
    return Reply([text.format(limit=number(limit, language))])


async def send(update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> list[Message]:
    """Send every part of a reply to the update's chat; the keyboard goes under the last part."""
    chat = update.effective_chat
    if chat is None:
        return []
    sent = []
    thread = update.effective_message.message_thread_id if update.effective_message else None
    for index, part in enumerate(reply.parts):
        last = index == len(reply.parts) - 1
        sent.append(
            await context.bot.send_message(
                chat.id,
                part,
                parse_mode=ParseMode.HTML,
                reply_markup=reply.keyboard if last else None,
                disable_web_page_preview=True,
                message_thread_id=thread,
            )
        )
    return sent


async def edit_or_send(update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> None:
    """Answer a button press by editing its message in place (pages), or sending if it can't."""
    query = update.callback_query
    if query is None or query.message is None or len(reply.parts) != 1:
        await send(update, context, reply)
        return
    try:
        await query.edit_message_text(
            reply.parts[0],
            parse_mode=ParseMode.HTML,
            reply_markup=reply.keyboard,
            disable_web_page_preview=True,
        )
    except BadRequest as exc:
        # A double tap asks for the page already shown; Telegram says "not modified". Harmless.
        if "not modified" not in str(exc).lower():
            raise


async def drop_keyboard(update: Update) -> None:
    """Take the buttons off a question once it is answered, so it can't be answered twice."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        await query.edit_message_reply_markup(None)
    except BadRequest as exc:
        log.debug("could not remove the keyboard: %s", exc)
