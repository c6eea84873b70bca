"""Who curates: moderators kept in the database, added and removed by owners."""

from __future__ import annotations

from sqlmodel import Session, col, select

from knowledge.models import (
    Moderator,
)


def add_moderator(*, session: Session, user_id: int, added_by: int, name: str = "") -> bool:
    """Make a user a moderator; False if they already are one."""
    if session.get(Moderator, user_id) is not None:
        return False
    session.add(Moderator(user_id=user_id, added_by=added_by, name=name[:200]))
    session.flush()
    return True


def remove_moderator(*, session: Session, user_id: int) -> bool:
    """Take a moderator's rights away; False if they were not one."""
    moderator = session.get(Moderator, user_id)
    if moderator is None:
        return False
    session.delete(moderator)
    session.flush()
    return True


def list_moderators(*, session: Session) -> list[Moderator]:
    return list(session.exec(select(Moderator).order_by(col(Moderator.added_at))))


def moderator_ids(*, session: Session) -> list[int]:
    return list(session.exec(select(Moderator.user_id)))
