"""The interface language each chat chose with /language: read per update, written on a choice."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from knowledge.models import ChatLanguage, utcnow


def chat_language(*, session: Session, chat_id: int) -> str | None:
    """The language the chat chose, or None when it never chose one."""
    row = session.get(ChatLanguage, chat_id)
    return row.language if row is not None else None


def chat_languages(*, session: Session, chat_ids: Iterable[int]) -> dict[int, str]:
    """The chosen language of each of these chats that chose one (one query)."""
    ids = list(set(chat_ids))
    if not ids:
        return {}
    rows = session.exec(
        select(ChatLanguage.chat_id, ChatLanguage.language).where(
            col(ChatLanguage.chat_id).in_(ids)
        )
    ).all()
    return dict(rows)


def set_chat_language(
    *, session: Session, chat_id: int, language: str, set_by: int | None
) -> bool:
    """Remember the chat's language; False when it already had that one (nothing written)."""
    row = session.get(ChatLanguage, chat_id)
    if row is not None and row.language == language:
        return False
    if row is None:
        row = ChatLanguage(chat_id=chat_id, language=language)
    row.language, row.set_by, row.updated_at = language, set_by, utcnow()
    session.add(row)
    return True
