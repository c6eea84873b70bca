"""What this knowledge base is: the briefing behind it, how much it holds, what changed lately."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from knowledge.models import ORIGINAL_LANGUAGE, Briefing, Entry, EntryKind, Revision, as_utc
from knowledge.read.entries import titled_refs
from knowledge.read.published import PUBLISHED
from knowledge.read.views import Ref
from knowledge.storage.cache import remembered

RECENT = 3


@dataclass(frozen=True)
class Overview:
    title: str
    summary: str
    origin: str
    url: str | None
    counts: dict[str, int]  # published entries by kind
    updated_at: datetime | None
    recent: list[Ref]  # the entries changed last, newest first


def overview(*, session: Session, language: str = ORIGINAL_LANGUAGE) -> Overview:
    """The first briefing loaded (or a neutral title), with counts and the latest changes
    (named in `language` where translated)."""
    return remembered(session, ("overview", language), lambda: _overview(session, language))


def _overview(session: Session, language: str) -> Overview:
    briefing = session.exec(select(Briefing).order_by(col(Briefing.id)).limit(1)).first()
    counts = {
        kind: int(n)
        for kind, n in session.exec(
            select(Entry.kind, func.count())
            .where(Entry.state == PUBLISHED)
            .group_by(col(Entry.kind))
        )
    }
    latest = session.exec(
        select(Revision.entry_id, Revision.at)
        .join(Entry, col(Entry.id) == col(Revision.entry_id))
        .where(Entry.state == PUBLISHED)
        .order_by(col(Revision.id).desc())
        .limit(RECENT * 4)
    ).all()
    recent_ids = list(dict.fromkeys(entry_id for entry_id, _ in latest))[:RECENT]
    recent = titled_refs(session=session, entry_ids=recent_ids, language=language)
    return Overview(
        title=briefing.title if briefing else "A curated briefing",
        summary=briefing.summary if briefing else "",
        origin=briefing.origin if briefing else "",
        url=briefing.url if briefing else None,
        counts={kind.value: counts.get(kind.value, 0) for kind in EntryKind},
        updated_at=as_utc(latest[0][1]) if latest else None,
        recent=recent,
    )
