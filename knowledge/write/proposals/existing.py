"""Whether a proposal is news about an event the knowledge base already has: the same actors,
a title close to the sentence, and dates that can be the same."""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import Session, col, select

from knowledge.language.dates import date_end, parse_date
from knowledge.language.lemmas import lemmas
from knowledge.models import Entry, EntryKind, EntryState, Event, EventActor
from knowledge.write.proposals.model import EventProposal

MIN_SHARED_ACTORS = 0.5  # of the two actor lists' union
MIN_TITLE_WORDS = 0.5  # of the existing title's content words found in the sentence
_CANDIDATES = 200


def content_words(text: str) -> set[str]:
    """A text's words in dictionary form, short function words left out."""
    return {w for w in lemmas(text) if len(w) > 3 and not w.isdigit()}


def existing_event(session: Session, proposal: EventProposal) -> tuple[int, str] | None:
    """The published event this proposal most likely reports again, as (id, title)."""
    if not proposal.actors:
        return None
    actor_ids = dict(
        session.exec(
            select(Entry.slug, Entry.id).where(
                Entry.kind == EntryKind.ACTOR, col(Entry.slug).in_(proposal.actors)
            )
        ).all()
    )
    wanted = {i for i in actor_ids.values() if i is not None}
    rows = session.exec(
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
    if not rows:
        return None
    actors_of: dict[int, set[int]] = defaultdict(set)
    for event_id, actor_id in session.exec(
        select(EventActor.event_id, EventActor.actor_id).where(
            col(EventActor.event_id).in_([r[0] for r in rows])
        )
    ):
        actors_of[event_id].add(actor_id)
    words = content_words(proposal.sentence)
    span = None
    if proposal.date is not None:
        fuzzy = parse_date(proposal.date)
        span = (fuzzy.start, fuzzy.end)
    best: tuple[float, int, str] | None = None
    for event_id, title, start, precision in rows:
        theirs = actors_of[event_id]
        if len(theirs & wanted) < MIN_SHARED_ACTORS * len(theirs | wanted):
            continue
        if span is not None and (start > span[1] or date_end(start, precision) < span[0]):
            continue
        title_words = content_words(title)
        if not title_words:
            continue
        share = len(title_words & words) / len(title_words)
        if share >= MIN_TITLE_WORDS and (best is None or share > best[0]):
            best = (share, event_id, title)
    return (best[1], best[2]) if best else None
