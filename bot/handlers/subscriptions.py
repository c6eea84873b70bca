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
import re
from typing import Any

from sqlmodel import Session
from telegram import Chat, Message, Update, User
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import Application, ChatMemberHandler, CommandHandler, ContextTypes

import knowledge.digests.subscriptions as subscriptions_mod
from bot.chat import ArgumentTooLong, command_text, send, too_long
from bot.context import deps_of, run_db
from bot.gates import moderator_gate
from bot.i18n import N_, explained, translator
from bot.language import chosen_language, note_choice, reader_language
from bot.presenters import digest as render_digest
from bot.presenters import subscriptions as render_settings
from bot.presenters.html import Reply, clip, esc
from knowledge.digests.schedules import SubscriptionError
from knowledge.digests.subscriptions import (
    filter_label,
    get_subscription,
    list_channels,
    parse_request,
)
from knowledge.models import Subscription, utcnow
from knowledge.write.audit import record_audit
from knowledge.write.languages import set_chat_language

log = logging.getLogger(__name__)

GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)
ADMINS = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
ADMINS_ONLY = N_("Only this group's administrators can change its digest subscription.")
_CHANNEL_REF = re.compile(r"^(?:@|https?://t\.me/)?([A-Za-z][A-Za-z0-9_]{3,31})$|^(-?\d{1,16})$")
CHANNEL_USAGE = (
    "<b>Channels</b> (moderators)\n"
    "<code>/channel add @channel</code> [schedule] — the bot must be an administrator there, "
    "allowed to post\n"
    "<code>/channel schedule -100… daily 08:00 Europe/Kyiv</code> — change its schedule\n"
    "<code>/channel remove -100…</code> — stop its digests\n"
    "/channels — the channels that get digests"
)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the subscription and channel handlers."""
    application.add_handler(CommandHandler("subscribe", subscribe))
    application.add_handler(CommandHandler("unsubscribe", unsubscribe))
    application.add_handler(CommandHandler("subscription", subscription))
    application.add_handler(CommandHandler("channels", channels))
    application.add_handler(CommandHandler("channel", channel))
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


# --- channels (moderators) --------------------------------------------------------------------


async def _moderator(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Moderators only: the shared gate refuses, logs and audits everyone else."""
    return await moderator_gate(update, context) is not None


def _audit(session: Session, user: User, command: str, outcome: str) -> None:
    record_audit(session=session, user_id=user.id, command=command, outcome=outcome)


async def channels(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/channels: the channels receiving digests (moderators)."""
    if not await _moderator(update, context):
        return
    found = await run_db(context, lambda session: list_channels(session=session))
    await send(update, context, render_digest.channels_list(found))


async def channel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/channel add|remove|schedule … (moderators)."""
    text = _arguments(update)
    if not await _moderator(update, context):
        return
    if text is None:
        await send(update, context, too_long())
        return
    words = text.split(maxsplit=2)
    action = words[0].casefold() if words else ""
    target = words[1] if len(words) > 1 else ""
    rest = words[2] if len(words) > 2 else ""
    if action not in ("add", "remove", "schedule") or not target:
        await send(update, context, Reply([CHANNEL_USAGE]))
        return
    match = _CHANNEL_REF.match(target)
    if match is None:
        await send(
            update,
            context,
            Reply(
                [
                    f"“{esc(clip(target, 40))}” is not a channel: give its @username or "
                    "its numeric id (like -1001234567890)."
                ]
            ),
        )
        return
    ref: str | int = f"@{match.group(1)}" if match.group(1) else int(match.group(2))
    if action == "add":
        reply = await _channel_add(update, context, ref, rest)
    elif action == "remove":
        reply = await _channel_remove(update, context, ref)
    else:
        reply = await _channel_schedule(update, context, ref, rest)
    await send(update, context, reply)


async def _channel_add(
    update: Update, context: ContextTypes.DEFAULT_TYPE, ref: str | int, schedule: str
) -> Reply:
    user = update.effective_user
    assert user is not None
    bot_name = f"@{context.bot.username}"
    try:
        found = await context.bot.get_chat(ref)
    except TelegramError as exc:
        log.info("getChat(%s) failed: %s", ref, exc)
        return Reply(
            [
                f"I can't find the channel {esc(ref)}. Check the @username or id, add "
                f"{esc(bot_name)} to the channel as an administrator allowed to post messages, "
                "and send the command again."
            ]
        )
    if found.type != ChatType.CHANNEL:
        return Reply(
            [
                f"{esc(clip(found.title or str(ref), 80))} is a {esc(found.type)}, not a channel. "
                "In a group, one of its administrators sends /subscribe in the group itself."
            ]
        )
    name = esc(clip(found.title or str(found.id), 80))
    try:
        me = await context.bot.get_chat_member(found.id, context.bot.id)
    except TelegramError as exc:
        log.info("getChatMember(%s, bot) failed: %s", found.id, exc)
        me = None
    if (
        me is None
        or me.status != ChatMemberStatus.ADMINISTRATOR
        or not getattr(me, "can_post_messages", False)
    ):
        return Reply(
            [
                f"I can't post in “{name}” yet. Open the channel → Administrators → Add Admin, "
                f"choose {esc(bot_name)} and allow “Post messages”; then send "
                f"<code>/channel add {esc(ref)}</code> again."
            ]
        )
    settings = deps_of(context).settings

    def work(session: Session) -> tuple[Subscription, str]:
        request = parse_request(schedule, default_timezone=settings.default_timezone)
        saved, status = subscriptions_mod.subscribe(
            session=session, chat_id=found.id, chat_type=ChatType.CHANNEL, request=request,
            now=utcnow(), title=found.title or "", username=found.username,
            created_by=user.id,
        )  # fmt: skip
        _audit(session, user, f"/channel add {ref} {schedule}", f"channel {found.id} {status}")
        return saved, filter_label(session=session, subscription=saved)

    try:
        saved, label = await run_db(context, work, write=True)
    except SubscriptionError as exc:
        return Reply([esc(str(exc))])
    lines = [
        f"📣 “{name}” (<code>{found.id}</code>) gets digests "
        f"{esc(render_settings.schedule_text(saved))}."
    ]
    if label:
        lines.append(f"Filter: {esc(label)}")
    lines.append("It starts with what changes from now on. /channels lists every channel.")
    return Reply(["\n".join(lines)])


def _find_channel(session: Any, ref: str | int) -> Subscription | None:
    if isinstance(ref, int):
        return get_subscription(session=session, chat_id=ref)
    wanted = ref.removeprefix("@").casefold()
    for candidate in list_channels(session=session):
        if (candidate.username or "").casefold() == wanted:
            return candidate
    return None


async def _channel_remove(
    update: Update, context: ContextTypes.DEFAULT_TYPE, ref: str | int
) -> Reply:
    user = update.effective_user
    assert user is not None

    def work(session: Session) -> Reply:
        found = _find_channel(session, ref)
        if found is None or not found.active or found.chat_type != ChatType.CHANNEL:
            return Reply([f"No channel {esc(ref)} gets digests. /channels lists them."])
        subscriptions_mod.unsubscribe(
            session=session, chat_id=found.chat_id, now=utcnow(), reason="removed by a moderator"
        )
        _audit(session, user, f"/channel remove {ref}", f"channel {found.chat_id} removed")
        name = found.title or str(found.chat_id)
        return Reply([f"“{esc(clip(name, 80))}” gets no more digests."])

    return await run_db(context, work, write=True)


async def _channel_schedule(
    update: Update, context: ContextTypes.DEFAULT_TYPE, ref: str | int, schedule: str
) -> Reply:
    user = update.effective_user
    assert user is not None
    if not schedule:
        return Reply(
            [
                "Say when, for example: "
                "<code>/channel schedule -1001234567890 daily 08:00 Europe/Kyiv</code>"
            ]
        )
    settings = deps_of(context).settings

    def work(session: Session) -> Reply:
        found = _find_channel(session, ref)
        if found is None or not found.active or found.chat_type != ChatType.CHANNEL:
            return Reply(
                [
                    f"No channel {esc(ref)} gets digests. Add it with "
                    f"<code>/channel add {esc(ref)}</code>."
                ]
            )
        request = parse_request(schedule, default_timezone=settings.default_timezone)
        saved, _ = subscriptions_mod.subscribe(
            session=session, chat_id=found.chat_id, chat_type=ChatType.CHANNEL,
            request=request, now=utcnow(), title=found.title, username=found.username,
        )  # fmt: skip
        label = filter_label(session=session, subscription=saved)
        _audit(session, user, f"/channel schedule {ref} {schedule}", "schedule changed")
        name = saved.title or str(saved.chat_id)
        text = render_settings.schedule_text(saved)
        filter_line = f"\nFilter: {esc(label)}" if label else ""
        return Reply([f"✅ “{esc(clip(name, 80))}” now gets digests {esc(text)}.{filter_line}"])

    try:
        return await run_db(context, work, write=True)
    except SubscriptionError as exc:
        return Reply([esc(str(exc))])
