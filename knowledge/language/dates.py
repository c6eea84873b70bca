"""Dates as the briefing knows them: a day, a month, a year, or an approximate moment."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date as babel_format_date

from knowledge.language.wording import N_, Explained
from knowledge.models import DatePrecision

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
MIN_YEAR, MAX_YEAR = 1900, 2100
_MONTHS = [
    "", "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
]  # fmt: skip


class Month(int):
    """A month in an error's values: its English name as text; the interface names it in the
    reader's language (bot/i18n.py)."""

    def __str__(self) -> str:
        return _MONTHS[self]

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class DateError(Explained):
    """A date the user typed that is malformed or impossible; the message says why."""


@dataclass(frozen=True)
class FuzzyDate:
    start: date
    precision: DatePrecision

    @property
    def end(self) -> date:
        """The last day the date may mean (for range filters)."""
        if self.precision == DatePrecision.DAY:
            return self.start
        if self.precision == DatePrecision.MONTH:
            last = calendar.monthrange(self.start.year, self.start.month)[1]
            return self.start.replace(day=last)
        return self.start.replace(month=12, day=31)

    def iso(self) -> str:
        if self.precision == DatePrecision.DAY:
            return self.start.isoformat()
        if self.precision == DatePrecision.MONTH:
            return f"{self.start.year:04d}-{self.start.month:02d}"
        return f"{self.start.year:04d}"


def parse_date(value: str) -> FuzzyDate:
    """Parse YYYY, YYYY-MM or YYYY-MM-DD; reject malformed and impossible dates clearly."""
    value = value.strip()
    match = _DATE_RE.match(value)
    if not match:
        raise DateError(
            N_("“{value}” is not a date; use YYYY, YYYY-MM or YYYY-MM-DD"), value=value[:40]
        )
    year, month, day = (int(g) if g else None for g in match.groups())
    assert year is not None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DateError(
            N_("the year {year} is outside {first}–{last}"),
            year=year, first=MIN_YEAR, last=MAX_YEAR,
        )  # fmt: skip
    if month is None:
        return FuzzyDate(date(year, 1, 1), DatePrecision.YEAR)
    if not 1 <= month <= 12:
        raise DateError(N_("there is no month {month}; months run 01–12"), month=month)
    if day is None:
        return FuzzyDate(date(year, month, 1), DatePrecision.MONTH)
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise DateError(
            N_("{month} {year} has {last} days, not {day}"),
            month=Month(month), year=year, last=last, day=day,
        )  # fmt: skip
    return FuzzyDate(date(year, month, day), DatePrecision.DAY)


# How each interface language writes a date known to the day or to the month (CLDR patterns,
# so the month is in the right case: "11 липня 2023", "липень 2023"), and an approximate year,
# for which CLDR has no pattern.
_DAY_PATTERN = {"en": "d MMM y", "uk": "d MMMM y"}
_MONTH_PATTERN = {"en": "MMM y", "uk": "LLLL y"}
_ABOUT = {"en": "c. {year}", "uk": "бл. {year}"}


def format_date(
    start: date, precision: str, label: str | None = None, language: str = "en"
) -> str:
    """The date as precisely as it is known, for people, in `language`: 24 Feb 2022, Jul 2023,
    2022, c. 2023 (24 лютого 2022, липень 2023, 2022, бл. 2023). A curated label wins."""
    if precision == DatePrecision.DAY:
        return babel_format_date(start, _DAY_PATTERN.get(language, "medium"), locale=language)
    if precision == DatePrecision.MONTH:
        return babel_format_date(start, _MONTH_PATTERN.get(language, "LLLL y"), locale=language)
    if precision == DatePrecision.YEAR:
        return str(start.year)
    return label or _ABOUT.get(language, "~{year}").format(year=start.year)


def iso_for(start: date, precision: str) -> str:
    """The YAML/edit form of a stored date."""
    if precision == DatePrecision.DAY:
        return start.isoformat()
    if precision == DatePrecision.MONTH:
        return f"{start.year:04d}-{start.month:02d}"
    if precision == DatePrecision.YEAR:
        return f"{start.year:04d}"
    # Approximate dates keep the form they were given, as precise as the start is.
    if start.day != 1:
        return start.isoformat()
    if start.month != 1:
        return f"{start.year:04d}-{start.month:02d}"
    return f"{start.year:04d}"


# Inside one day of the timeline, the precise first: an event of 24 Feb comes before one
# known only as "Feb 2022" (which ends on the 28th), and that before "2022" and "c. 2022".
_RANK_OF_PRECISION = {
    DatePrecision.DAY: 0,
    DatePrecision.MONTH: 1,
    DatePrecision.YEAR: 2,
    DatePrecision.APPROXIMATE: 3,
}


def date_end(start: date, precision: str) -> date:
    """The last day a stored date may mean. An approximate date means as much as the form it
    was given in (see `iso_for`): "c. June 2023" ends with June, "c. 2023" with the year."""
    if precision == DatePrecision.APPROXIMATE:
        form = parse_date(iso_for(start, precision))
        return form.end
    return FuzzyDate(start, DatePrecision(precision)).end


def timeline_rank(start: date, precision: str, *, after: int | None = None) -> int:
    """Where an event sits on the timeline: by the end of its date range, the more precise
    first within a day; never before the event it is said to follow (`after`, its rank).

    An imprecise date sorts at the end of what it may mean, so a response dated only "Feb
    2022" lists after the 24 Feb event it responds to, never before it.
    """
    own = (
        date_end(start, precision).toordinal() * 10 + _RANK_OF_PRECISION[DatePrecision(precision)]
    )
    return own if after is None else max(own, after + 1)
