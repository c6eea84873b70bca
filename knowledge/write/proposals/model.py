"""What a briefing's proposals are: events traced to their sentences, new actors, a source."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Origin:
    """Where the briefing comes from: the source its entries will cite, and its date.

    `published` (a forwarded post's date, or the day it was pasted) resolves relative dates
    ("last week"); it never dates a sentence that has no date of its own.
    """

    source: str  # the source's name, as the moderator or the forward gives it
    kind: str = "briefing"  # the kind a new source gets
    url: str | None = None
    published: date | None = None


@dataclass(frozen=True)
class EventProposal:
    """An event the text reports, as a curated record would have it, and where it came from."""

    sentence: str  # the sentence it was read from (and the one that attributes it, if any)
    title: str
    date: str | None  # YYYY, YYYY-MM or YYYY-MM-DD; None when the text gives no date
    precision: str | None  # day / month / year / approximate; None when undated
    date_text: str | None  # the date's words in the text
    date_label: str | None
    actors: tuple[str, ...]  # slugs of known actors
    new_actors: tuple[str, ...]  # slugs of actors proposed in the same batch
    source: str  # slug of the source to cite (known, or the batch's new source)
    status: str  # reported or claimed; confirmed is only ever a moderator's word
    attributed_to: str | None  # the words the sentence credits it to
    update_of: int | None = None  # an existing event this adds to, rather than a new one
    update_title: str | None = None

    def record(self) -> dict[str, Any]:
        """The event in the curated-YAML shape (knowledge/data/*.yaml)."""
        note = f"Proposed from the text: “{self.sentence[:900]}”"
        return {
            "date": self.date,
            "precision": self.precision,
            "date_label": self.date_label,
            "title": self.title,
            "summary": self.sentence[:2000],
            "status": self.status,
            "topics": [],
            "actors": [*self.actors, *self.new_actors],
            "citations": [{"source": self.source, "note": note}],
        }


@dataclass(frozen=True)
class ActorProposal:
    """A capitalised name the alias index doesn't know, proposed as a new actor."""

    slug: str
    name: str
    kind: str
    sentence: str  # where it first appears
    source: str

    def record(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "kind": self.kind,
            "name": self.name,
            "role": "",
            "description": "",
            "aliases": [],
            "sources": [self.source],
        }


@dataclass(frozen=True)
class SourceProposal:
    slug: str
    name: str
    kind: str
    url: str | None

    def record(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name": self.name,
            "kind": self.kind,
            "url": self.url,
            "reliability": "",
        }


@dataclass
class Batch:
    """Everything proposed from one text, in the order it should be approved."""

    origin: Origin
    source: str  # slug of the source every proposal cites unless a sentence names another
    new_source: SourceProposal | None = None
    actors: list[ActorProposal] = field(default_factory=list)
    events: list[EventProposal] = field(default_factory=list)
    sentences: int = 0  # how many sentences were read
