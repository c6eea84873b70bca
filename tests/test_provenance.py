"""Where each fact comes from shows everywhere a reader meets it: an entry that only the
curators' public-record additions support carries 🏛 in lists, cards, search, inline results
and digests, and `/timeline briefing` leaves such entries out."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from bot.presenters.entries import CURATORS_NOTE
from knowledge.models import Citation, Entry, EntryKind, Event, Source, SourceKind
from knowledge.storage.database import session_scope
from tests.harness import BotHarness

pytestmark = pytest.mark.usefixtures("backend")
MARK = "🏛"


def _events(engine: Engine) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(id, title) of events the briefing backs, and of those only public record backs."""
    with session_scope(engine) as session:
        public = set(
            session.exec(
                select(Citation.entry_id)
                .join(Source, col(Source.id) == col(Citation.source_id))
                .where(Source.kind == SourceKind.PUBLIC_RECORD)
            )
        )
        briefing = set(
            session.exec(
                select(Citation.entry_id)
                .join(Source, col(Source.id) == col(Citation.source_id))
                .where(Source.kind != SourceKind.PUBLIC_RECORD)
            )
        )
        events = session.exec(
            select(Event.id, Event.title).join(Entry, col(Entry.id) == col(Event.id))
        ).all()
        assert all(e for e in events)
    ours = [(i, t) for i, t in events if i in briefing]
    theirs = [(i, t) for i, t in events if i in public and i not in briefing]
    return ours, theirs


def _line_of(text: str, entry_id: int) -> str:
    return next(line for line in text.splitlines() if line.endswith(f"#{entry_id}"))


async def test_curators_additions_are_marked_in_lists_and_cards(
    harness: BotHarness, engine: Engine
) -> None:
    ours, theirs = _events(engine)
    assert ours and theirs, "the bundled briefing has both kinds"
    everything = await harness.send("/timeline 1900..2100")
    text = "\n".join(m.plain for m in everything)
    for entry_id, _ in theirs:
        if f"#{entry_id}" in text:
            assert MARK in _line_of(text, entry_id)
    for entry_id, _ in ours:
        if f"#{entry_id}" in text:
            assert MARK not in _line_of(text, entry_id)
    assert "curators' addition" in text

    card = (await harness.send(f"/event {theirs[0][0]}"))[0].plain
    assert CURATORS_NOTE in card
    plain_card = (await harness.send(f"/event {ours[0][0]}"))[0].plain
    assert CURATORS_NOTE not in plain_card


async def test_the_briefing_alone(harness: BotHarness, engine: Engine) -> None:
    ours, theirs = _events(engine)
    replies = await harness.send("/timeline briefing")
    text = "\n".join(m.plain for m in replies)
    assert "the briefing alone" in text
    assert all(f"#{entry_id}" not in text for entry_id, _ in theirs)
    assert MARK not in text.split("\n", 1)[1].rsplit("\n", 1)[0]  # no line carries it
    total = f"of {len(ours)}"
    assert total in text


async def test_search_and_inline_results_carry_the_mark(
    harness: BotHarness, engine: Engine
) -> None:
    _, theirs = _events(engine)
    entry_id, title = theirs[0]
    word = max(title.split(), key=len)
    found = (await harness.send(f"/search {word}"))[0].plain
    if f"#{entry_id}" in found:
        assert MARK in _line_of(found, entry_id)
    results = await harness.inline(word)
    cards = [r for r in results if r["id"].startswith(f"{entry_id}-")]
    assert all(CURATORS_NOTE in r["input_message_content"]["message_text"] for r in cards)


def test_kinds_of_source_that_count_as_the_briefing(engine: Engine) -> None:
    with session_scope(engine) as session:
        kinds = set(session.exec(select(Source.kind)))
        sources = session.exec(select(Entry).where(Entry.kind == EntryKind.SOURCE)).all()
    assert SourceKind.PUBLIC_RECORD in kinds and len(sources) > 1


async def test_event_says_when_a_number_is_another_kind(
    harness: BotHarness, engine: Engine
) -> None:
    with session_scope(engine) as session:
        source = session.exec(select(Entry.id).where(Entry.kind == EntryKind.SOURCE)).first()
        actor = session.exec(select(Entry.id).where(Entry.kind == EntryKind.ACTOR)).first()
    said = (await harness.send(f"/event {source}"))[0].plain
    assert said.startswith(f"#{source} is a source, not an event")
    said = (await harness.send(f"/event {actor}"))[0].plain
    assert said.startswith(f"#{actor} is a person or organisation, not an event")


async def test_search_shows_partial_matches_when_nothing_has_every_word(
    harness: BotHarness,
) -> None:
    both = (await harness.send("/search sanctions timetable"))[0].plain
    assert "Nothing matches" not in both
    assert "Nothing has every word" in both
    assert "has: sanctions" in both and "has: timetable" in both
    exact = (await harness.send("/search vilnius"))[0].plain
    assert "Nothing has every word" not in exact
    nothing = (await harness.send("/search zzzqqq xxyyzz"))[0].plain
    assert "Nothing matches" in nothing


async def test_a_misspelt_search_suggests_the_word_meant(harness: BotHarness) -> None:
    reply = (await harness.send("/search vilnus"))[0].plain
    assert "Nothing matches “vilnus”" in reply and "Did you mean /search vilnius?" in reply
    plain = (await harness.send("/search zzzqqq"))[0].plain
    assert "Did you mean" not in plain


async def test_entries_with_every_word_come_before_those_with_some(harness: BotHarness) -> None:
    reply = (await harness.send("/search nato klymenko"))[0].plain
    lines = [line for line in reply.splitlines() if line.endswith(tuple("0123456789"))][1:]
    has_some = [" · has: " in line for line in lines]
    assert has_some and not has_some[0], "entries with both words first"
    assert has_some == sorted(has_some), "then, and only then, those with some"
    assert "Entries with every word come first" in reply
