"""What the read side hands out: plain frozen values, no database objects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class EventLine:
    id: int
    date_text: str
    title: str
    status: str
    sort_date: date


@dataclass(frozen=True)
class Ref:
    """A named link to another entry."""

    id: int
    name: str


@dataclass(frozen=True)
class CitationView:
    source_id: int
    source_name: str
    source_kind: str
    url: str | None
    note: str


@dataclass(frozen=True)
class EventDetail:
    id: int
    date_text: str
    title: str
    summary: str
    status: str
    retracted_reason: str | None
    topics: list[str]
    actors: list[Ref]
    citations: list[CitationView]

    @property
    def retracted(self) -> bool:
        return self.retracted_reason is not None


@dataclass(frozen=True)
class ActorDetail:
    id: int
    name: str
    kind: str
    role: str
    description: str
    aliases: list[str]
    retracted_reason: str | None
    sources: list[CitationView]
    events: list[EventLine]
    event_count: int


@dataclass(frozen=True)
class SourceDetail:
    id: int
    name: str
    kind: str
    url: str | None
    reliability: str
    retracted_reason: str | None
    backs: list[Ref]  # entries citing it (events and actors), oldest first
    backs_count: int


@dataclass(frozen=True)
class SourceLine:
    id: int
    name: str
    kind: str
    citations: int


@dataclass(frozen=True)
class ActorMatch:
    id: int
    name: str
    matched: str  # the alias that matched
    score: float


@dataclass(frozen=True)
class SearchResult:
    id: int
    kind: str
    title: str
    subtitle: str


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int
    more: bool = False  # there are more than `total` (a search counts only so far)

    @property
    def has_prev(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total


@dataclass(frozen=True)
class PageKey:
    """A keyset position on the timeline: the page after (or before) the event at (date, id).

    Paging by key costs the same on page 10,000 as on page 1, where OFFSET would walk every
    earlier event; the ◀ ▶ buttons carry the key of the page they come from.
    """

    date: date
    id: int
    before: bool = False

    def code(self) -> str:
        """A compact form for callback data (≤ 19 bytes): `a20230711.25`."""
        return f"{'b' if self.before else 'a'}{self.date:%Y%m%d}.{self.id}"

    @classmethod
    def parse(cls, code: str) -> PageKey | None:
        match = re.fullmatch(r"([ab])(\d{4})(\d{2})(\d{2})\.(\d{1,10})", code)
        if match is None:
            return None
        direction, year, month, day, entry_id = match.groups()
        try:
            return cls(date(int(year), int(month), int(day)), int(entry_id), direction == "b")
        except ValueError:
            return None
