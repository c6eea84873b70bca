"""A change feed in a reader's language: the entries' titles (and a new entry's summary or
role) as translated now, the original where a field has no translation."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session

from knowledge.digests.feed import ChangeFeed, EntryChange
from knowledge.read.translated import Translator, is_original

_TITLE = {"event": "title"}  # actors and sources are titled by their name
_DETAIL = ("summary", "role", "date_label")  # what an item shows beside its headline


def feed_in_language(*, session: Session, feed: ChangeFeed, language: str) -> ChangeFeed:
    """`feed` with its entries' text in `language` (one query for the whole feed)."""
    if is_original(language) or feed.empty:
        return feed
    changes = [*feed.new, *feed.updated, *feed.retracted]
    words = Translator(
        session, language, [c.entry_id for c in changes], ["title", "name", *_DETAIL]
    )

    def translated(change: EntryChange) -> EntryChange:
        title, _ = words.text(change.entry_id, _TITLE.get(change.kind, "name"), change.title)
        record = dict(change.record)
        for field in _DETAIL:
            if isinstance(record.get(field), str):
                record[field], _ = words.text(change.entry_id, field, record[field])
        return replace(change, title=title, record=record)

    return replace(
        feed,
        new=[translated(c) for c in feed.new],
        updated=[translated(c) for c in feed.updated],
        retracted=[translated(c) for c in feed.retracted],
    )
