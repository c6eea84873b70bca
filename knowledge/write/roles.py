"""Who may curate: owners come from configuration, moderators from the database."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import Session

from knowledge.models import Moderator


def is_owner(user_id: int | None, owners: Collection[int]) -> bool:
    return user_id is not None and user_id in owners


def is_moderator(*, session: Session, user_id: int | None, owners: Collection[int]) -> bool:
    """Owners are moderators too; checked against the database on every call (no caching),
    so a removed moderator loses rights at once."""
    if user_id is None:
        return False
    return is_owner(user_id, owners) or session.get(Moderator, user_id) is not None
