"""Date phrases in English, Ukrainian and Russian text: "in July 2023", "11 липня 2023",
"у 2022 році", "в июле 2023 года", "2023-07-11".

Month names come from dateparser's own locale data, and inflected Cyrillic forms ("липні",
"июле") are brought to a form it lists through `lemmas.lemma`, so no month table is written
here. A phrase is only as precise as the text: "July 2023" is a month, never the 1st of July;
a month with no year is returned without one (`year_stated` False) and the caller decides.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from functools import cache

from knowledge.language.dates import MAX_YEAR, MIN_YEAR, FuzzyDate
from knowledge.language.lemmas import lemma
from knowledge.models import DatePrecision

_LANGUAGES = ("en", "uk", "ru")
_MONTH_KEYS = [calendar.month_name[n].lower() for n in range(1, 13)]
_TOKEN = re.compile(r"\d{4}-\d{2}(?:-\d{2})?|\d+|[^\W\d_]+\.?")
_ISO = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?$")


@dataclass(frozen=True)
class DatePhrase:
    """A date found in a text: where, what it says, and how precisely."""

    text: str
    start: int
    end: int
    date: FuzzyDate
    year_stated: bool = True


@cache
def _months() -> dict[str, int]:
    """Every month name and abbreviation dateparser knows in our three languages."""
    from dateparser.languages import default_loader  # its locale data, loaded once

    names: dict[str, int] = {}
    for code in _LANGUAGES:
        info = default_loader.get_locale(code).info
        for number, key in enumerate(_MONTH_KEYS, start=1):
            for name in info.get(key, []):
                if len(name) >= 3:
                    names[name.casefold()] = number
    names.pop("may", None)  # "may" is far more often the verb; "May 2023" is caught below
    return names


def month_number(word: str) -> int | None:
    """The month a word names, inflected forms included ("липні", "июле", "Sept")."""
    word = word.casefold().rstrip(".")
    months = _months()
    if word in months:
        return months[word]
    if word == "may":
        return None
    base = lemma(word)
    return months.get(base)


def _year(token: str) -> int | None:
    if len(token) == 4 and token.isdigit() and MIN_YEAR <= int(token) <= MAX_YEAR:
        return int(token)
    return None


def _day(token: str, year: int, month: int) -> int | None:
    if token.isdigit() and len(token) <= 2:
        day = int(token)
        if 1 <= day <= calendar.monthrange(year, month)[1]:
            return day
    return None


def find_dates(text: str, *, default_year: int | None = None) -> list[DatePhrase]:
    """The date phrases of a text, in order. A month without a year takes `default_year`
    (marked `year_stated=False`), or is left out when there is none."""
    tokens = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    found: list[DatePhrase] = []
    used: set[int] = set()
    for i, (token, start, end) in enumerate(tokens):
        if i in used:
            continue
        iso = _ISO.match(token)
        if iso:
            phrase = _iso_phrase(iso, text[start:end], start, end)
            if phrase:
                found.append(phrase)
            continue
        month = month_number(token) if not token.isdigit() else None
        if month is None and token.lower() == "may" and i + 1 < len(tokens):
            month = 5 if _year(tokens[i + 1][0]) else None
        if month is None:
            year = _year(token)
            if year and not _follows_month(tokens, i):
                found.append(
                    DatePhrase(token, start, end, FuzzyDate(date(year, 1, 1), DatePrecision.YEAR))
                )
            continue
        around = _month_phrase(tokens, i, month, text, default_year)
        if around:
            first, last, value = around
            used.update(range(first, last + 1))
            # A day written before the month ("24 February") was already passed over.
            found = [p for p in found if p.end <= tokens[first][1]]
            found.append(value)
    return found


def _follows_month(tokens: list[tuple[str, int, int]], i: int) -> bool:
    return i > 0 and month_number(tokens[i - 1][0]) is not None


def _month_phrase(
    tokens: list[tuple[str, int, int]],
    i: int,
    month: int,
    text: str,
    default_year: int | None,
) -> tuple[int, int, DatePhrase] | None:
    """A month name at `i`, with the day and year around it: "24 February 2022",
    "February 24, 2022", "липня 2023", "July"."""
    first = last = i
    year = None
    if i + 1 < len(tokens) and _year(tokens[i + 1][0]):
        year, last = _year(tokens[i + 1][0]), i + 1
    elif i + 2 < len(tokens) and _year(tokens[i + 2][0]) and tokens[i + 1][0].isdigit():
        year, last = _year(tokens[i + 2][0]), i + 2
    stated = year is not None
    if year is None:
        if default_year is None:
            return None
        year = default_year
    day = None
    if i > 0:
        day = _day(tokens[i - 1][0], year, month)
        if day is not None:
            first = i - 1
    if day is None and last == i + 2:
        day = _day(tokens[i + 1][0], year, month)
    if day is not None:
        value = FuzzyDate(date(year, month, day), DatePrecision.DAY)
    else:
        value = FuzzyDate(date(year, month, 1), DatePrecision.MONTH)
    start, end = tokens[first][1], tokens[last][2]
    return first, last, DatePhrase(text[start:end], start, end, value, stated)


def _iso_phrase(match: re.Match[str], raw: str, start: int, end: int) -> DatePhrase | None:
    year, month, day = (int(g) if g else None for g in match.groups())
    assert year is not None and month is not None
    if not (MIN_YEAR <= year <= MAX_YEAR and 1 <= month <= 12):
        return None
    if day is None:
        return DatePhrase(raw, start, end, FuzzyDate(date(year, month, 1), DatePrecision.MONTH))
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return DatePhrase(raw, start, end, FuzzyDate(date(year, month, day), DatePrecision.DAY))
