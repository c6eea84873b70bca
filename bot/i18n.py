"""The interface in the reader's language: gettext catalogs in `bot/locales`, one per language.

Every message the bot writes is an English msgid looked up in the reader's catalog
(`translator(language).gettext`); plural forms go through `ngettext`, so Ukrainian gets its
three. The `.po` files are the source, compiled to `.mo` at install (`make install`, the image's
build stage); a checkout without them compiles the `.po` in memory on first use.
"""

from __future__ import annotations

import gettext
import io
import logging
from functools import cache
from pathlib import Path

from babel.dates import get_month_names
from babel.numbers import format_decimal

from knowledge.language.dates import Month
from knowledge.language.wording import Explained

log = logging.getLogger(__name__)

DOMAIN = "messages"
LOCALES = Path(__file__).parent / "locales"
SOURCE_LANGUAGE = "en"  # the language every msgid is written in
# The interface languages: English first, then every language with a catalog.
LANGUAGES = (
    SOURCE_LANGUAGE,
    *sorted(
        path.parent.parent.name
        for path in LOCALES.glob("*/LC_MESSAGES/messages.po")
        if path.parent.parent.name != SOURCE_LANGUAGE
    ),
)


def N_(message: str) -> str:
    """Marks a constant for extraction; it is translated where it is shown."""
    return message


def supported(language: str | None) -> str | None:
    """`language` (or a Telegram language_code such as "uk-UA") as an interface language."""
    if not language:
        return None
    code = language.lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


@cache
def translator(language: str) -> gettext.NullTranslations:
    """The catalog of an interface language (English for anything else); loaded once."""
    language = supported(language) or SOURCE_LANGUAGE
    try:
        return gettext.translation(DOMAIN, LOCALES, [language])
    except FileNotFoundError:
        return _compiled_in_memory(language)


def _compiled_in_memory(language: str) -> gettext.NullTranslations:
    """The `.po` compiled on the fly, for a checkout installed without `make install`."""
    # Imported here: an installed bot never needs them (memory at idle counts).
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        log.warning("no catalog for %s: messages stay in English", language)
        return gettext.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def explained(error: Exception, language: str) -> str:
    """An error knowledge explains for people (`knowledge.language.wording.Explained`), in
    `language`; any other error as it is."""
    if not isinstance(error, Explained):
        return str(error)
    text = translator(language).gettext(error.template)
    if not error.values:
        return text
    # A value may be an error of its own ("date: {problem}") or a month: worded in the same
    # language.
    values = {key: _worded(value, language) for key, value in error.values.items()}
    return text.format(**values)


def _worded(value: object, language: str) -> object:
    if isinstance(value, Explained):
        return explained(value, language)
    if isinstance(value, Month):
        locale = supported(language) or SOURCE_LANGUAGE
        return get_month_names("wide", context="stand-alone", locale=locale)[int(value)]
    return value


def number(value: int, language: str) -> str:
    """A count as the language writes it (1,234 · 1 234)."""
    return format_decimal(value, locale=supported(language) or SOURCE_LANGUAGE)
