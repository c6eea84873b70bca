"""The interface's catalogs: every message translated into every language, with the same
placeholders and HTML tags as its source; plural forms and dates as each language writes them."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from bot.i18n import LANGUAGES, LOCALES, translator
from bot.presenters.html import Reply
from bot.presenters.overview import about
from knowledge.language.dates import format_date
from knowledge.read.overview import Overview

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{(\w*)\}")
TAG = re.compile(r"</?([a-zA-Z]+)(?:\s[^>]*)?>")


def _catalog(language: str) -> Catalog:
    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=language)


def _template() -> Catalog:
    with (LOCALES / "messages.pot").open("rb") as pot:
        return read_po(pot)


def _ids(catalog: Catalog) -> set[str]:
    return {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}


def _sources(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple) else [message.id]


def _translations(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


def test_the_template_holds_every_message_in_the_code(tmp_path: Path) -> None:
    """A message added to the code without `make messages` is missing from the catalogs."""
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "N_", "--no-location", "--omit-header", "-o", str(fresh), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with fresh.open("rb") as pot:
        extracted = _ids(read_po(pot))
    assert extracted - _ids(_template()) == set(), "run `make messages`"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    catalog = _catalog(language)
    translated = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalog
        if m.id and not m.fuzzy and all(_translations(m))
    }
    assert _ids(_template()) - translated == set()


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders_and_tags_of_their_source(language: str) -> None:
    problems = []
    for message in _catalog(language):
        if not message.id:
            continue
        source = _sources(message)[0]
        for text in _translations(message):
            for pattern in (PLACEHOLDER, TAG):
                if Counter(pattern.findall(text)) != Counter(pattern.findall(source)):
                    problems.append((source[:60], text[:60]))
    assert problems == []


def test_the_compiled_catalog_is_used() -> None:
    assert translator("uk").gettext("<b>Timeline</b>") == "<b>Хронологія</b>"
    assert translator("uk-UA").gettext("People") == "Люди"
    assert translator("fr").gettext("People") == "People"  # not spoken: English


def test_ukrainian_has_three_plural_forms() -> None:
    tr = translator("uk")
    forms = [tr.ngettext("{count} event", "{count} events", n).format(count=n)
             for n in (1, 2, 5, 11, 21, 22, 25)]  # fmt: skip
    assert forms == ["1 подія", "2 події", "5 подій", "11 подій", "21 подія", "22 події",
                     "25 подій"]  # fmt: skip
    en = translator("en")
    assert [en.ngettext("{count} event", "{count} events", n).format(count=n) for n in (1, 2)] == [
        "1 event",
        "2 events",
    ]


@pytest.mark.parametrize(
    ("precision", "label", "en", "uk"),
    [
        ("day", None, "11 Jul 2023", "11 липня 2023"),
        ("month", None, "Jul 2023", "липень 2023"),
        ("year", None, "2023", "2023"),
        ("approximate", None, "c. 2023", "бл. 2023"),
        ("approximate", "summer 2023", "summer 2023", "summer 2023"),
    ],
)
def test_dates_as_each_language_writes_them(
    precision: str, label: str | None, en: str, uk: str
) -> None:
    day = date(2023, 7, 11) if precision == "day" else date(2023, 7, 1)
    assert format_date(day, precision, label, "en") == en
    assert format_date(day, precision, label, "uk") == uk


def test_counts_in_the_overview_take_the_plural_form_of_their_number() -> None:
    def held(counts: dict[str, int], language: str) -> str:
        view = Overview("T", "", "", None, counts, None, [])
        reply: Reply = about(view, language=language)
        return reply.parts[0].split("\n\n")[-1]

    assert held({"event": 1, "actor": 2, "source": 5}, "uk") == (
        "Містить: 1 подія · 2 людини чи організації · 5 джерел."
    )
    assert held({"event": 21, "actor": 1, "source": 3}, "en") == (
        "Holds 21 events · 1 person or organisation · 3 sources."
    )
