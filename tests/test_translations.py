"""Entries in Ukrainian as well: the bundled translations, their write path (revision, undo,
import and export) and the search index — on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import Engine
from sqlmodel import Session, select

from knowledge.models import TRANSLATABLE_FIELDS, Entry, Revision, Translation
from knowledge.read.search import search
from knowledge.storage.database import session_scope
from knowledge.write.curation import Author, undo_last, update_entry
from knowledge.write.history import history
from knowledge.write.importer import (
    BUNDLED_BRIEFING,
    BriefingError,
    export_briefing,
    import_briefing,
)
from knowledge.write.records import CurationError, snapshot

MODERATOR = Author(7, "Olena")
_SECTIONS = {"sources": "source", "actors": "actor", "events": "event"}


def _entry(session: Session, kind: str, slug: str) -> Entry:
    return session.exec(select(Entry).where(Entry.kind == kind, Entry.slug == slug)).one()


def _found(session: Session, text: str) -> list[str]:
    page = search(session=session, text=text, limit=20)
    slugs = []
    for item in page.items:
        entry = session.get(Entry, item.id)
        assert entry is not None
        slugs.append(entry.slug)
    return slugs


def test_the_bundled_briefing_has_every_field_in_ukrainian() -> None:
    data = yaml.safe_load(BUNDLED_BRIEFING.read_text(encoding="utf-8"))
    for section, kind in _SECTIONS.items():
        assert data[section]
        for item in data[section]:
            block = item.get("uk") or {}
            wanted = [f for f in TRANSLATABLE_FIELDS[kind] if item.get(f)]
            assert [f for f in wanted if not block.get(f)] == [], item["slug"]
            for field in wanted:
                if field in ("summary", "description", "reliability"):
                    # Ukrainian prose, not the English copied over.
                    assert block[field] != item[field]
                    assert sum("а" <= ch <= "я" for ch in block[field].lower()) > 20


def test_translations_are_loaded_with_the_briefing(backend: str, engine: Engine) -> None:
    with session_scope(engine) as session:
        entries = session.exec(select(Entry)).all()
        rows = session.exec(select(Translation)).all()
        invasion = snapshot(session, _entry(session, "event", "full-scale-invasion"))
    translated = {row.entry_id for row in rows}
    assert translated == {e.id for e in entries}
    assert invasion["uk"]["title"] == "Росія починає повномасштабне вторгнення в Україну"
    assert set(invasion["uk"]) == {"title", "summary"}


def test_a_ukrainian_word_finds_the_entry(backend: str, engine: Engine) -> None:
    with session_scope(engine) as session:
        assert "full-scale-invasion" in _found(session, "вторгнення")
        assert _found(session, "повномасштабне вторгнення")[0] == "full-scale-invasion"
        assert "andriy-yermak" in _found(session, "Керівник Офісу")
        # The English still finds it too.
        assert "full-scale-invasion" in _found(session, "full-scale invasion")


def test_a_translation_edit_is_a_revision_kept_in_the_index_and_undone(
    backend: str, engine: Engine
) -> None:
    with session_scope(engine) as session:
        entry = _entry(session, "event", "full-scale-invasion")
        assert entry.id is not None
        revision = update_entry(
            session, entry.id, {"title.uk": "Росія розпочинає широкомасштабний наступ"},
            author=MODERATOR,
        )  # fmt: skip
        assert revision is not None and revision.author_name == "Olena"
    with session_scope(engine) as session:
        assert "full-scale-invasion" in _found(session, "широкомасштабний")
        assert "full-scale-invasion" not in _found(session, "повномасштабне")
        page = history(session=session, entry_id=entry.id)
        last = page.items[-1]
        assert [c.field for c in last.changes] == ["title.uk"]
        assert last.changes[0].old == "Росія починає повномасштабне вторгнення в Україну"
        undo_last(session, entry.id, author=MODERATOR)
    with session_scope(engine) as session:
        again = snapshot(session, _entry(session, "event", "full-scale-invasion"))
        assert again["uk"]["title"] == "Росія починає повномасштабне вторгнення в Україну"
        assert "full-scale-invasion" not in _found(session, "широкомасштабний")


def test_undo_removes_a_translation_that_was_added(engine: Engine) -> None:
    with session_scope(engine) as session:
        entry = _entry(session, "actor", "kyiv")
        assert entry.id is not None
        update_entry(session, entry.id, {"uk": {}}, author=MODERATOR)
        assert "uk" not in snapshot(session, entry)
        update_entry(session, entry.id, {"role.uk": "Столиця"}, author=MODERATOR)
        assert snapshot(session, entry)["uk"] == {"role": "Столиця"}
        undo_last(session, entry.id, author=MODERATOR)
        assert "uk" not in snapshot(session, entry)
        assert (
            session.exec(select(Translation).where(Translation.entry_id == entry.id)).all() == []
        )


def test_export_and_import_round_trip_the_translations(backend: str, engine: Engine) -> None:
    with session_scope(engine) as session:
        exported = export_briefing(session)
        summary = import_briefing(session, exported, name="export.yaml")
        revisions = len(session.exec(select(Revision)).all())
    assert summary.added == [] and summary.updated == []
    data = yaml.safe_load(exported)
    invasion = next(e for e in data["events"] if e["slug"] == "full-scale-invasion")
    assert invasion["uk"]["title"] == "Росія починає повномасштабне вторгнення в Україну"
    # Changed in the file, the translation is changed on import, with its own revision.
    invasion["uk"]["title"] = "Повномасштабне вторгнення Росії"
    with session_scope(engine) as session:
        summary = import_briefing(session, yaml.safe_dump(data, allow_unicode=True))
        assert summary.updated == ["event:full-scale-invasion"]
        assert len(session.exec(select(Revision)).all()) == revisions + 1
        entry = _entry(session, "event", "full-scale-invasion")
        assert snapshot(session, entry)["uk"]["title"] == "Повномасштабне вторгнення Росії"


def test_a_file_without_translations_keeps_them_and_an_empty_block_removes_them(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        data = yaml.safe_load(export_briefing(session))
    for section in _SECTIONS:
        for item in data[section]:
            del item["uk"]
    with session_scope(engine) as session:
        summary = import_briefing(session, yaml.safe_dump(data, allow_unicode=True))
        assert summary.updated == []
        assert snapshot(session, _entry(session, "source", "briefing"))["uk"]["name"]
    data["sources"][4]["uk"] = {}
    with session_scope(engine) as session:
        summary = import_briefing(session, yaml.safe_dump(data, allow_unicode=True))
        assert summary.updated == [f"source:{data['sources'][4]['slug']}"]
        assert "uk" not in snapshot(session, _entry(session, "source", data["sources"][4]["slug"]))


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ("{status: підтверджено}", "events have no translated “status”"),
        ("[a, b]", "uk must be a mapping"),
        ("{title: [a, b]}", "title.uk must be text"),
        ("{title: " + "д" * 201 + "}", "title.uk is 201 characters; the limit is 200"),
    ],
)
def test_a_bad_translation_block_is_refused_with_its_line(
    engine: Engine, block: str, problem: str
) -> None:
    text = (
        "events:\n"
        "  - slug: x-event\n"
        "    date: '2023'\n"
        "    title: An event\n"
        "    citations: [briefing]\n"
        f"    uk: {block}\n"
    )
    with session_scope(engine) as session, pytest.raises(BriefingError) as caught:
        import_briefing(session, text, name="bad.yaml")
    [error] = caught.value.errors
    assert error.startswith("bad.yaml:2: events[0]: ") and problem in error


def test_an_edit_of_an_unknown_language_or_field_is_refused(engine: Engine) -> None:
    with session_scope(engine) as session:
        entry = _entry(session, "event", "full-scale-invasion")
        assert entry.id is not None
        with pytest.raises(CurationError, match="events have no translated “status”"):
            update_entry(session, entry.id, {"uk": {"status": "x"}}, author=MODERATOR)


def test_a_translation_change_is_listed_in_the_digest(engine: Engine) -> None:
    from bot.presenters.digest import digest
    from bot.presenters.html import to_plain
    from knowledge.digests.feed import changes_since, latest_revision_id

    with session_scope(engine) as session:
        cursor = latest_revision_id(session=session)
        entry = _entry(session, "event", "western-sanctions-on-russia")
        assert entry.id is not None
        update_entry(
            session, entry.id, {"summary.uk": "Санкції знову розширено."}, author=MODERATOR
        )
        feed = changes_since(session=session, cursor=cursor)
    text = to_plain("\n".join(digest(feed)))
    assert "summary.uk:" in text and "→ Санкції знову розширено." in text
