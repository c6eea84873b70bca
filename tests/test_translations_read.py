"""Reading entries in Ukrainian: the translation when asked for, the original (flagged, and
marked by the presenters) where there is none, English by default."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.presenters.entries import ORIGINAL_MARK, event_card, source_card
from bot.presenters.entries import timeline_page as render_timeline
from bot.presenters.search import search_page
from knowledge.models import Entry
from knowledge.read.actors import actors_by_kind
from knowledge.read.entries import actor_detail, event_detail, source_detail
from knowledge.read.search import search
from knowledge.read.sources import source_overview
from knowledge.read.timeline import TimelineFilter, timeline_page
from knowledge.storage.database import session_scope
from knowledge.write.curation import Author, update_entry

MODERATOR = Author(7, "Olena")


def _id(session: Session, kind: str, slug: str) -> int:
    entry_id = session.exec(select(Entry.id).where(Entry.kind == kind, Entry.slug == slug)).one()
    assert entry_id is not None
    return entry_id


@pytest.mark.usefixtures("backend")
def test_an_event_comes_back_in_ukrainian_when_asked(engine: Engine) -> None:
    with session_scope(engine) as session:
        event_id = _id(session, "event", "full-scale-invasion")
        english = event_detail(session=session, event_id=event_id)
        ukrainian = event_detail(session=session, event_id=event_id, language="uk")
    assert english is not None and ukrainian is not None
    assert english.title == "Russia begins its full-scale invasion of Ukraine"
    assert ukrainian.title == "Росія починає повномасштабне вторгнення в Україну"
    assert ukrainian.summary.startswith("Брифінг описує російську кампанію")
    assert ukrainian.untranslated == english.untranslated == ()
    assert {a.name for a in ukrainian.actors} == {"Росія", "Україна", "Київ"}
    assert "Публічні відомості" in {c.source_name for c in ukrainian.citations}
    card = event_card(ukrainian).parts[0]
    # Every field is translated: the only marks are the citations' notes, curated in English.
    notes = sum(1 for c in ukrainian.citations if c.note)
    assert "повномасштабне вторгнення" in card and card.count(ORIGINAL_MARK) == notes


def test_actors_sources_timeline_and_search_in_ukrainian(engine: Engine) -> None:
    with session_scope(engine) as session:
        yermak = actor_detail(
            session=session, actor_id=_id(session, "actor", "andriy-yermak"), language="uk"
        )
        briefing = source_detail(
            session=session, source_id=_id(session, "source", "briefing"), language="uk"
        )
        page = timeline_page(session=session, flt=TimelineFilter(), limit=20, language="uk")
        english_page = timeline_page(session=session, flt=TimelineFilter(), limit=20)
        found = search(session=session, text="вторгнення", language="uk")
        people = actors_by_kind(session=session, language="uk")["person"][0]
        sources = source_overview(session=session, language="uk")
    assert yermak is not None and briefing is not None
    assert (yermak.name, yermak.role) == ("Андрій Єрмак", "Керівник Офісу Президента України")
    assert "Андрій Єрмак" not in yermak.aliases and yermak.aliases[0] == "Andriy Yermak"
    assert yermak.events[0].title == "Єрмака призначено керівником Офісу Президента України"
    assert briefing.reliability.startswith("Власні твердження брифінгу")
    assert all(ref.name and not ref.untranslated for ref in briefing.backs)
    assert [line.id for line in page.items] == [line.id for line in english_page.items]
    assert english_page.items[0].title.startswith("Yermak named head")
    assert page.items[0].title.startswith("Єрмака призначено")
    assert found.items[0].title == "Росія починає повномасштабне вторгнення в Україну"
    assert [ref.name for ref in people] == ["Андрій Єрмак", "Володимир Зеленський"]
    assert all(line.name and not line.untranslated for line in sources)


def test_a_missing_translation_falls_back_to_the_original_with_a_mark(engine: Engine) -> None:
    with session_scope(engine) as session:
        event_id = _id(session, "event", "full-scale-invasion")
        source_id = _id(session, "source", "public-record")
        update_entry(session, event_id, {"summary.uk": None}, author=MODERATOR)
        update_entry(session, source_id, {"uk": {}}, author=MODERATOR)
    with session_scope(engine) as session:
        detail = event_detail(session=session, event_id=event_id, language="uk")
        source = source_detail(session=session, source_id=source_id, language="uk")
        page = search(session=session, text="Public record", language="uk")
        english = event_detail(session=session, event_id=event_id)
    assert detail is not None and source is not None and english is not None
    assert detail.title == "Росія починає повномасштабне вторгнення в Україну"
    assert detail.summary == english.summary and detail.untranslated == ("summary",)
    assert english.untranslated == ()
    public_record = next(c for c in detail.citations if c.source_id == source_id)
    assert public_record.source_name == "Public record" and public_record.untranslated
    assert source.untranslated == ("name", "reliability")
    card = event_card(detail).parts[0]
    # The English summary is there, marked; so is the untranslated source's name (and, as
    # always outside English, the citations' notes).
    assert f"{english.summary[:40]}" in card
    assert card.count(ORIGINAL_MARK) == 2 + sum(1 for c in detail.citations if c.note)
    source_text = source_card(source).parts[0]
    assert source_text.count(ORIGINAL_MARK) == 2 and "Public record" in source_text
    result = next(r for r in page.items if r.id == source_id)
    assert result.untranslated and ORIGINAL_MARK in search_page("Public record", 1, page).parts[0]


def test_an_untranslated_event_is_marked_on_the_timeline(engine: Engine) -> None:
    with session_scope(engine) as session:
        event_id = _id(session, "event", "full-scale-invasion")
        update_entry(session, event_id, {"uk": {}}, author=MODERATOR)
    with session_scope(engine) as session:
        page = timeline_page(session=session, flt=TimelineFilter(), limit=20, language="uk")
    line = next(line for line in page.items if line.id == event_id)
    assert line.untranslated and line.title == "Russia begins its full-scale invasion of Ukraine"
    assert sum(line.untranslated for line in page.items) == 1
    text = render_timeline(page, "", "-").parts[0]
    assert f"Russia begins its full-scale invasion of Ukraine {ORIGINAL_MARK}" in text


def test_date_labels_are_shown_in_the_readers_language(engine: Engine) -> None:
    """An undated item's label (what the curators estimate, and why) is prose like its title:
    translated in every listing and card, the original where a label has no translation."""
    from knowledge.read.questions import answer_question, in_language

    with session_scope(engine) as session:
        event_id = _id(session, "event", "yermak-says-nato-membership-would-help-end-war")
        other_id = _id(session, "event", "no-near-term-acceleration-of-membership")
        page = timeline_page(session=session, flt=TimelineFilter(), limit=30, language="uk")
        card = event_detail(session=session, event_id=event_id, language="uk")
        found = search(session=session, text="Єрмак", language="uk")
        before = in_language(
            session,
            answer_question(session=session, text="What happened before the Vilnius summit?"),
            "uk",
        )
        update_entry(session, other_id, {"date_label.uk": None}, author=MODERATOR)
    with session_scope(engine) as session:
        fallback = event_detail(session=session, event_id=other_id, language="uk")
    line = next(item for item in page.items if item.id == event_id)
    assert line.date_text.startswith("без дати («нещодавно» в брифінгу); оцінка кураторів")
    assert card is not None and card.date_text == line.date_text
    assert any(r.subtitle == line.date_text for r in found.items if r.id == event_id)
    assert before.anchor is not None and before.anchor.title.startswith("Вільнюський саміт")
    assert [c.rank for c in before.entries] == sorted(c.rank for c in before.entries)
    assert fallback is not None and fallback.date_text.startswith("undated; curators' estimate")


def test_citation_notes_in_english_are_marked_in_another_language(engine: Engine) -> None:
    with session_scope(engine) as session:
        event_id = _id(session, "event", "yermak-says-nato-membership-would-help-end-war")
        ukrainian = event_detail(session=session, event_id=event_id, language="uk")
        english = event_detail(session=session, event_id=event_id)
    assert ukrainian is not None and english is not None
    noted = [c for c in ukrainian.citations if c.note]
    assert noted and all(c.note_untranslated for c in noted)
    assert not any(c.note_untranslated for c in english.citations)
    card = event_card(ukrainian, language="uk").parts[0]
    assert card.count(ORIGINAL_MARK) >= len(noted)
    assert ORIGINAL_MARK not in event_card(english).parts[0]
