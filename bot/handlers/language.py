"""/language: the interface language of a private chat (its reader's own), or of a group, set
by the group's admins or the bot's moderators. Buttons, or `/language uk`."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

from bot.chat import argument_or_refuse, send
from bot.context import deps_of, run_db
from bot.gates import Context
from bot.i18n import supported
from bot.language import choose_language, reader_language
from bot.presenters.language import language_chosen, language_menu, language_refused
from knowledge.write import roles

log = logging.getLogger(__name__)

_ADMINS = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}


async def language(update: Update, context: Context) -> None:
    """/language shows the choice with buttons; `/language uk` sets it."""
    text = await argument_or_refuse(update, context)
    chat = update.effective_chat
    if text is None or chat is None:
        return
    current = await reader_language(update, context)
    if not text:
        await send(update, context, language_menu(current))
        return
    wanted = supported(text)
    if wanted is None:
        await send(update, context, language_menu(current, unknown=text))
        return
    await _choose(update, context, wanted, current)


async def language_button(update: Update, context: Context) -> None:
    """`lang:<code>` under /language."""
    query = update.callback_query
    assert query is not None and query.data is not None
    wanted = supported(query.data.partition(":")[2])
    current = await reader_language(update, context)
    if wanted is None:
        await query.answer()
        return
    await _choose(update, context, wanted, current)


async def _choose(update: Update, context: Context, wanted: str, current: str) -> None:
    chat = update.effective_chat
    user = update.effective_user
    assert chat is not None
    if not await _may_choose(update, context):
        refusal = language_refused(current)
        if update.callback_query is not None:
            await update.callback_query.answer(refusal.parts[0])
        else:
            await send(update, context, refusal)
        return
    await choose_language(context, chat.id, wanted, user.id if user else None)
    if update.callback_query is not None:
        await update.callback_query.answer()
    await send(update, context, language_chosen(wanted, group=chat.type != ChatType.PRIVATE))


async def _may_choose(update: Update, context: Context) -> bool:
    """Anyone in their private chat; in a group, its admins and the bot's moderators."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    if user is None:
        return False
    owners = frozenset(deps_of(context).settings.admin_ids)
    moderator = await run_db(
        context,
        lambda session: roles.is_moderator(session=session, user_id=user.id, owners=owners),
    )
    if moderator:
        return True
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        log.warning("could not check %s's status in chat %s: %s", user.id, chat.id, exc)
        return False
    return member.status in _ADMINS
