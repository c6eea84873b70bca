"""/language: the choice of interface language, and what a choice or a refusal says."""

from __future__ import annotations

from babel import Locale
from telegram import InlineKeyboardMarkup

from bot.i18n import LANGUAGES, translator
from bot.presenters.html import Reply, button, clip, esc


def native_name(language: str) -> str:
    """A language as its own readers write it: English, Українська."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def language_menu(current: str, *, unknown: str | None = None) -> Reply:
    """The current language and a button for each one the bot speaks."""
    _ = translator(current).gettext
    lines = []
    if unknown is not None:
        lines.append(_("I don't speak “{language}”.").format(language=esc(clip(unknown, 20))))
    lines.append(_("Language: <b>{language}</b>.").format(language=esc(native_name(current))))
    codes = " · ".join(f"<code>/language {code}</code>" for code in LANGUAGES)
    lines.append(_("Choose another below, or send {commands}.").format(commands=codes))
    marked = {code: ("✓ " if code == current else "") + native_name(code) for code in LANGUAGES}
    keyboard = InlineKeyboardMarkup([[button(marked[code], f"lang:{code}") for code in LANGUAGES]])
    return Reply(["\n".join(lines)], keyboard)


def language_chosen(language: str, *, group: bool) -> Reply:
    """The confirmation, in the language just chosen."""
    _ = translator(language).gettext
    text = (
        _("Done: this chat's language is now {language}, digests included.")
        if group
        else _("Done: your language is now {language}, digests included.")
    )
    return Reply([text.format(language=esc(native_name(language)))])


def language_refused(language: str) -> Reply:
    """A group member who is not its admin asked to change the group's language."""
    _ = translator(language).gettext
    return Reply([_("Only this group's admins can change its language.")])


def language_chosen_for(chat: str, language: str, reader: str) -> Reply:
    """A moderator set another chat's language (told in the moderator's own language)."""
    _ = translator(reader).gettext
    text = _("Done: the bot's language in {chat} is now {language}, digests included.")
    return Reply([text.format(chat=esc(clip(chat, 80)), language=esc(native_name(language)))])


def chat_not_found(target: str, language: str) -> Reply:
    _ = translator(language).gettext
    text = _(
        "I can't find the chat {chat}. Give a channel's @username or a chat's numeric id; "
        "the bot must be a member there."
    )
    return Reply([text.format(chat=esc(clip(target, 40)))])
