"""Date phrases in English, Ukrainian and Russian text: "in July 2023", "11 липня 2023",
"у 2022 році", "в июле 2023 года", "2023-07-11".

Month names come from dateparser's own locale data, and inflected Cyrillic forms ("липні",
"июле") are brought to a form it lists through `lemmas.lemma`, so no month table is written
here. A phrase is only as precise as the text: "July 2023" is a month, never the 1st of July;
a month with no year is returned without one (`year_stated` False) and the caller decides.

Relative phrases ("last week", "минулого тижня", "вчера") are found apart, by
`find_relative_dates`, resolved against a reference date (the briefing's) and marked
approximate.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from typing import Any

from knowledge.language.dates import MAX_YEAR, MIN_YEAR, FuzzyDate
from knowledge.language.lemmas import lemma, words
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
    approximate: bool = False  # resolved from a relative phrase against a reference date


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


# Two reference dates two weeks apart in one month: a relative phrase ("last week", "вчора")
# moves with its reference by exactly that much; a month or weekday name does not.
_PROBES = (datetime(2001, 3, 5, tzinfo=UTC), datetime(2001, 3, 19, tzinfo=UTC))
_PRECISION_OF_PERIOD = {"year": DatePrecision.YEAR, "month": DatePrecision.MONTH}


@cache
def _parser(language: str, base: datetime) -> Any:
    from dateparser.date import DateDataParser  # dateparser's import takes ~0.5 s: on first use

    return DateDataParser(
        languages=[language],
        settings={"RELATIVE_BASE": base, "RETURN_TIME_AS_PERIOD": True},
    )


@lru_cache(maxsize=4096)
def _resolve(phrase: str, language: str, base: datetime) -> tuple[datetime, str] | None:
    data = _parser(language, base).get_date_data(phrase)
    if data is None or data.date_obj is None:
        return None
    return data.date_obj.replace(tzinfo=None), str(data.period or "day")


def _is_relative(phrase: str, language: str) -> bool:
    """Whether a phrase's date moves with its reference: "last week" does, "may the" (read as
    May) does not. Explicit dates and month names are `find_dates`' business."""
    if any(ch.isdigit() for ch in phrase) and find_dates(phrase):
        return False
    tokens = [m.group() for m in _TOKEN.finditer(phrase)]
    if any(month_number(t) is not None or t.casefold() == "may" for t in tokens):
        return False
    first, second = (_resolve(phrase, language, base) for base in _PROBES)
    if first is None or second is None:
        return False
    return second[0] - first[0] == _PROBES[1] - _PROBES[0]


@cache
def _skipped(language: str) -> frozenset[str]:
    """Words dateparser's locale data says carry no date ("the", "on", "і", "около")."""
    from dateparser.languages import default_loader

    return frozenset(w.casefold() for w in default_loader.get_locale(language).info["skip"])


def _trimmed(phrase: str, language: str) -> str:
    """The phrase without the words dateparser took along ("Last week the" -> "Last week")."""
    words = phrase.split()
    skip = _skipped(language)
    while len(words) > 1 and words[-1].casefold().strip(",.;") in skip:
        words.pop()
    while len(words) > 1 and words[0].casefold() in skip:
        words.pop(0)
    start = phrase.find(words[0])
    end = phrase.rfind(words[-1]) + len(words[-1])
    return phrase[start:end]


_RELATIVE_KEYS = ("year", "month", "week", "day", "fortnight", "decade", "ago", "monday",
                  "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # fmt: skip


@cache
def _relative_words(language: str) -> frozenset[str]:
    """Every word of dateparser's locale data for relative dates in a language ("week",
    "yesterday", "тижня", "вчера"): a text with none of them has no relative date, and
    dateparser's search (the slow part) is spared it."""
    from dateparser.languages import default_loader

    info = default_loader.get_locale(language).info
    phrases: list[str] = [p for key in _RELATIVE_KEYS for p in info.get(key, [])]
    phrases += [p for values in info.get("relative-type", {}).values() for p in values]
    return frozenset(
        word for phrase in phrases for word in words(phrase) if len(word) > 1 and word.isalpha()
    )


def find_relative_dates(text: str, *, reference: date, language: str = "en") -> list[DatePhrase]:
    """Relative date phrases of a text, resolved against `reference` and marked approximate:
    "last week" in a briefing of 2 Dec 2026 is about 25 Nov 2026. dateparser's search finds
    candidates; only those that move with the reference are kept (see `_is_relative`)."""
    from dateparser.search import search_dates

    if _relative_words(language).isdisjoint(words(text)):
        return []
    base = datetime(reference.year, reference.month, reference.day, tzinfo=UTC)
    found: list[DatePhrase] = []
    cursor = 0
    for phrase, _when in (
        search_dates(text, languages=[language], settings={"RELATIVE_BASE": base}) or []
    ):
        start = text.find(phrase, cursor)
        if start < 0 or not _is_relative(phrase, language):
            continue
        cursor = start + len(phrase)
        core = _trimmed(phrase, language)
        offset = start + phrase.find(core)
        resolved = _resolve(core, language, base)
        if resolved is None:
            continue
        moment, period = resolved
        precision = _PRECISION_OF_PERIOD.get(period, DatePrecision.DAY)
        day = moment.date()
        if precision == DatePrecision.MONTH:
            day = day.replace(day=1)
        elif precision == DatePrecision.YEAR:
            day = day.replace(month=1, day=1)
        value = FuzzyDate(day, precision)
        found.append(DatePhrase(core, offset, offset + len(core), value, approximate=True))
    return found
