"""The command menus Telegram shows: everyone's, and moderators' and owners' per chat."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError
from telegram.ext import (
    Application,
)

from bot.context import deps_of, run_db
from bot.i18n import LANGUAGES, N_, SOURCE_LANGUAGE, translator
from knowledge.write.moderators import (
    moderator_ids,
)

App = Application[Any, Any, Any, Any, Any, Any]
log = logging.getLogger(__name__)


# Everyone's menu, published in each interface language (`setMyCommands` with language_code).
_PUBLIC_MENU = [
    ("ask", N_("Ask about the briefing in your own words")),
    ("timeline", N_("Dated events, oldest first")),
    ("event", N_("One event in full, by its number")),
    ("who", N_("People and organisations: /who Yermak")),
    ("sources", N_("Where the facts come from")),
    ("search", N_("Full-text search")),
    ("subscribe", N_("Digests of what changed")),
    ("unsubscribe", N_("Stop digests")),
    ("subscription", N_("Your digest settings")),
    ("language", N_("English or Ukrainian")),
    ("about", N_("What this briefing is")),
    ("help", N_("What I can do")),
]


def public_commands(language: str = SOURCE_LANGUAGE) -> list[BotCommand]:
    """Everyone's command menu in `language`."""
    _ = translator(language).gettext
    return [BotCommand(name, _(description)) for name, description in _PUBLIC_MENU]


PUBLIC_COMMANDS = public_commands()
MODERATOR_COMMANDS = [
    BotCommand("add", "Add an entry step by step"),
    BotCommand("gaps", "Questions the bot could not answer"),
    BotCommand("add_event", "DATE | TITLE | SUMMARY | SOURCE; SOURCE"),
    BotCommand("add_actor", "NAME | KIND | ROLE | ALIAS, ALIAS"),
    BotCommand("add_source", "NAME | KIND | URL"),
    BotCommand("edit", "ID | FIELD | VALUE"),
    BotCommand("retract", "ID | REASON"),
    BotCommand("history", "Every revision of an entry: /history 12"),
    BotCommand("undo", "Revert an entry's last revision: /undo 12"),
    BotCommand("export", "The knowledge base as a YAML file"),
    BotCommand("import", "Send a YAML file with this caption"),
    BotCommand("propose", "Propose entries from a briefing's text, a reply or a file"),
    BotCommand("pending", "Drafts waiting for review"),
    BotCommand("approve", "Approve a draft: /approve 3"),
    BotCommand("reject", "Reject a draft: /reject 3 | reason"),
    BotCommand("digest", "/digest preview · /digest send"),
    BotCommand("channels", "Channels receiving digests"),
    BotCommand("channel", "/channel add|remove|schedule …"),
    BotCommand("mods", "Who moderates"),
    BotCommand("modhelp", "Moderator commands in full"),
]


OWNER_COMMANDS = [
    BotCommand("mod", "/mod add USER_ID · /mod remove USER_ID"),
    BotCommand("audit", "The last admin actions: /audit 50"),
]


def _menu(owner: bool) -> list[BotCommand]:

    commands: dict[str, BotCommand] = {}
    for command in [*PUBLIC_COMMANDS, *MODERATOR_COMMANDS, *(OWNER_COMMANDS if owner else [])]:
        commands.setdefault(command.command, command)
    return list(commands.values())


async def set_menu(bot: Bot, user_id: int, *, owner: bool) -> bool:
    """The admin command menu in this user's private chat with the bot."""
    try:
        await bot.set_my_commands(_menu(owner), scope=BotCommandScopeChat(user_id))
    except TelegramError as exc:
        # Typically "chat not found": they have never opened a chat with the bot.
        log.warning("could not set the admin menu for %s: %s", user_id, exc)
        return False
    return True


async def clear_menu(bot: Bot, user_id: int) -> None:
    try:
        await bot.delete_my_commands(scope=BotCommandScopeChat(user_id))
    except TelegramError as exc:
        log.warning("could not remove the admin menu of %s: %s", user_id, exc)


async def publish_public_menus(application: App) -> None:
    """Everyone's menu: in DEFAULT_LANGUAGE for every app, and in each other language the bot
    speaks for the apps set to it."""
    default = deps_of(application).settings.default_language
    await application.bot.set_my_commands(public_commands(default))
    for language in LANGUAGES:
        if language != default:
            await application.bot.set_my_commands(
                public_commands(language), language_code=language
            )


async def publish_admin_menus(application: App) -> None:
    """Scoped command menus for owners and moderators (everyone else sees the public menu)."""
    deps = deps_of(application)
    owners = deps.settings.admin_ids
    moderators = await run_db(application, lambda session: moderator_ids(session=session))
    for user_id in sorted(owners):
        await set_menu(application.bot, user_id, owner=True)
    for user_id in sorted(set(moderators) - set(owners)):
        await set_menu(application.bot, user_id, owner=False)
