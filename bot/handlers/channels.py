"""Moderators' channels: /channels lists those receiving digests; /channel add, remove and
schedule one. Replies in the moderator's language; the audit trail stays English."""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlmodel import Session
from telegram import Update, User
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes

import knowledge.digests.subscriptions as subscriptions_mod
from bot.chat import ArgumentTooLong, command_text, send, too_long
from bot.context import deps_of, run_db
from bot.gates import moderator_gate
from bot.i18n import N_, explained, translator
from bot.language import reader_language
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

log = logging.getLogger(__name__)

_CHANNEL_REF = re.compile(r"^(?:@|https?://t\.me/)?([A-Za-z][A-Za-z0-9_]{3,31})$|^(-?\d{1,16})$")
CHANNEL_USAGE = N_(
    "<b>Channels</b> (moderators)\n"
    "<code>/channel add @channel</code> [schedule] — the bot must be an administrator there, "
    "allowed to post\n"
    "<code>/channel schedule -100… daily 08:00 Europe/Kyiv</code> — change its schedule\n"
    "<code>/channel remove -100…</code> — stop its digests\n"
    "/channels — the channels that get digests"
)
NO_CHANNEL = N_("No channel {channel} gets digests. /channels lists them.")


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("channels", channels))
    application.add_handler(CommandHandler("channel", channel))


def _audit(session: Session, user: User, command: str, outcome: str) -> None:
    record_audit(session=session, user_id=user.id, command=command, outcome=outcome)


async def channels(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/channels: the channels receiving digests (moderators)."""
    if await moderator_gate(update, context) is None:
        return
    language = await reader_language(update, context)
    found = await run_db(context, lambda session: list_channels(session=session))
    await send(update, context, render_digest.channels_list(found, language))


async def channel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/channel add|remove|schedule … (moderators)."""
    try:
        text: str | None = command_text(update)
    except ArgumentTooLong:
        text = None
    if await moderator_gate(update, context) is None:
        return
    language = await reader_language(update, context)
    _ = translator(language).gettext
    if text is None:
        await send(update, context, too_long(language=language))
        return
    words = text.split(maxsplit=2)
    action = words[0].casefold() if words else ""
    target = words[1] if len(words) > 1 else ""
    rest = words[2] if len(words) > 2 else ""
    if action not in ("add", "remove", "schedule") or not target:
        await send(update, context, Reply([_(CHANNEL_USAGE)]))
        return
    match = _CHANNEL_REF.match(target)
    if match is None:
        not_one = _(
            "“{target}” is not a channel: give its @username or "
            "its numeric id (like -1001234567890)."
        )
        await send(update, context, Reply([not_one.format(target=esc(clip(target, 40)))]))
        return
    ref: str | int = f"@{match.group(1)}" if match.group(1) else int(match.group(2))
    if action == "add":
        reply = await _channel_add(update, context, ref, rest, language)
    elif action == "remove":
        reply = await _channel_remove(update, context, ref, language)
    else:
        reply = await _channel_schedule(update, context, ref, rest, language)
    await send(update, context, reply)


async def _channel_add(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    ref: str | int,
    schedule: str,
    language: str,
) -> Reply:
    user = update.effective_user
    assert user is not None
    _ = translator(language).gettext
    bot_name = f"@{context.bot.username}"
    try:
        found = await context.bot.get_chat(ref)
    except TelegramError as exc:
        log.info("getChat(%s) failed: %s", ref, exc)
        text = _(
            "I can't find the channel {channel}. Check the @username or id, add "
            "{bot} to the channel as an administrator allowed to post messages, "
            "and send the command again."
        )
        return Reply([text.format(channel=esc(ref), bot=esc(bot_name))])
    if found.type != ChatType.CHANNEL:
        text = _(
            "{name} is a {type}, not a channel. "
            "In a group, one of its administrators sends /subscribe in the group itself."
        )
        return Reply(
            [text.format(name=esc(clip(found.title or str(ref), 80)), type=esc(found.type))]
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
        text = _(
            "I can't post in “{name}” yet. Open the channel → Administrators → Add Admin, "
            "choose {bot} and allow “Post messages”; then send "
            "<code>/channel add {channel}</code> again."
        )
        return Reply([text.format(name=name, bot=esc(bot_name), channel=esc(ref))])
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
        return Reply([esc(explained(exc, language))])
    lines = [
        _("📣 “{name}” (<code>{id}</code>) gets digests {schedule}.").format(
            name=name, id=found.id, schedule=esc(render_settings.schedule_text(saved, language))
        )
    ]
    if label:
        lines.append(_("Filter: {filter}").format(filter=esc(label)))
    lines.append(_("It starts with what changes from now on. /channels lists every channel."))
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
    update: Update, context: ContextTypes.DEFAULT_TYPE, ref: str | int, language: str
) -> Reply:
    user = update.effective_user
    assert user is not None
    _ = translator(language).gettext

    def work(session: Session) -> Reply:
        found = _find_channel(session, ref)
        if found is None or not found.active or found.chat_type != ChatType.CHANNEL:
            return Reply([_(NO_CHANNEL).format(channel=esc(ref))])
        subscriptions_mod.unsubscribe(
            session=session, chat_id=found.chat_id, now=utcnow(), reason="removed by a moderator"
        )
        _audit(session, user, f"/channel remove {ref}", f"channel {found.chat_id} removed")
        name = found.title or str(found.chat_id)
        return Reply([_("“{name}” gets no more digests.").format(name=esc(clip(name, 80)))])

    return await run_db(context, work, write=True)


async def _channel_schedule(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    ref: str | int,
    schedule: str,
    language: str,
) -> Reply:
    user = update.effective_user
    assert user is not None
    _ = translator(language).gettext
    if not schedule:
        return Reply(
            [
                _(
                    "Say when, for example: "
                    "<code>/channel schedule -1001234567890 daily 08:00 Europe/Kyiv</code>"
                )
            ]
        )
    settings = deps_of(context).settings

    def work(session: Session) -> Reply:
        found = _find_channel(session, ref)
        if found is None or not found.active or found.chat_type != ChatType.CHANNEL:
            text = _(
                "No channel {channel} gets digests. Add it with "
                "<code>/channel add {channel}</code>."
            )
            return Reply([text.format(channel=esc(ref))])
        request = parse_request(schedule, default_timezone=settings.default_timezone)
        saved, _status = subscriptions_mod.subscribe(
            session=session, chat_id=found.chat_id, chat_type=ChatType.CHANNEL,
            request=request, now=utcnow(), title=found.title, username=found.username,
        )  # fmt: skip
        label = filter_label(session=session, subscription=saved)
        _audit(session, user, f"/channel schedule {ref} {schedule}", "schedule changed")
        name = saved.title or str(saved.chat_id)
        text = render_settings.schedule_text(saved, language)
        filter_line = "\n" + _("Filter: {filter}").format(filter=esc(label)) if label else ""
        done = _("✅ “{name}” now gets digests {schedule}.").format(
            name=esc(clip(name, 80)), schedule=esc(text)
        )
        return Reply([f"{done}{filter_line}"])

    try:
        return await run_db(context, work, write=True)
    except SubscriptionError as exc:
        return Reply([esc(explained(exc, language))])
