"""Owners' and moderators' housekeeping: /mods, /mod, /audit, /modhelp."""

from __future__ import annotations

from sqlmodel import Session
from telegram import Update

from bot.chat import send
from bot.commands.curation import (
    UsageError,
    parse_audit_count,
)
from bot.context import deps_of, run_db
from bot.gates import Context, admin_args_or_empty, moderator_gate, run_admin
from bot.i18n import N_, translator
from bot.language import reader_language
from bot.menus import publish_menu, withdraw_menu
from bot.presenters import admin as render_admin
from bot.presenters import records as render_records
from bot.presenters.html import Reply, esc
from knowledge.write import roles
from knowledge.write.audit import recent_audit
from knowledge.write.curation import Author
from knowledge.write.moderators import (
    add_moderator,
    list_moderators,
    remove_moderator,
)


async def mods(update: Update, context: Context) -> None:
    owners = deps_of(context).settings.admin_ids
    language = await reader_language(update, context)

    def work(session: Session, _author: Author) -> tuple[Reply, str]:
        listed = list_moderators(session=session)
        reply = render_records.moderators(owners, listed, language)
        return reply, f"listed {len(listed)} moderators"

    await run_admin(update, context, work, language=language)


def _target(update: Update, args: list[str]) -> tuple[int, str] | None:
    """Whom `/mod add|remove` means: a user id argument, or the author of the replied message."""
    if len(args) >= 2:
        raw = args[1].lstrip("#")
        if raw.isdigit() and 0 < int(raw) < 10**15:
            return int(raw), ""
        return None
    message = update.effective_message
    replied = message.reply_to_message if message else None
    if replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
        return replied.from_user.id, replied.from_user.full_name
    return None


async def mod(update: Update, context: Context) -> None:
    """/mod add <user id> · /mod remove <user id> (or in reply to the user's message)."""
    deps = deps_of(context)
    owners = deps.settings.admin_ids
    args = admin_args_or_empty(update).split()
    sub = args[0].lower() if args else ""
    target = _target(update, args)
    language = await reader_language(update, context)
    _ = translator(language).gettext
    changed: list[tuple[int, bool]] = []

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        if sub not in ("add", "remove") or target is None:
            raise UsageError(N_("say add or remove, and whom"), "mod")
        user_id, name = target
        if roles.is_owner(user_id, owners):
            text = _(
                "{user} is an owner (ADMIN_IDS); owners are set in the configuration, not here."
            )
            return Reply([text.format(user=user_id)]), f"{sub} {user_id}: is an owner"
        if sub == "add":
            assert author.id is not None
            if not add_moderator(session=session, user_id=user_id, added_by=author.id, name=name):
                text = _("{user} is already a moderator.").format(user=user_id)
                return Reply([text]), f"add {user_id}: already"
            changed.append((user_id, True))
            who = f"{user_id} ({esc(name)})" if name else str(user_id)
            text = _(
                "✅ {user} is now a moderator. Their command menu shows the "
                "moderator commands; /modhelp explains them."
            )
            return Reply([text.format(user=who)]), f"added {user_id}"
        if not remove_moderator(session=session, user_id=user_id):
            text = _("{user} is not a moderator.").format(user=user_id)
            return Reply([text]), f"remove {user_id}: not one"
        changed.append((user_id, False))
        text = _("✅ {user} is no longer a moderator.").format(user=user_id)
        return Reply([text]), f"removed {user_id}"

    if await run_admin(update, context, work, owners_only=True, language=language) is None:
        return
    for user_id, added in changed:
        if added:
            await publish_menu(context, user_id, owner=False)
        else:
            await withdraw_menu(context, user_id)


async def audit(update: Update, context: Context) -> None:
    text = admin_args_or_empty(update)
    language = await reader_language(update, context)

    def work(session: Session, _author: Author) -> tuple[Reply, str]:
        count = parse_audit_count(text)
        records = recent_audit(session=session, limit=count)
        return render_records.audit(records, language), f"listed {len(records)} records"

    await run_admin(update, context, work, owners_only=True, language=language)


async def modhelp(update: Update, context: Context) -> None:
    author = await moderator_gate(update, context)
    if author is None:
        return
    settings = deps_of(context).settings
    owner = roles.is_owner(author.id, settings.admin_ids)
    language = await reader_language(update, context)
    reply = render_admin.help_reply(
        owner=owner, review=settings.review_required, language=language
    )
    await send(update, context, reply)


async def help_addition(update: Update, context: Context) -> None:
    """After the public /help (group 1): moderators also get their own commands."""
    user = update.effective_user
    if user is None:
        return
    deps = deps_of(context)
    allowed = await run_db(
        context,
        lambda session: roles.is_moderator(
            session=session, user_id=user.id, owners=deps.settings.admin_ids
        ),
    )
    if allowed:
        owner = roles.is_owner(user.id, deps.settings.admin_ids)
        language = await reader_language(update, context)
        reply = render_admin.help_reply(
            owner=owner, review=deps.settings.review_required, language=language
        )
        await send(update, context, reply)
