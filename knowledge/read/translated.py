"""Entry text in a reader's language: the translation where there is one, else the original
with a flag saying so (presenters mark it; a field is never left empty)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from knowledge.models import ORIGINAL_LANGUAGE, TRANSLATION_LANGUAGES, Translation


def is_original(language: str) -> bool:
    """Whether text in `language` is the curated original itself (nothing to look up)."""
    return language == ORIGINAL_LANGUAGE or language not in TRANSLATION_LANGUAGES


def translations(
    session: Session, language: str, entry_ids: Iterable[int], fields: Iterable[str]
) -> dict[tuple[int, str], str]:
    """{(entry id, field): text} for the given entries and fields in `language`: one query
    for a whole page, none for the original language."""
    ids, wanted = list(dict.fromkeys(entry_ids)), list(fields)
    if not ids or not wanted or language not in TRANSLATION_LANGUAGES:
        return {}
    rows = session.exec(
        select(Translation.entry_id, Translation.field, Translation.text).where(
            Translation.language == language,
            col(Translation.entry_id).in_(ids),
            col(Translation.field).in_(wanted),
        )
    ).all()
    return {(entry_id, field): text for entry_id, field, text in rows}


class Translator:
    """One page's translations, fetched at once; `text()` picks the translation or the
    original, and `missing` keeps what had none (for the views' `untranslated` flags)."""

    def __init__(
        self, session: Session, language: str, entry_ids: Iterable[int], fields: Iterable[str]
    ) -> None:
        self.original = is_original(language)
        self.found = {} if self.original else translations(session, language, entry_ids, fields)

    def text(self, entry_id: int, field: str, original: str) -> tuple[str, bool]:
        """The field's text in the language, and whether it fell back to the original. An
        empty original has nothing to translate and counts as translated."""
        if self.original or not original:
            return original, False
        found = self.found.get((entry_id, field))
        return (found, False) if found else (original, True)
