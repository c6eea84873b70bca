"""The command menus Telegram shows: everyone's, and moderators' and owners' per chat."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ContextTypes,
)

from bot.context import deps_of, run_db
from bot.i18n import LANGUAGES, N_, SOURCE_LANGUAGE, translator
from bot.language import chosen_language
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


# Moderators' and owners' commands, above everyone's in their own chats' menus.
_MODERATOR_MENU = [
    ("add", N_("Add an entry step by step")),
    ("gaps", N_("Questions the bot could not answer")),
    ("add_event", N_("DATE | TITLE | SUMMARY | SOURCE; SOURCE")),
    ("add_actor", N_("NAME | KIND | ROLE | ALIAS, ALIAS")),
    ("add_source", N_("NAME | KIND | URL")),
    ("edit", N_("ID | FIELD | VALUE")),
    ("retract", N_("ID | REASON")),
    ("history", N_("Every revision of an entry: /history 12")),
    ("undo", N_("Revert an entry's last revision: /undo 12")),
    ("export", N_("The knowledge base as a YAML file")),
    ("import", N_("Send a YAML file with this caption")),
    ("propose", N_("Propose entries from a briefing's text, a reply or a file")),
    ("pending", N_("Drafts waiting for review")),
    ("approve", N_("Approve a draft: /approve 3")),
    ("reject", N_("Reject a draft: /reject 3 | reason")),
    ("digest", N_("/digest preview · /digest send")),
    ("channels", N_("Channels receiving digests")),
    ("channel", N_("/channel add|remove|schedule …")),
    ("mods", N_("Who moderates")),
    ("modhelp", N_("Moderator commands in full")),
]
_OWNER_MENU = [
    ("mod", N_("/mod add USER_ID · /mod remove USER_ID")),
    ("audit", N_("The last admin actions: /audit 50")),
]


def _commands(menu: list[tuple[str, str]], language: str) -> list[BotCommand]:
    _ = translator(language).gettext
    return [BotCommand(name, _(description)) for name, description in menu]


def moderator_commands(language: str = SOURCE_LANGUAGE) -> list[BotCommand]:
    """What moderators' menus add to everyone's, in `language`."""
    return _commands(_MODERATOR_MENU, language)


def owner_commands(language: str = SOURCE_LANGUAGE) -> list[BotCommand]:
    """What owners' menus add to moderators', in `language`."""
    return _commands(_OWNER_MENU, language)


def _menu(owner: bool, language: str = SOURCE_LANGUAGE) -> list[BotCommand]:
    commands: dict[str, BotCommand] = {}
    for command in [
        *public_commands(language),
        *moderator_commands(language),
        *(owner_commands(language) if owner else []),
    ]:
        commands.setdefault(command.command, command)
    return list(commands.values())


def _variants(default: str) -> list[str | None]:
    """The menus a chat scope gets: one for every app (no language_code), one per other
    language the bot speaks, as everyone's menu is published."""
    return [None, *(language for language in LANGUAGES if language != default)]


async def set_menu(
    bot: Bot, user_id: int, *, owner: bool, chosen: str | None, default: str
) -> bool:
    """The admin command menu in this user's private chat with the bot, in the language that
    chat is answered in: its /language choice for every app, else the app's language (each
    language the bot speaks), else `default`."""
    try:
        for code in _variants(default):
            language = chosen or code or default
            await bot.set_my_commands(
                _menu(owner, language), scope=BotCommandScopeChat(user_id), language_code=code
            )
    except TelegramError as exc:
        # Typically "chat not found": they have never opened a chat with the bot.
        log.warning("could not set the admin menu for %s: %s", user_id, exc)
        return False
    return True


async def clear_menu(bot: Bot, user_id: int, default: str) -> None:
    try:
        for code in _variants(default):
            await bot.delete_my_commands(scope=BotCommandScopeChat(user_id), language_code=code)
    except TelegramError as exc:
        log.warning("could not remove the admin menu of %s: %s", user_id, exc)


async def publish_menu(
    context: ContextTypes.DEFAULT_TYPE | App, user_id: int, *, owner: bool
) -> bool:
    """`set_menu` with the user's private chat's language choice and DEFAULT_LANGUAGE."""
    chosen = await chosen_language(context, user_id)
    default = deps_of(context).settings.default_language
    return await set_menu(context.bot, user_id, owner=owner, chosen=chosen, default=default)


async def withdraw_menu(context: ContextTypes.DEFAULT_TYPE | App, user_id: int) -> None:
    await clear_menu(context.bot, user_id, deps_of(context).settings.default_language)


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
        await publish_menu(application, user_id, owner=True)
    for user_id in sorted(set(moderators) - set(owners)):
        await publish_menu(application, user_id, owner=False)
