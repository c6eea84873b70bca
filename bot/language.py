"""The language a chat is answered in: its /language choice, else Telegram's language_code,
else DEFAULT_LANGUAGE.

A private chat's id is its user's, so a reader's own choice is their private chat's. Choices
are read from the database off the event loop and kept in memory for a minute (another
replica's change shows within that), and a choice made here is seen at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from functools import partial
from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes

from bot.context import deps_of, run_db
from bot.i18n import supported
from knowledge.write.languages import chat_language, set_chat_language

CACHE_KEY = "briefing_languages"
CACHE_SECONDS = 60.0
CACHE_SIZE = 10_000  # chats remembered; the least recently asked are read again

App = Application[Any, Any, Any, Any, Any, Any]


class ChosenLanguages:
    """Chats' choices (None: never chose) for `CACHE_SECONDS`, the least recent dropped."""

    def __init__(self) -> None:
        self._chats: OrderedDict[int, tuple[str | None, float]] = OrderedDict()

    def get(self, chat_id: int) -> tuple[bool, str | None]:
        """(known, choice)."""
        found = self._chats.get(chat_id)
        if found is None or found[1] < time.monotonic():
            return False, None
        self._chats.move_to_end(chat_id)
        return True, found[0]

    def put(self, chat_id: int, language: str | None) -> None:
        self._chats[chat_id] = (language, time.monotonic() + CACHE_SECONDS)
        self._chats.move_to_end(chat_id)
        while len(self._chats) > CACHE_SIZE:
            self._chats.popitem(last=False)


def _chosen(context: ContextTypes.DEFAULT_TYPE | App) -> ChosenLanguages:
    cache = context.bot_data.get(CACHE_KEY)
    if cache is None:
        cache = context.bot_data[CACHE_KEY] = ChosenLanguages()
    return cache


def chat_key(update: Update) -> int | None:
    """Whose choice applies: the chat's; for an inline query (no chat), the user's own."""
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None


async def chosen_language(context: ContextTypes.DEFAULT_TYPE | App, chat_id: int) -> str | None:
    """The language the chat chose with /language, or None."""
    cache = _chosen(context)
    known, language = cache.get(chat_id)
    if not known:
        language = await run_db(context, partial(_read, chat_id=chat_id))
        cache.put(chat_id, language)
    return language


def _read(session: Any, chat_id: int) -> str | None:
    return supported(chat_language(session=session, chat_id=chat_id))


async def reader_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The interface language to answer this update in."""
    key = chat_key(update)
    if key is not None:
        chosen = await chosen_language(context, key)
        if chosen:
            return chosen
    return telegram_language(update, context)


def known_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """`reader_language` as far as it is known without the database (for error replies)."""
    key = chat_key(update)
    if key is not None:
        _known, chosen = _chosen(context).get(key)
        if chosen:
            return chosen
    return telegram_language(update, context)


def telegram_language(update: Update, context: ContextTypes.DEFAULT_TYPE | App) -> str:
    """What Telegram says the user's app is in, when the bot speaks it; else the default."""
    user = update.effective_user
    code = user.language_code if user is not None else None
    return supported(code) or deps_of(context).settings.default_language


async def choose_language(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, language: str, set_by: int | None
) -> bool:
    """Remember a chat's choice (a write, off the loop); False when it had it already."""
    changed = await run_db(
        context,
        lambda session: set_chat_language(
            session=session, chat_id=chat_id, language=language, set_by=set_by
        ),
        write=True,
    )
    note_choice(context, chat_id, language)
    return changed


def note_choice(context: ContextTypes.DEFAULT_TYPE | App, chat_id: int, language: str) -> None:
    """A choice just written (by /language, or remembered at /subscribe) applies at once."""
    _chosen(context).put(chat_id, language)
