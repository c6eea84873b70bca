"""What readers may see: published entries only."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from knowledge.models import (
    Entry,
    EntryState,
)

PUBLISHED = EntryState.PUBLISHED


HIDDEN_STATES = [state.value for state in EntryState if state != PUBLISHED]


def hidden_ids() -> SelectOfScalar[int | None]:
    # Retracted entries are few, so leaving them out by id is far cheaper than joining every
    # listed row to `entry` to check its state.
    return select(col(Entry.id)).where(col(Entry.state).in_(HIDDEN_STATES))
