"""Curation in chat, end to end through the strict fake Bot API — on SQLite and PostgreSQL.

Each test drives the real Application: a moderator's command goes in, the bot's replies come
out of the fake, and the database is checked for exactly the change (or none) expected.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine, func
from sqlmodel import col, select

from knowledge.models import AuditRecord, Draft, Entry, Event, Moderator, Revision, Source
from knowledge.read.search import search
from knowledge.storage.database import session_scope
from tests.conftest import MODERATOR_ID, OWNER_ID, USER_ID
from tests.fakebotapi import FakeBotAPI, SentMessage
from tests.harness import BotHarness

pytestmark = pytest.mark.usefixtures("backend")

KLYMENKO = "Klymenko Time"
ADDED = re.compile(r"Added (?:event|actor|source) <b>#(\d+)</b>")


def counts(engine: Engine) -> tuple[int, int, int]:
    """Entries, revisions and drafts: what any refused or invalid command must leave alone."""
    with session_scope(engine) as session:
        return (
            session.exec(select(func.count()).select_from(Entry)).one(),
            session.exec(select(func.count()).select_from(Revision)).one(),
            session.exec(select(func.count()).select_from(Draft)).one(),
        )


def audit_of(engine: Engine, user_id: int) -> list[AuditRecord]:
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(AuditRecord)
                .where(AuditRecord.user_id == user_id)
                .order_by(col(AuditRecord.id))
            )
        )


def text_of(messages: list[SentMessage]) -> str:
    return "\n".join(m.text for m in messages)


def added_id(messages: list[SentMessage]) -> int:
    match = ADDED.search(text_of(messages))
    assert match, text_of(messages)
    return int(match.group(1))


def event_id(engine: Engine, slug: str) -> int:
    with session_scope(engine) as session:
        found = session.exec(
            select(Entry.id).where(Entry.kind == "event", Entry.slug == slug)
        ).one()
    assert found is not None
    return found


async def owner(harness: BotHarness, text: str) -> list[SentMessage]:
    return await harness.send(text, chat_id=OWNER_ID)


@pytest.fixture
async def moderated(fake_api: FakeBotAPI, engine: Engine) -> AsyncIterator[BotHarness]:
    """The bot with one owner and one moderator (added through the database, as /mod does)."""
    with session_scope(engine) as session:
        session.add(Moderator(user_id=MODERATOR_ID, added_by=OWNER_ID, name="Mo"))
    async with BotHarness(fake_api, engine, admin_ids={OWNER_ID}) as bot:
        yield bot


# --- adding -----------------------------------------------------------------------------------


async def test_add_event_publishes_at_once_with_id_and_preview(
    harness: BotHarness, engine: Engine
) -> None:
    replies = await owner(
        harness, "/add_event 2024-03-05 | Allies meet in Kyiv | A summary. | klymenko time"
    )
    new_id = added_id(replies)
    assert f"#{new_id}" in replies[0].plain
    assert "Allies meet in Kyiv" in replies[0].plain and "5 Mar 2024" in replies[0].plain
    assert KLYMENKO in replies[0].plain  # the source, resolved ignoring case
    with session_scope(engine) as session:
        revision = session.exec(select(Revision).where(Revision.entry_id == new_id)).one()
        assert (revision.action, revision.author_id, revision.before) == ("create", OWNER_ID, None)
        assert revision.after is not None and revision.after["precision"] == "day"
    # Subscribers see it at once.
    timeline = await harness.send("/timeline 2024", chat_id=USER_ID)
    assert "Allies meet in Kyiv" in timeline[0].plain
    card = await harness.send(f"/event {new_id}", chat_id=USER_ID)
    assert "A summary." in card[0].plain


async def test_add_actor_and_source(harness: BotHarness, engine: Engine) -> None:
    replies = await owner(
        harness, "/add_source Kyiv Independent | news_outlet | https://kyivindependent.com"
    )
    source_id = added_id(replies)
    assert "Kyiv Independent" in replies[0].plain
    replies = await owner(
        harness,
        "/add_actor Olha Stefanishyna | person | Deputy Prime Minister | Ольга, Stefanishina",
    )
    actor_id = added_id(replies)
    assert "Deputy Prime Minister" in replies[0].plain
    who = await harness.send("/who Ольга", chat_id=USER_ID)
    assert "Olha Stefanishyna" in who[0].plain
    with session_scope(engine) as session:
        source = session.get_one(Source, source_id)
        assert (source.url, source.kind) == ("https://kyivindependent.com", "news_outlet")
    # An event citing the new source, naming it in another case.
    replies = await owner(harness, "/add_event 2024 | A new event | - | KYIV INDEPENDENT")
    assert "Kyiv Independent" in replies[0].plain
    assert actor_id != source_id


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/add_event 2024-02-30 | Title | S | Klymenko Time", "February 2024 has 29 days"),
        ("/add_event 2024-13 | Title | S | Klymenko Time", "no month 13"),
        ("/add_event 24 Feb 2022 | Title | S | Klymenko Time", "is not a date"),
        ("/add_event 2024 |  | S | Klymenko Time", "title must not be empty"),
        ("/add_event 2024 | " + "T" * 201 + " | S | Klymenko Time", "the limit is 200"),
        ("/add_event 2024 | Title | " + "S" * 2001 + " | Klymenko Time", "the limit is 2000"),
        ("/add_event 2024 | Title | S", "expected 4 parts"),
        ("/add_event 2024 | Title | S | ", "needs at least one source"),
        ("/add_actor " + "N" * 201 + " | person", "the limit is 200"),
        ("/add_actor Someone | wizard", "kind “wizard” is not one of"),
        ("/add_source Klymenko time | telegram_channel | -", "already exists"),
        ("/add_source New | official | ftp://example.org", "url must start with http"),
        ("/edit 99999 | title | X", "there is no entry #99999"),
        ("/edit twelve | title | X", "is not an entry number"),
        ("/retract 99999 | duplicate", "there is no entry #99999"),
        ("/retract 5", "expected 2 parts"),
        ("/undo 99999", "there is no entry #99999"),
        ("/history 99999", "there is no entry #99999"),
    ],
)
async def test_invalid_commands_explain_and_change_nothing(
    harness: BotHarness, engine: Engine, command: str, expected: str
) -> None:
    before = counts(engine)
    replies = await owner(harness, command)
    assert len(replies) == 1
    assert expected.lower() in replies[0].plain.lower()
    assert "Nothing was changed" in replies[0].plain
    assert counts(engine) == before
    assert audit_of(engine, OWNER_ID)[-1].outcome.startswith("invalid:")


async def test_unknown_source_offers_to_create_it(harness: BotHarness, engine: Engine) -> None:
    before = counts(engine)
    replies = await owner(harness, "/add_event 2024 | Title | S | Klymenko Tme; Nowhere News")
    text = replies[0].plain
    assert "No source is called “Klymenko Tme”" in text
    assert "did you mean “Klymenko Time”" in text
    assert "/add_source Klymenko Tme | KIND | URL" in text
    assert counts(engine) == before


async def test_same_title_same_date_asks_before_saving(
    harness: BotHarness, engine: Engine
) -> None:
    existing = event_id(engine, "vilnius-summit-2023")
    command = (
        "/add_event 2023-07-11 | NATO Vilnius summit ends without a formal accession "
        "timetable for  UKRAINE | Again. | Klymenko Time"
    )
    before = counts(engine)
    replies = await owner(harness, command)
    question = replies[-1]
    assert f"already exists: #{existing}" in question.plain
    entries, revisions, drafts = counts(engine)
    assert (entries, revisions) == before[:2]  # only a Draft row waits for the answer
    assert drafts == before[2] + 1
    yes, no = (b["callback_data"] for b in question.buttons)
    assert re.fullmatch(r"mc:y:\d+", yes) and re.fullmatch(r"mc:n:\d+", no)

    # Cancel drops it; pressing again afterwards changes nothing either.
    cancelled = await harness.press(question, no, user_id=OWNER_ID)
    assert "Nothing was saved" in cancelled[-1].plain
    assert counts(engine)[:2] == before[:2]

    again = await owner(harness, command)
    saved = await harness.press(again[-1], again[-1].buttons[0]["callback_data"], user_id=OWNER_ID)
    new_id = added_id(saved)
    assert new_id != existing
    assert counts(engine)[:2] == (before[0] + 1, before[1] + 1)
    # The answered question lost its buttons: it cannot be answered twice.
    assert harness.fake.get_message(OWNER_ID, again[-1].message_id).reply_markup is None


# --- editing ----------------------------------------------------------------------------------


async def test_edit_fields_including_date_sources_and_actors(
    harness: BotHarness, engine: Engine
) -> None:
    eid = event_id(engine, "western-sanctions-on-russia")  # 2022-02, precision month
    replies = await owner(harness, f"/edit {eid} | date | 2022-02-26")
    assert f"#{eid}" in replies[0].plain and "26 Feb 2022" in replies[0].plain
    with session_scope(engine) as session:
        assert session.get_one(Event, eid).precision == "day"
    # An approximate date stays approximate (and keeps its label) when the date moves.
    approx = event_id(engine, "no-near-term-acceleration-of-membership")
    replies = await owner(harness, f"/edit {approx} | date | 2023-08")
    assert "after the Vilnius summit" in replies[0].plain
    with session_scope(engine) as session:
        moved = session.get_one(Event, approx)
        assert (moved.precision, moved.date_start.isoformat()) == ("approximate", "2023-08-01")

    replies = await owner(harness, f"/edit #{eid} | title | A sharper title")
    assert "Edited <b>#" in replies[0].text and "A sharper title" in replies[0].plain

    replies = await owner(harness, f"/edit {eid} | sources | public record, KLYMENKO TIME")
    assert "Public record" in replies[0].plain and KLYMENKO in replies[0].plain

    replies = await owner(harness, f"/edit {eid} | actors | Єрмак, NATO")
    assert "Andriy Yermak" in replies[0].plain and "NATO" in replies[0].plain

    replies = await owner(harness, f"/edit {eid} | precision | month")
    assert "Feb 2022" in replies[0].plain and "26 Feb" not in replies[0].plain

    replies = await owner(harness, f"/edit {eid} | colour | blue")
    assert "editable: date, precision, date_label, title, summary" in replies[0].plain

    replies = await owner(harness, f"/edit {eid} | title | A sharper title")
    assert "Nothing changed" in replies[0].plain


async def test_retract_hides_from_lists_but_keeps_the_entry(
    harness: BotHarness, engine: Engine
) -> None:
    eid = event_id(engine, "vilnius-summit-2023")
    replies = await owner(harness, f"/retract {eid} | Duplicate of a better entry")
    assert f"#{eid}" in replies[0].plain and "Retracted: Duplicate of a better entry" in (
        replies[0].plain
    )
    timeline = await harness.send("/timeline 2023-07", chat_id=USER_ID)
    assert f"#{eid}" not in timeline[0].plain
    card = await harness.send(f"/event {eid}", chat_id=USER_ID)
    assert "Duplicate of a better entry" in card[0].plain
    before = counts(engine)
    again = await owner(harness, f"/retract {eid} | twice")
    assert f"#{eid} is already retracted" in again[0].plain
    assert counts(engine) == before


async def test_history_and_undo(harness: BotHarness, engine: Engine) -> None:
    eid = event_id(engine, "vilnius-summit-2023")
    with session_scope(engine) as session:
        old_title = session.get_one(Event, eid).title
    await owner(harness, f"/edit {eid} | title | Renamed summit")
    await owner(harness, f"/edit {eid} | status | claimed")

    history = await owner(harness, f"/history {eid}")
    text = text_of(history)
    assert "3 revisions" in text
    assert "status: confirmed → claimed" in text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC · edit · Tester \(1001\)", text)
    assert "title: NATO Vilnius summit ends" in text and "→ Renamed summit" in text
    assert all(len(m.text) <= 4096 for m in history)

    # Undo the status edit: the old value comes back, and the undo is a revision of its own.
    replies = await owner(harness, f"/undo {eid}")
    assert f"#{eid}" in replies[0].plain and "confirmed" in replies[0].plain
    with session_scope(engine) as session:
        assert session.get_one(Event, eid).status == "confirmed"
    await owner(harness, f"/undo {eid}")  # undoes the undo: claimed again
    with session_scope(engine) as session:
        event = session.get_one(Event, eid)
        assert (event.title, event.status) == ("Renamed summit", "claimed")
        actions = list(
            session.exec(
                select(Revision.action).where(Revision.entry_id == eid).order_by(col(Revision.id))
            )
        )
    assert actions == ["import", "edit", "edit", "undo", "undo"]
    assert old_title != "Renamed summit"


async def test_undo_of_an_edit_restores_and_undo_of_a_creation_retracts(
    harness: BotHarness, engine: Engine
) -> None:
    new_id = added_id(await owner(harness, "/add_event 2024-05 | Fresh | S | Public record"))
    await owner(harness, f"/edit {new_id} | summary | Changed")
    await owner(harness, f"/undo {new_id}")
    with session_scope(engine) as session:
        assert session.get_one(Event, new_id).summary == "S"
    await owner(harness, f"/undo {new_id}")  # the undo itself is undone: "Changed" again
    await owner(harness, f"/undo {new_id}")  # and again: back to "S"
    with session_scope(engine) as session:
        revisions = session.exec(
            select(Revision).where(Revision.entry_id == new_id).order_by(col(Revision.id))
        ).all()
        assert [r.action for r in revisions] == ["create", "edit", "undo", "undo", "undo"]
        assert session.get_one(Event, new_id).summary == "S"

    only_created = added_id(
        await owner(harness, "/add_event 2024-06 | Brand new | S | Public record")
    )
    replies = await owner(harness, f"/undo {only_created}")
    assert "Retracted: undo of its creation" in replies[0].plain
    with session_scope(engine) as session:
        assert session.get_one(Entry, only_created).state == "retracted"


# --- import and export ------------------------------------------------------------------------


async def _upload(harness: BotHarness, content: bytes, name: str, caption: str = "/import"):
    document = harness.fake.add_file(f"file-{name}-{len(content)}", content, name, "text/yaml")
    return await harness.send(caption, chat_id=OWNER_ID, document=document)


async def test_export_then_import_round_trips_unchanged(
    harness: BotHarness, engine: Engine
) -> None:
    await owner(harness, f"/retract {event_id(engine, 'vilnius-summit-2023')} | test")
    sent = await owner(harness, "/export")
    document = sent[-1]
    assert document.kind == "document" and document.filename.endswith(".yaml")
    assert document.document is not None and b"vilnius-summit-2023" in document.document
    before = counts(engine)
    replies = await _upload(harness, document.document, "export.yaml")
    assert "0 added, 0 updated" in replies[0].plain
    assert counts(engine) == before


async def test_import_applies_a_whole_file_and_reports(
    harness: BotHarness, engine: Engine
) -> None:
    yaml_text = (
        "sources:\n"
        "  - slug: wire\n    name: Wire\n    kind: news_outlet\n"
        "events:\n"
        "  - slug: wire-story\n    date: '2024-02'\n    title: A wire story\n"
        "    citations: [{source: wire}]\n"
    )
    replies = await _upload(harness, yaml_text.encode(), "new.yaml")
    assert "2 added, 0 updated" in replies[0].plain
    with session_scope(engine) as session:
        revision = session.exec(select(Revision).order_by(col(Revision.id).desc())).first()
        assert revision is not None and (revision.action, revision.author_id) == (
            "import",
            OWNER_ID,
        )


async def test_a_broken_file_changes_nothing_and_names_the_line(
    harness: BotHarness, engine: Engine
) -> None:
    broken = (
        "sources:\n"
        "  - slug: wire\n    name: Wire\n    kind: news_outlet\n"
        "events:\n"
        "  - slug: fine\n    date: '2024-02'\n    title: Fine\n    citations: [{source: wire}]\n"
        "  - slug: bad\n    date: '2024-02-30'\n    title: Bad\n    citations: [{source: wire}]\n"
    )
    before = counts(engine)
    replies = await _upload(harness, broken.encode(), "broken.yaml")
    assert "Nothing was imported" in replies[0].plain
    assert "broken.yaml:10: events[1]: date:" in replies[0].plain
    assert counts(engine) == before


# --- review -----------------------------------------------------------------------------------


@pytest.fixture
async def reviewed(fake_api: FakeBotAPI, engine: Engine) -> AsyncIterator[BotHarness]:
    with session_scope(engine) as session:
        session.add(Moderator(user_id=MODERATOR_ID, added_by=OWNER_ID, name="Mo"))
    async with BotHarness(fake_api, engine, admin_ids={OWNER_ID}, review_required=True) as bot:
        yield bot


async def test_review_keeps_drafts_invisible_until_another_moderator_approves(
    reviewed: BotHarness, engine: Engine
) -> None:
    entries, revisions, _ = counts(engine)
    replies = await reviewed.send(
        "/add_event 2024-04-04 | Drafted event | S | Public record", chat_id=MODERATOR_ID
    )
    assert "Saved as <b>draft" in replies[0].text and "Drafted event" in replies[0].plain
    draft_id = int(re.search(r"draft (\d+)", replies[0].plain).group(1))
    assert counts(engine)[:2] == (entries, revisions)  # no entry, no revision: digests see nothing
    timeline = await reviewed.send("/timeline 2024", chat_id=USER_ID)
    assert "Drafted event" not in timeline[0].plain
    with session_scope(engine) as session:
        assert search(session=session, text="Drafted").total == 0

    pending = await reviewed.send("/pending", chat_id=OWNER_ID)
    assert f"draft {draft_id}" in pending[0].plain and "Drafted event" in pending[0].plain

    own = await reviewed.send(f"/approve {draft_id}", chat_id=MODERATOR_ID)
    assert "You cannot approve your own draft" in own[0].plain
    assert counts(engine)[:2] == (entries, revisions)

    approved = await reviewed.send(f"/approve {draft_id}", chat_id=OWNER_ID)
    new_id = added_id(approved)
    assert f"draft {draft_id} approved" in approved[0].plain
    with session_scope(engine) as session:
        revision = session.exec(select(Revision).where(Revision.entry_id == new_id)).one()
        assert revision.author_id == MODERATOR_ID  # the change is the author's…
        assert f"approved by Tester ({OWNER_ID})" in revision.note  # …approved by the owner
        assert session.get_one(Draft, draft_id).state == "applied"
    # The author hears about it.
    assert any(
        f"draft {draft_id} was approved" in m.plain
        for m in reviewed.fake.messages_to(MODERATOR_ID)
    )
    again = await reviewed.send(f"/approve {draft_id}", chat_id=OWNER_ID)
    assert "is applied, not pending" in again[0].plain


async def test_review_edits_and_rejections(reviewed: BotHarness, engine: Engine) -> None:
    eid = event_id(engine, "vilnius-summit-2023")
    replies = await reviewed.send(f"/edit {eid} | title | Under review", chat_id=OWNER_ID)
    draft_id = int(re.search(r"draft (\d+)", replies[0].plain).group(1))
    with session_scope(engine) as session:
        assert session.get_one(Event, eid).title != "Under review"
    before = counts(engine)
    no_reason = await reviewed.send(f"/reject {draft_id}", chat_id=MODERATOR_ID)
    assert "Usage: /reject DRAFT | REASON" in no_reason[0].plain
    rejected = await reviewed.send(f"/reject {draft_id} | not sourced", chat_id=MODERATOR_ID)
    assert f"Draft {draft_id} rejected: not sourced" in rejected[0].plain
    assert counts(engine) == before
    with session_scope(engine) as session:
        assert session.get_one(Draft, draft_id).state == "rejected"
    assert "No drafts" in (await reviewed.send("/pending", chat_id=OWNER_ID))[0].plain


# --- durability -------------------------------------------------------------------------------


async def test_entries_added_in_chat_survive_a_restart(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    async with BotHarness(fake_api, engine, admin_ids={OWNER_ID}) as first:
        new_id = added_id(
            await first.send("/add_event 2024-08 | Kept | S | Public record", chat_id=OWNER_ID)
        )
        await first.send(f"/edit {new_id} | title | Kept after restart", chat_id=OWNER_ID)
    async with BotHarness(fake_api, engine, admin_ids={OWNER_ID}) as second:
        card = await second.send(f"/event {new_id}", chat_id=USER_ID)
        assert "Kept after restart" in card[0].plain
        history = await second.send(f"/history {new_id}", chat_id=OWNER_ID)
        assert "2 revisions" in history[0].plain


# --- refusals ---------------------------------------------------------------------------------


async def test_non_moderators_are_refused_and_recorded(
    moderated: BotHarness, engine: Engine
) -> None:
    eid = event_id(engine, "vilnius-summit-2023")
    before = counts(engine)
    for command in (
        f"/edit {eid} | title | Vandalised",
        "/add_event 2024 | X | Y | Public record",
        f"/retract {eid} | no",
        f"/undo {eid}",
        "/export",
    ):
        replies = await moderated.send(command, chat_id=USER_ID)
        assert [m.plain for m in replies] == ["This command is for moderators."]
    assert counts(engine) == before
    records = audit_of(engine, USER_ID)
    assert len(records) == 5
    assert all(r.outcome == "refused: not a moderator" for r in records)
    assert records[0].command.startswith("/edit")
    # A moderator (not an owner) may curate.
    ok = await moderated.send(f"/edit {eid} | title | Moderated", chat_id=MODERATOR_ID)
    assert "Edited" in ok[0].plain
