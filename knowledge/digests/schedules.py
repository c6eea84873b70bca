"""When digests are due: frequencies, times of day in a subscriber's own time zone, UTC moments.

Schedules are data: each scheduled subscription stores `next_due_at` (UTC), computed from its
wall-clock time in its own time zone with zoneinfo, so daylight-saving changes move the UTC
instant and not the local hour. Timestamps are always UTC: SQLite keeps DateTime values as
zone-less text, so every value written or compared goes through `as_utc`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from knowledge.language.wording import N_, Explained
from knowledge.models import Subscription, as_utc

DAILY, WEEKLY, INSTANT = "daily", "weekly", "instant"


FREQUENCIES = (DAILY, WEEKLY, INSTANT)


SCHEDULED = (DAILY, WEEKLY)


DEFAULT_TIME = "09:00"


WEEKDAY_WORDS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4, "sat": 5,
    "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip


TIME_LIKE = re.compile(r"^(\d{1,3})[:.h](\d{1,3})$")


class SubscriptionError(Explained):
    """Settings that cannot be used; the message is plain text, safe to show as is."""


def as_utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


@dataclass(frozen=True)
class Schedule:
    """When digests go out: daily or weekly at a wall-clock time in a zone, or instantly."""

    frequency: str = DAILY
    at_time: str = DEFAULT_TIME
    weekday: int | None = None  # 0 = Monday, weekly only
    timezone: str = "UTC"


@cache
def _zone_names() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


@cache
def _renamed_zones() -> dict[str, str]:
    """Legacy names to the zone they now link to (`Europe/Kiev` -> `Europe/Kyiv`).

    From the `tzdata` package's own link lines (`L Europe/Kyiv Europe/Kiev`). A name that is
    still a country's zone in zone.tab (`Europe/Vaduz`, a link to Zurich since 2022) keeps its
    name, and nothing is renamed into `Etc/` (`UTC` stays `UTC`).
    """
    data = resources.files("tzdata.zoneinfo")
    listed = {
        line.split("\t")[2]
        for line in data.joinpath("zone.tab").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    renamed = {}
    for line in data.joinpath("tzdata.zi").read_text(encoding="utf-8").splitlines():
        if line.startswith("L "):
            _, target, link = line.split()
            if link not in listed and not target.startswith("Etc/"):
                renamed[link] = target
    return renamed


def resolve_timezone(name: str) -> str:
    """The current zone name for `name` (any letter case, legacy names renamed);
    SubscriptionError if unknown."""
    canonical = _zone_names().get(name.casefold(), name)
    canonical = _renamed_zones().get(canonical, canonical)
    try:
        ZoneInfo(canonical)
    except (ZoneInfoNotFoundError, ValueError):
        raise SubscriptionError(
            N_("“{name}” is not a time zone I know. Use an Area/City name such as "
               "Europe/Kyiv, America/New_York or UTC."),
            name=name[:40],
        ) from None  # fmt: skip
    return canonical


def parse_time(token: str) -> str:
    """`8:30`, `08:30` or `08.30` as `08:30`; SubscriptionError for `25:00` or `8:61`."""
    match = TIME_LIKE.match(token)
    hour, minute = (int(match.group(1)), int(match.group(2))) if match else (-1, -1)
    if not (match and 0 <= hour <= 23 and 0 <= minute <= 59 and len(match.group(2)) == 2):
        raise SubscriptionError(
            N_("“{token}” is not a time of day. Use HH:MM between 00:00 and 23:59, "
               "for example 08:30."),
            token=token[:20],
        )  # fmt: skip
    return f"{hour:02d}:{minute:02d}"


def looks_like_zone(token: str) -> bool:
    return "/" in token or token.casefold() in _zone_names()


def _hh_mm(at_time: str) -> time:
    hour, minute = at_time.split(":")
    return time(int(hour), int(minute))


def next_due_at(schedule: Schedule, now: datetime) -> datetime | None:
    """The first scheduled instant strictly after `now`, in UTC (None for instant digests).

    Days are counted on the local calendar and the time is read in the zone on that day, so
    08:00 Europe/Kyiv is 06:00 UTC in winter and 05:00 UTC in summer. A time the clocks skip
    (02:30 on a spring-forward night) is read with the offset before the change, i.e. it
    falls an hour later that morning; a time that occurs twice is taken the first time.
    """
    if schedule.frequency not in SCHEDULED:
        return None
    now = as_utc(now)
    zone = ZoneInfo(schedule.timezone)
    at = _hh_mm(schedule.at_time)
    day: date = now.astimezone(zone).date()
    step = 1
    if schedule.frequency == WEEKLY:
        assert schedule.weekday is not None
        day += timedelta(days=(schedule.weekday - day.weekday()) % 7)
        step = 7
    while True:
        candidate = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
        if candidate > now:
            return candidate
        day += timedelta(days=step)


def schedule_of(subscription: Subscription) -> Schedule:
    return Schedule(
        subscription.frequency, subscription.at_time, subscription.weekday, subscription.timezone
    )
