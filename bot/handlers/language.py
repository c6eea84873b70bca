"""/language: the interface language of a private chat (its reader's own), or of a group, set
by the group's admins or the bot's moderators. Buttons, or `/language uk`; moderators set a
channel's with `/language uk @channel`."""

from __future__ import annotations

import logging
import re

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

from bot.chat import argument_or_refuse, send
from bot.context import deps_of, run_db
from bot.gates import Context, audit_action, moderator_gate
from bot.i18n import supported
from bot.language import choose_language, reader_language
from bot.menus import publish_menu
from bot.presenters.language import (
    chat_not_found,
    language_chosen,
    language_chosen_for,
    language_menu,
    language_refused,
)
from knowledge.write import roles

log = logging.getLogger(__name__)

_ADMINS = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}
_CHAT_ID = re.compile(r"-?\d{1,16}")


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
    code, _, target = text.partition(" ")
    wanted = supported(code)
    if wanted is None:
        await send(update, context, language_menu(current, unknown=code))
    elif target.strip():
        await _choose_for(update, context, wanted, target.strip(), current)
    else:
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
    if chat.type == ChatType.PRIVATE and user is not None:
        await _follow_menu(context, user.id)


async def _follow_menu(context: Context, user_id: int) -> None:
    """A moderator's own command menu follows their private chat's new language."""
    settings = deps_of(context).settings
    owners = settings.admin_ids
    if roles.is_owner(user_id, owners):
        await publish_menu(context, user_id, owner=True)
        return
    moderator = await run_db(
        context,
        lambda session: roles.is_moderator(session=session, user_id=user_id, owners=owners),
    )
    if moderator:
        await publish_menu(context, user_id, owner=False)


async def _choose_for(
    update: Update, context: Context, wanted: str, target: str, current: str
) -> None:
    """`/language uk @channel` (or a chat id): moderators set a channel's or a group's
    language from any chat, as channels can't send commands; anyone else is refused."""
    author = await moderator_gate(update, context)
    if author is None:
        return
    ref: str | int = int(target) if _CHAT_ID.fullmatch(target) else target
    try:
        chat = await context.bot.get_chat(ref)
    except TelegramError as exc:
        log.info("getChat(%s) failed: %s", ref, exc)
        await send(update, context, chat_not_found(target, current))
        return
    await choose_language(context, chat.id, wanted, author.id)
    if author.id is not None:
        await audit_action(
            deps_of(context), author.id, f"/language {wanted} {target}", f"chat {chat.id}"
        )
    name = f"@{chat.username}" if chat.username else chat.title or str(chat.id)
    await send(update, context, language_chosen_for(name, wanted, current))


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
