"""Where the facts come from: sources with their citation counts, and finding one by name."""

from __future__ import annotations

from rapidfuzz import fuzz, process
from sqlalchemy import func
from sqlmodel import Session, col, select

from knowledge.models import (
    ORIGINAL_LANGUAGE,
    Citation,
    Entry,
    Source,
)
from knowledge.read.published import HIDDEN_STATES, PUBLISHED, hidden_ids
from knowledge.read.translated import Translator
from knowledge.read.views import SourceLine
from knowledge.storage.cache import remembered


def citation_counts(session: Session) -> dict[int, int]:
    """How many published entries cite each source (remembered until a change)."""

    def compute() -> dict[int, int]:
        # Count all citations from the (source_id, entry_id) index, then take away the few
        # of retracted entries: far cheaper than checking every citing entry's state.
        counts = dict(
            session.exec(
                select(Citation.source_id, func.count()).group_by(col(Citation.source_id))
            ).all()
        )
        hidden = session.exec(
            select(Citation.source_id, func.count())
            .join(Entry, col(Entry.id) == col(Citation.entry_id))
            .where(col(Entry.state).in_(HIDDEN_STATES))
            .group_by(col(Citation.source_id))
        ).all()
        for source_id, n in hidden:
            counts[source_id] -= n
        return counts

    return remembered(session, ("citation-counts",), compute)


def source_overview(
    *, session: Session, limit: int | None = None, language: str = ORIGINAL_LANGUAGE
) -> list[SourceLine]:
    """Published sources with how many published entries cite each, most cited first
    (the first `limit` of them, when given), named in `language` where translated."""

    def compute() -> list[SourceLine]:
        counts = citation_counts(session)
        rows = session.exec(
            select(Source.id, Source.name, Source.kind).where(col(Source.id).not_in(hidden_ids()))
        ).all()
        names = Translator(session, language, [i for i, _, _ in rows], ["name"])
        lines = []
        for i, name, kind in rows:
            shown, untranslated = names.text(i, "name", name)
            lines.append(SourceLine(i, shown, kind, counts.get(i, 0), untranslated))
        return sorted(lines, key=lambda line: (-line.citations, line.name.casefold()))

    lines = remembered(session, ("source-overview", language), compute)
    return lines[:limit] if limit is not None else list(lines)


def find_source(*, session: Session, name: str) -> Source | None:
    """A published source by name (case-insensitive), or by a close spelling."""
    wanted = " ".join(name.split()).casefold()
    if not wanted:
        return None
    exact = session.exec(
        select(Source)
        .join(Entry, col(Entry.id) == col(Source.id))
        .where(Source.name_key == wanted, Entry.state == PUBLISHED)
    ).first()
    if exact is not None:
        return exact
    rows = session.exec(
        select(Source.id, Source.name_key)
        .join(Entry, col(Entry.id) == col(Source.id))
        .where(Entry.state == PUBLISHED)
        .limit(5000)
    ).all()
    found = process.extractOne(wanted, [r[1] for r in rows], scorer=fuzz.WRatio, score_cutoff=85)
    return session.get(Source, rows[found[2]][0]) if found else None
