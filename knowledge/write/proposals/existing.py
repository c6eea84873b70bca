"""Whether a proposal is news about an event the knowledge base already has: the same actors,
a title close to the sentence, and dates that can be the same."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from functools import lru_cache

from sqlmodel import Session, col, select

from knowledge.language.dates import date_end, parse_date
from knowledge.language.lemmas import lemmas
from knowledge.models import Entry, EntryKind, EntryState, Event, EventActor
from knowledge.write.proposals.model import EventProposal

MIN_SHARED_ACTORS = 0.5  # of the two actor lists' union
MIN_TITLE_WORDS = 0.5  # of the existing title's content words found in the sentence
_CANDIDATES = 200

_Candidate = tuple[int, frozenset[str], date, date, frozenset[int], str]


@lru_cache(maxsize=16384)
def content_words(text: str) -> frozenset[str]:
    """A text's words in dictionary form, short function words left out."""
    return frozenset(w for w in lemmas(text) if len(w) > 3 and not w.isdigit())


class ExistingEvents:
    """Published events by the actors they share with proposals, read once per actor set."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._ids: dict[str, int] = {}
        self._candidates: dict[frozenset[int], list[_Candidate]] = {}

    def _actor_ids(self, slugs: tuple[str, ...]) -> frozenset[int]:
        missing = [s for s in slugs if s not in self._ids]
        if missing:
            for slug, entry_id in self.session.exec(
                select(Entry.slug, Entry.id).where(
                    Entry.kind == EntryKind.ACTOR, col(Entry.slug).in_(missing)
                )
            ):
                if entry_id is not None:
                    self._ids[slug] = entry_id
        return frozenset(self._ids[s] for s in slugs if s in self._ids)

    def _events_of(self, wanted: frozenset[int]) -> list[_Candidate]:
        if wanted in self._candidates:
            return self._candidates[wanted]
        rows = self.session.exec(
            select(Event.id, Event.title, col(Event.date_start), Event.precision)
            .join(Entry, col(Entry.id) == col(Event.id))
            .where(
                Entry.state == EntryState.PUBLISHED,
                col(Event.id).in_(
                    select(EventActor.event_id).where(col(EventActor.actor_id).in_(wanted))
                ),
            )
            .order_by(col(Event.timeline_rank).desc())
            .limit(_CANDIDATES)
        ).all()
        actors_of: dict[int, set[int]] = defaultdict(set)
        if rows:
            for event_id, actor_id in self.session.exec(
                select(EventActor.event_id, EventActor.actor_id).where(
                    col(EventActor.event_id).in_([r[0] for r in rows])
                )
            ):
                actors_of[event_id].add(actor_id)
        found = [
            (event_id, content_words(title), start, date_end(start, precision),
             frozenset(actors_of[event_id]), title)
            for event_id, title, start, precision in rows
        ]  # fmt: skip
        self._candidates[wanted] = found
        return found

    def match(self, proposal: EventProposal) -> tuple[int, str] | None:
        """The published event this proposal most likely reports again, as (id, title)."""
        wanted = self._actor_ids(proposal.actors)
        if not wanted:
            return None
        words = content_words(proposal.sentence)
        span = None
        if proposal.date is not None:
            fuzzy = parse_date(proposal.date)
            span = (fuzzy.start, fuzzy.end)
        best: tuple[float, int, str] | None = None
        for event_id, title_words, start, end, theirs, title in self._events_of(wanted):
            if len(theirs & wanted) < MIN_SHARED_ACTORS * len(theirs | wanted):
                continue
            if span is not None and (start > span[1] or end < span[0]):
                continue
            if not title_words:
                continue
            share = len(title_words & words) / len(title_words)
            if share >= MIN_TITLE_WORDS and (best is None or share > best[0]):
                best = (share, event_id, title)
        return (best[1], best[2]) if best else None
