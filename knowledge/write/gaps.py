"""Questions the briefing could not answer: kept (text only) for a retention period, so
moderators see what readers want to know (/gaps), and pruned after it."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from knowledge.language.lemmas import words
from knowledge.models import UnansweredQuestion, utcnow
from knowledge.read.views import Gap
from knowledge.storage.database import delete_older

GAP_TEXT = 300


def record_gap(*, session: Session, text: str, language: str, unsure: bool) -> None:
    """Keep a question the briefing could not answer: its words only, case-folded and cut to
    300 characters, with no trace of who asked."""
    normalised = " ".join(words(text))[:GAP_TEXT]
    if normalised:
        session.add(UnansweredQuestion(text=normalised, language=language[:8], unsure=unsure))


def top_gaps(*, session: Session, days: int, limit: int = 20) -> list[Gap]:
    """The most asked unanswered questions of the last `days` days."""
    since = utcnow() - timedelta(days=days)
    count = func.count().label("n")
    least_sure = func.min(sa.cast(col(UnansweredQuestion.unsure), sa.Integer))
    rows = session.exec(
        select(UnansweredQuestion.text, count, least_sure)
        .where(col(UnansweredQuestion.asked_at) >= since)
        .group_by(col(UnansweredQuestion.text))
        .order_by(count.desc(), col(UnansweredQuestion.text))
        .limit(limit)
    ).all()
    return [Gap(text, int(n), bool(unsure)) for text, n, unsure in rows]


def prune_gaps(*, session: Session, days: int) -> int:
    """Forget unanswered questions older than the retention period; how many went."""
    return delete_older(session, UnansweredQuestion, col(UnansweredQuestion.asked_at), days)
