"""Subscribers' digest settings: /subscribe, /unsubscribe, /subscription, and channels.

In groups only the group's administrators (asked of Telegram with getChatMember on every
command, so a demoted admin loses the right at once) may change the group's subscription;
anyone may look at it. Channels can't send commands, so moderators manage them from any chat:
`/channel add` checks with getChat / getChatMember that the bot may post there.

When Telegram reports that the bot itself was blocked, removed from a group, or may no longer
post in a channel (a `my_chat_member` update), that chat's digests stop at once, instead of at
the next delivery's 403.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session
from telegram import Chat, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import Application, ChatMemberHandler, CommandHandler, ContextTypes

import knowledge.digests.subscriptions as subscriptions_mod
from bot.chat import ArgumentTooLong, command_text, send, too_long
from bot.context import deps_of, run_db
from bot.i18n import N_, explained, translator
from bot.language import chosen_language, note_choice, reader_language
from bot.presenters import subscriptions as render_settings
from bot.presenters.html import Reply, esc
from knowledge.digests.schedules import SubscriptionError
from knowledge.digests.subscriptions import (
    filter_label,
    get_subscription,
    parse_request,
)
from knowledge.models import utcnow
from knowledge.write.languages import set_chat_language

log = logging.getLogger(__name__)

GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)
ADMINS = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
ADMINS_ONLY = N_("Only this group's administrators can change its digest subscription.")


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the subscription handlers (channels: bot/handlers/channels.py)."""
    application.add_handler(CommandHandler("subscribe", subscribe))
    application.add_handler(CommandHandler("unsubscribe", unsubscribe))
    application.add_handler(CommandHandler("subscription", subscription))
    application.add_handler(ChatMemberHandler(bot_membership, ChatMemberHandler.MY_CHAT_MEMBER))


GONE = (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)


async def bot_membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The bot's own membership changed: stop digests to a chat it can no longer reach."""
    change = update.my_chat_member
    if change is None:
        return
    member = change.new_chat_member
    if member.status in GONE:
        reason = (
            "the bot was blocked"
            if change.chat.type == ChatType.PRIVATE
            else "the bot was removed"
        )
    elif change.chat.type == ChatType.CHANNEL and not (
        member.status == ChatMemberStatus.ADMINISTRATOR
        and getattr(member, "can_post_messages", False)
    ):
        reason = "the bot may no longer post in the channel"
    else:
        return  # added, promoted, or a change that leaves it able to post
    ended = await run_db(
        context,
        lambda session: subscriptions_mod.unsubscribe(
            session=session, chat_id=change.chat.id, now=utcnow(), reason=reason
        ),
        write=True,
    )
    if ended:
        log.info("digests to chat %s stopped: %s", change.chat.id, reason)


async def _may_manage(context: ContextTypes.DEFAULT_TYPE, chat: Chat, message: Message) -> bool:
    """In a group, is the sender one of its administrators? Private chats: always."""
    if chat.type not in GROUPS:
        return True
    if message.sender_chat is not None and message.sender_chat.id == chat.id:
        return True  # an anonymous administrator, speaking as the group itself
    user = message.from_user
    if user is None:
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        log.warning("getChatMember(%s, %s) failed: %s", chat.id, user.id, exc)
        return False
    return member.status in ADMINS


def _arguments(update: Update) -> str | None:
    try:
        return command_text(update)
    except ArgumentTooLong:
        return None


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/subscribe [daily HH:MM [Area/City] | weekly <day> HH:MM [Area/City] | instant]
    [topic=<topic> | actor=<name>]."""
    chat, message, user = update.effective_chat, update.effective_message, update.effective_user
    if chat is None or message is None:
        return
    language = await reader_language(update, context)
    text = _arguments(update)
    if text is None:
        await send(update, context, too_long(language=language))
        return
    if not await _may_manage(context, chat, message):
        await send(update, context, Reply([esc(translator(language).gettext(ADMINS_ONLY))]))
        return
    settings = deps_of(context).settings
    private = chat.type == ChatType.PRIVATE
    # A reader who never chose a language gets digests in the one their app is in: it is
    # remembered when they subscribe, as digests go out with no update to read it from.
    remember = (
        private
        and language != settings.default_language
        and await chosen_language(context, chat.id) is None
    )

    def work(session: Session) -> Reply:
        existing = get_subscription(session=session, chat_id=chat.id)
        if not text and existing is not None and existing.active:
            label = filter_label(session=session, subscription=existing)
            return render_settings.subscription_card(
                existing, label, private=private, language=language
            )
        request = parse_request(text, default_timezone=settings.default_timezone)
        found, status = subscriptions_mod.subscribe(
            session=session, chat_id=chat.id, chat_type=chat.type, request=request,
            now=utcnow(), title=chat.title or "", username=chat.username,
            created_by=user.id if user else None,
        )  # fmt: skip
        if remember:
            set_chat_language(
                session=session,
                chat_id=chat.id,
                language=language,
                set_by=user.id if user else None,
            )
        label = filter_label(session=session, subscription=found)
        return render_settings.subscribed(found, label, status, language)

    try:
        reply = await run_db(context, work, write=True)
    except SubscriptionError as exc:
        reply = Reply([esc(explained(exc, language))])
    else:
        if remember:
            note_choice(context, chat.id, language)
    await send(update, context, reply)


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    language = await reader_language(update, context)
    if not await _may_manage(context, chat, message):
        await send(update, context, Reply([esc(translator(language).gettext(ADMINS_ONLY))]))
        return
    stopped = await run_db(
        context,
        lambda session: subscriptions_mod.unsubscribe(
            session=session, chat_id=chat.id, now=utcnow()
        ),
        write=True,
    )
    if stopped:
        reply = render_settings.unsubscribed(language)
    else:
        reply = render_settings.not_subscribed(
            private=chat.type == ChatType.PRIVATE, language=language
        )
    await send(update, context, reply)


async def subscription(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/subscription: this chat's digest settings."""
    chat = update.effective_chat
    if chat is None:
        return

    language = await reader_language(update, context)
    private = chat.type == ChatType.PRIVATE

    def work(session: Session) -> Reply:
        found = get_subscription(session=session, chat_id=chat.id)
        label = filter_label(session=session, subscription=found) if found else ""
        return render_settings.subscription_card(found, label, private=private, language=language)

    await send(update, context, await run_db(context, work))
