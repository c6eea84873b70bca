"""What the read side hands out: plain frozen values, no database objects."""

from __future__ import annotations

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
