"""What the read side hands out: plain frozen values, no database objects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

T = TypeVar("T")
# Ranks of the first and last day a date may name (knowledge.language.dates.timeline_rank).
FIRST_RANK, LAST_RANK = date(1900, 1, 1).toordinal() * 10, date(2100, 12, 31).toordinal() * 10 + 9


@dataclass(frozen=True)
class EventLine:
    id: int
    date_text: str
    title: str
    status: str
    sort_date: date  # the first day the date may mean
    rank: int = 0  # its place on the timeline (knowledge.language.dates.timeline_rank)
    # Only where a source from the briefing backs it; False (the default, the weaker claim):
    # only the curators' public-record additions back it.
    from_briefing: bool = False
    untranslated: bool = False  # the title is the original: no translation in the language


@dataclass(frozen=True)
class Ref:
    """A named link to another entry."""

    id: int
    name: str
    untranslated: bool = False  # the name is the original: no translation in the language


@dataclass(frozen=True)
class CitationView:
    source_id: int
    source_name: str
    source_kind: str
    url: str | None
    note: str
    untranslated: bool = False  # the source's name is the original
    # Notes (why a source backs the entry) are curated in English only: in another language
    # the reader is told so, as for any untranslated field.
    note_untranslated: bool = False


PUBLIC_RECORD = "public_record"  # the source kind of what the curators add themselves


def from_briefing(citations: list[CitationView]) -> bool:
    """Whether the briefing backs an entry: a citation of any source but the public record."""
    return any(c.source_kind != PUBLIC_RECORD for c in citations)


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
    untranslated: tuple[str, ...] = ()  # fields shown in the original, for want of a translation

    @property
    def retracted(self) -> bool:
        return self.retracted_reason is not None

    @property
    def from_briefing(self) -> bool:
        return from_briefing(self.citations)


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
    untranslated: tuple[str, ...] = ()  # fields shown in the original, for want of a translation

    @property
    def from_briefing(self) -> bool:
        return from_briefing(self.sources)


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
    untranslated: tuple[str, ...] = ()  # fields shown in the original, for want of a translation


@dataclass(frozen=True)
class SourceLine:
    id: int
    name: str
    kind: str
    citations: int
    untranslated: bool = False  # the name is the original


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
    from_briefing: bool = False  # as an EventLine's: the weaker claim unless told
    matched: tuple[str, ...] = ()  # a some-of-the-words search: the words it has
    untranslated: bool = False  # title and subtitle are the original


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int
    more: bool = False  # there are more than `total` (a search counts only so far)
    partial: bool = False  # a search: nothing had every word; these have some of them

    @property
    def has_prev(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total


@dataclass(frozen=True)
class PageKey:
    """A keyset position on the timeline: the page after (or before) the event at (rank, id).

    Paging by key costs the same on page 10,000 as on page 1, where OFFSET would walk every
    earlier event; the ◀ ▶ buttons carry the key of the page they come from.
    """

    rank: int
    id: int
    before: bool = False

    def code(self) -> str:
        """A compact form for callback data (≤ 20 bytes): `a7389170.25`."""
        return f"{'b' if self.before else 'a'}{self.rank}.{self.id}"

    @classmethod
    def parse(cls, code: str) -> PageKey | None:
        match = re.fullmatch(r"([ab])(\d{1,9})\.(\d{1,9})", code)
        if match is None:
            return None
        direction, rank, entry_id = match.groups()
        if not FIRST_RANK <= int(rank) <= LAST_RANK:
            return None  # no date the timeline holds: forged, or from before ranks
        return cls(int(rank), int(entry_id), direction == "b")


@dataclass(frozen=True)
class Gap:
    """A question readers asked that the briefing could not answer (or only unsurely)."""

    text: str
    count: int
    unsure: bool  # answered, but with low confidence
