"""What readers may see: published entries only, and which of them the briefing supports."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from knowledge.models import (
    Citation,
    Entry,
    EntryState,
    Source,
    SourceKind,
)

PUBLISHED = EntryState.PUBLISHED


HIDDEN_STATES = [state.value for state in EntryState if state != PUBLISHED]


def hidden_ids() -> SelectOfScalar[int | None]:
    # Retracted entries are few, so leaving them out by id is far cheaper than joining every
    # listed row to `entry` to check its state.
    return select(col(Entry.id)).where(col(Entry.state).in_(HIDDEN_STATES))


def briefing_cited() -> SelectOfScalar[int]:
    """Ids of entries with at least one citation from the briefing: any source but the public
    record, which marks what the curators added themselves."""
    return (
        select(col(Citation.entry_id))
        .join(Source, col(Source.id) == col(Citation.source_id))
        .where(col(Source.kind) != SourceKind.PUBLIC_RECORD)
    )


def briefing_backs(entry_id: Any) -> sa.Exists:
    """Whether the briefing supports the entry `entry_id` names (a column of the enclosing
    statement), as `briefing_cited` tells: a column, so that a list of entries needs no
    second statement to say which the briefing supports."""
    return (
        sa.select(sa.literal(1))
        .select_from(Citation)
        .join(Source, col(Source.id) == col(Citation.source_id))
        .where(col(Citation.entry_id) == entry_id, col(Source.kind) != SourceKind.PUBLIC_RECORD)
        .exists()
    )
