"""The guided /add flow, moderators and menus, audit, help, import edge cases and buttons —
end to end through the strict fake Bot API (SQLite; the curation core runs on both backends in
test_moderation.py)."""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select
from telegram.ext import ConversationHandler

from bot.menus import moderator_commands, owner_commands
from knowledge.models import AuditRecord, Draft, Entry, Event, Moderator, Revision
from knowledge.storage.database import session_scope
from tests.conftest import MODERATOR_ID, OWNER_ID, USER_ID
from tests.fakebotapi import FakeBotAPI, SentMessage, make_user
from tests.harness import BotHarness
from tests.test_moderation import added_id, audit_of, counts, event_id, owner, text_of

NEWCOMER = 3003


def chat_scope(chat_id: int) -> dict[str, Any]:
    return {"type": "chat", "chat_id": chat_id}


def command_names(commands: list[dict[str, Any]] | None) -> set[str]:
    return {c["command"] for c in commands or []}


@pytest.fixture
async def moderated(fake_api: FakeBotAPI, engine: Engine) -> AsyncIterator[BotHarness]:
    with session_scope(engine) as session:
        session.add(Moderator(user_id=MODERATOR_ID, added_by=OWNER_ID, name="Mo"))
    async with BotHarness(fake_api, engine, admin_ids={OWNER_ID}) as bot:
        yield bot


# --- the guided flow --------------------------------------------------------------------------


async def _answer(harness: BotHarness, text: str) -> SentMessage:
    replies = await owner(harness, text)
    assert len(replies) >= 1
    return replies[-1]


async def test_guided_add_event_validates_each_answer_and_saves_on_confirm(
    harness: BotHarness, engine: Engine
) -> None:
    before = counts(engine)
    start = await owner(harness, "/add")
    kinds = [b["callback_data"] for b in start[-1].buttons]
    assert kinds == ["add:k:event", "add:k:actor", "add:k:source", "add:no"]
    asked = await harness.press(start[-1], "add:k:event", user_id=OWNER_ID)
    assert "1/5" in asked[-1].plain and "YYYY-MM-DD" in asked[-1].plain

    retry = await _answer(harness, "2024-02-30")
    assert "February 2024 has 29 days" in retry.plain and "1/5" in retry.plain
    assert "2/5 Title" in (await _answer(harness, "2024-02-10")).plain
    assert "limit is 200" in (await _answer(harness, "T" * 201)).plain
    assert "3/5 Summary" in (await _answer(harness, "Allies agree a plan")).plain
    assert "4/5 Sources" in (await _answer(harness, "-")).plain
    unknown = await owner(harness, "Nowhere News")
    assert "No source is called “Nowhere News”" in text_of(unknown)
    assert "/add_source Nowhere News | KIND | URL" in unknown[0].plain
    assert "5/5 Actors" in (await _answer(harness, "klymenko time; public record")).plain
    preview = await _answer(harness, "Єрмак")

    assert "Preview" in preview.plain and "Allies agree a plan" in preview.plain
    assert "10 Feb 2024" in preview.plain and "Andriy Yermak" in preview.plain
    assert [b["callback_data"] for b in preview.buttons] == ["add:ok", "add:no"]
    assert counts(engine) == before  # nothing written until confirmed

    done = await harness.press(preview, "add:ok", user_id=OWNER_ID)
    new_id = added_id(done)
    with session_scope(engine) as session:
        assert session.get_one(Event, new_id).title == "Allies agree a plan"
    assert counts(engine)[:2] == (before[0] + 1, before[1] + 1)
    # The flow is over: plain text is no longer taken as an answer.
    after = await owner(harness, "hello")
    assert "The briefing doesn't cover that." in after[0].plain  # a question now


async def test_guided_add_source_and_cancel(harness: BotHarness, engine: Engine) -> None:
    before = counts(engine)
    start = await owner(harness, "/add")
    await harness.press(start[-1], "add:k:source", user_id=OWNER_ID)
    assert "already exists" in (await _answer(harness, "KLYMENKO TIME")).plain
    kind_question = await _answer(harness, "Kyiv Post")
    assert "telegram_channel" in kind_question.plain  # the choices are listed
    assert "must be one of" in (await _answer(harness, "blog")).plain
    await _answer(harness, "news outlet")
    cancelled = await _answer(harness, "/cancel")
    assert cancelled.plain == "Cancelled. Nothing was saved."
    assert counts(engine) == before
    assert (await owner(harness, "/cancel"))[0].plain == "There is nothing to cancel."

    # Typing the kind works as well as the buttons, and ✖ cancels from the preview.
    await owner(harness, "/add")
    await _answer(harness, "source")
    await _answer(harness, "Kyiv Post")
    await _answer(harness, "news_outlet")
    preview = await _answer(harness, "https://kyivpost.com")
    assert "Kyiv Post" in preview.plain and "news outlet" in preview.plain
    old_preview = copy.deepcopy(preview)  # as a client that missed the edit still shows it
    await harness.press(preview, "add:no", user_id=OWNER_ID)
    assert preview.reply_markup is None  # the buttons were taken off
    assert counts(engine) == before
    # An old preview's button after the flow ended is answered, not acted on.
    stale = await harness.press(old_preview, "add:ok", user_id=OWNER_ID)
    assert stale == []
    assert "This /add has ended" in (harness.fake.callback_answers[-1].text or "")
    assert counts(engine) == before


def _add_flow(harness: BotHarness) -> ConversationHandler[Any]:
    for handler in harness.app.handlers[0]:
        if isinstance(handler, ConversationHandler) and handler.name == "add_flow":
            return handler
    raise AssertionError("no add_flow conversation")


async def test_guided_add_expires_after_ten_minutes_leaving_nothing(
    harness: BotHarness, engine: Engine
) -> None:
    conversation = _add_flow(harness)
    assert conversation.conversation_timeout == 600
    before = counts(engine)
    start = await owner(harness, "/add")
    await harness.press(start[-1], "add:k:event", user_id=OWNER_ID)
    await _answer(harness, "2024-01-01")
    # Run the timeout job now instead of waiting ten minutes.
    (job,) = conversation.timeout_jobs.values()
    await job.run(harness.app)
    job.schedule_removal()
    expired = harness.fake.messages_to(OWNER_ID)[-1]
    assert "expired after 10 minutes" in expired.plain and "Nothing was saved" in expired.plain
    assert counts(engine)[:2] == before[:2]
    late = (await owner(harness, "A title"))[0].plain
    assert "Preview" not in late and "step" not in late  # a question, not an answer to /add
    assert audit_of(engine, OWNER_ID)[-1].outcome == "expired after 10 minutes"


async def test_guided_flow_checks_rights_at_every_step(
    moderated: BotHarness, engine: Engine
) -> None:
    start = await moderated.send("/add", chat_id=MODERATOR_ID)
    await moderated.press(start[-1], "add:k:actor", user_id=MODERATOR_ID)
    with session_scope(engine) as session:
        session.delete(session.get_one(Moderator, MODERATOR_ID))  # an owner removes them
    refused = await moderated.send("Someone", chat_id=MODERATOR_ID)
    assert refused[0].plain == "This command is for moderators."
    assert audit_of(engine, MODERATOR_ID)[-1].outcome == "refused: not a moderator"
    # The flow ended with the refusal.
    assert "doesn't cover" in (await moderated.send("Else", chat_id=MODERATOR_ID))[0].plain


async def test_guided_add_warns_about_a_duplicate_and_goes_to_review(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    async with BotHarness(fake_api, engine, admin_ids={OWNER_ID}, review_required=True) as bot:
        start = await bot.send("/add", chat_id=OWNER_ID)
        await bot.press(start[-1], "add:k:event", user_id=OWNER_ID)
        for answer in (
            "2023-07-11",
            "NATO Vilnius summit ends without a formal accession timetable for Ukraine",
            "-",
            "Public record",
            "-",
        ):
            replies = await bot.send(answer, chat_id=OWNER_ID)
        preview = replies[-1]
        existing = event_id(engine, "vilnius-summit-2023")
        assert f"already exists: #{existing}" in preview.plain
        before = counts(engine)
        done = await bot.press(preview, "add:ok", user_id=OWNER_ID)
        assert "Saved as draft" in done[-1].plain
        assert counts(engine)[:2] == before[:2]
        with session_scope(engine) as session:
            draft = session.exec(select(Draft).order_by(col(Draft.id).desc())).first()
            assert draft is not None and (draft.state, draft.action) == ("pending", "create")


# --- moderators and menus ---------------------------------------------------------------------


async def test_menus_are_scoped_to_owners_and_moderators(
    moderated: BotHarness, fake_api: FakeBotAPI
) -> None:
    public = command_names(fake_api.commands_for())
    owners_menu = command_names(fake_api.commands_for(chat_scope(OWNER_ID)))
    mods_menu = command_names(fake_api.commands_for(chat_scope(MODERATOR_ID)))
    admin = {c.command for c in moderator_commands()}
    assert "timeline" in public and not public & admin
    assert owners_menu >= public | admin | {c.command for c in owner_commands()}
    assert mods_menu >= public | admin and "audit" not in mods_menu and "mod" not in mods_menu
    assert fake_api.commands_for(chat_scope(USER_ID)) is None


async def test_owner_adds_and_removes_a_moderator(
    harness: BotHarness, engine: Engine, fake_api: FakeBotAPI
) -> None:
    eid = event_id(engine, "vilnius-summit-2023")
    refused = await harness.send(f"/edit {eid} | title | X", chat_id=NEWCOMER)
    assert refused[0].plain == "This command is for moderators."

    added = await owner(harness, f"/mod add {NEWCOMER}")
    assert f"{NEWCOMER} is now a moderator" in added[0].plain
    assert "edit" in command_names(fake_api.commands_for(chat_scope(NEWCOMER)))
    ok = await harness.send(f"/edit {eid} | title | By the newcomer", chat_id=NEWCOMER)
    assert "Edited" in ok[0].plain
    assert "already a moderator" in (await owner(harness, f"/mod add {NEWCOMER}"))[0].plain

    listed = await owner(harness, "/mods")
    assert str(NEWCOMER) in listed[0].plain and str(OWNER_ID) in listed[0].plain

    # Moderators cannot manage moderators.
    refused = await harness.send(f"/mod remove {NEWCOMER}", chat_id=NEWCOMER)
    assert refused[0].plain == "This command is for owners."

    removed = await owner(harness, f"/mod remove {NEWCOMER}")
    assert "no longer a moderator" in removed[0].plain
    assert fake_api.commands_for(chat_scope(NEWCOMER)) is None  # back to the public menu
    again = await harness.send(f"/edit {eid} | title | Too late", chat_id=NEWCOMER)
    assert again[0].plain == "This command is for moderators."

    assert "owner" in (await owner(harness, f"/mod remove {OWNER_ID}"))[0].plain
    usage = await owner(harness, "/mod promote someone")
    assert "Usage: /mod add USER_ID" in usage[0].plain


async def test_mod_add_in_reply_to_a_users_message(harness: BotHarness, engine: Engine) -> None:
    their_message = {
        "message_id": 77,
        "date": 1_700_000_000,
        "chat": {"id": -4001, "type": "group", "title": "Editors"},
        "from": make_user(NEWCOMER, first_name="Nadia", username="nadia"),
        "text": "hello",
    }
    replies = await harness.send(
        "/mod add", chat_id=-4001, user_id=OWNER_ID, chat_type="group", reply_to=their_message
    )
    assert f"{NEWCOMER} (Nadia) is now a moderator" in replies[0].plain
    with session_scope(engine) as session:
        moderator = session.get_one(Moderator, NEWCOMER)
        assert (moderator.name, moderator.added_by) == ("Nadia", OWNER_ID)


async def test_audit_is_for_owners_and_shows_every_action(
    moderated: BotHarness, engine: Engine
) -> None:
    await moderated.send("/edit 99999 | title | x", chat_id=MODERATOR_ID)
    await moderated.send("/retract 1 | no", chat_id=USER_ID)
    refused = await moderated.send("/audit", chat_id=MODERATOR_ID)
    assert refused[0].plain == "This command is for owners."
    shown = await moderated.send("/audit 2", chat_id=OWNER_ID)
    text = shown[0].plain
    assert "the last 2" in text
    assert "refused: not an owner" in text and "refused: not a moderator" in text
    assert "/edit 99999" not in text  # only the two newest
    everything = await moderated.send("/audit 5000", chat_id=OWNER_ID)
    assert "at most 200" in everything[0].plain
    assert "invalid: there is no entry #99999" in text_of(everything)
    assert (
        "N must be a whole number"
        in (await moderated.send("/audit many", chat_id=OWNER_ID))[0].plain
    )
    with session_scope(engine) as session:
        records = session.exec(select(AuditRecord)).all()
    assert {r.user_id for r in records} >= {OWNER_ID, MODERATOR_ID, USER_ID}


async def test_help_shows_moderators_their_commands(moderated: BotHarness) -> None:
    for_user = await moderated.send("/help", chat_id=USER_ID)
    assert len(for_user) == 1 and "Moderator commands" not in for_user[0].plain
    for_mod = await moderated.send("/help", chat_id=MODERATOR_ID)
    assert len(for_mod) == 2 and "Moderator commands" in for_mod[1].plain
    assert "/add_event DATE | TITLE | SUMMARY | SOURCE[; SOURCE…]" in for_mod[1].plain
    assert "Owner commands" not in for_mod[1].plain
    for_owner = await moderated.send("/modhelp", chat_id=OWNER_ID)
    assert "Owner commands" in for_owner[0].plain and "/audit [N]" in for_owner[0].plain
    assert (await moderated.send("/modhelp", chat_id=USER_ID))[0].plain == (
        "This command is for moderators."
    )


# --- buttons ----------------------------------------------------------------------------------


async def test_confirmation_buttons_check_who_presses(
    moderated: BotHarness, engine: Engine
) -> None:
    question = (
        await moderated.send(
            "/add_event 2023-07-11 | NATO Vilnius summit ends without a formal accession "
            "timetable for Ukraine | S | Public record",
            chat_id=MODERATOR_ID,
        )
    )[-1]
    yes = question.buttons[0]["callback_data"]
    before = counts(engine)
    await moderated.press(question, yes, user_id=USER_ID)
    assert moderated.fake.callback_answers[-1].text == "This command is for moderators."
    assert audit_of(engine, USER_ID)[-1].command == f"button {yes}"
    other = await moderated.press(question, yes, user_id=OWNER_ID)
    assert "only the moderator who made this change" in other[-1].plain.lower()
    assert counts(engine) == before
    saved = await moderated.press(question, yes, user_id=MODERATOR_ID)
    assert added_id(saved)


async def test_history_pages_with_buttons_within_limits(
    harness: BotHarness, engine: Engine
) -> None:
    eid = event_id(engine, "vilnius-summit-2023")
    for n in range(12):
        await owner(harness, f"/edit {eid} | summary | {'Long summary words. ' * 90} {n}")
    first = await owner(harness, f"/history {eid}")
    assert all(len(m.text) <= 4096 for m in first)
    assert "13 revisions" in first[0].plain
    assert "…" in text_of(first)  # long values are clipped
    last = first[-1]
    assert [b["callback_data"] for b in last.buttons] == ["noop", f"mh:{eid}:10"]
    second = await harness.press(last, f"mh:{eid}:10", user_id=OWNER_ID)
    shown = text_of(second) or harness.fake.get_message(OWNER_ID, last.message_id).text
    assert re.search(r"r\d+</b> · .* · edit", shown)
    refused = await harness.press(last, f"mh:{eid}:0", user_id=USER_ID)  # edited in place
    assert refused == []
    assert harness.fake.callback_answers[-1].text == "This command is for moderators."


# --- import edge cases ------------------------------------------------------------------------


async def test_import_refuses_large_and_non_text_files_politely(
    harness: BotHarness, engine: Engine, fake_api: FakeBotAPI
) -> None:
    before = counts(engine)
    big = fake_api.add_file("big", b"#" * 2_000_001, "big.yaml")
    replies = await harness.send("/import", chat_id=OWNER_ID, document=big)
    assert "up to 2 MB" in replies[0].plain and "Nothing was changed" in replies[0].plain
    assert fake_api.file_downloads == []  # refused before downloading
    binary = fake_api.add_file("bin", b"\xff\xfe\x00garbage", "data.yaml")
    replies = await harness.send("/import", chat_id=OWNER_ID, document=binary)
    assert "is not UTF-8 text" in replies[0].plain
    usage = await owner(harness, "/import")
    assert "caption /import" in usage[0].plain
    assert counts(engine) == before


async def test_import_in_reply_to_a_file_and_under_review(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    content = (
        b"sources:\n  - slug: wire\n    name: Wire\n    kind: news_outlet\n"
        b"events:\n  - slug: wire-story\n    date: '2024-02'\n    title: A wire story\n"
        b"    citations: [{source: wire}]\n"
    )
    document = fake_api.add_file("wire", content, "wire.yaml", "text/yaml")
    with session_scope(engine) as session:
        session.add(Moderator(user_id=MODERATOR_ID, added_by=OWNER_ID))
    async with BotHarness(fake_api, engine, admin_ids={OWNER_ID}, review_required=True) as bot:
        file_message = {
            "message_id": 40,
            "date": 1_700_000_000,
            "chat": {"id": OWNER_ID, "type": "private", "first_name": "Owner"},
            "from": make_user(OWNER_ID),
            "document": document,
        }
        before = counts(engine)
        replies = await bot.send("/import", chat_id=OWNER_ID, reply_to=file_message)
        assert "Saved as draft" in replies[0].plain and "2 added" in replies[0].plain
        assert counts(engine)[:2] == before[:2]
        draft_id = int(re.search(r"draft (\d+)", replies[0].plain).group(1))
        approved = await bot.send(f"/approve {draft_id}", chat_id=MODERATOR_ID)
        assert "Imported (draft" in approved[0].plain and "2 added" in approved[0].plain
    with session_scope(engine) as session:
        revisions = session.exec(
            select(Revision).where(Revision.action == "import").order_by(col(Revision.id).desc())
        ).first()
        assert revisions is not None and revisions.author_id == OWNER_ID
        assert session.exec(select(Entry).where(Entry.slug == "wire-story")).one()


async def test_undo_under_review_refuses_when_the_entry_moved_on(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    with session_scope(engine) as session:
        session.add(Moderator(user_id=MODERATOR_ID, added_by=OWNER_ID))
    eid = event_id(engine, "vilnius-summit-2023")
    async with BotHarness(fake_api, engine, admin_ids={OWNER_ID}, review_required=True) as bot:
        undo = await bot.send(f"/undo {eid}", chat_id=OWNER_ID)
        undo_draft = int(re.search(r"draft (\d+)", undo[0].plain).group(1))
        edit = await bot.send(f"/edit {eid} | status | claimed", chat_id=OWNER_ID)
        edit_draft = int(re.search(r"draft (\d+)", edit[0].plain).group(1))
        await bot.send(f"/approve {edit_draft}", chat_id=MODERATOR_ID)
        stale = await bot.send(f"/approve {undo_draft}", chat_id=MODERATOR_ID)
        assert f"Draft {undo_draft} no longer applies" in stale[0].plain
        assert "changed since the undo was asked for" in stale[0].plain
    with session_scope(engine) as session:
        assert session.get_one(Event, eid).status == "claimed"
        assert session.get_one(Draft, undo_draft).state == "pending"


ADMIN_COMMANDS = [
    "/add",
    "/add_event 2024 | T | S | Public record",
    "/add_actor Someone | person",
    "/add_source Wire | news_outlet | -",
    "/edit 25 | title | X",
    "/retract 25 | no",
    "/history 25",
    "/undo 25",
    "/export",
    "/import",
    "/pending",
    "/approve 1",
    "/reject 1 | no",
    "/mods",
    "/modhelp",
]


@pytest.mark.parametrize("command", [*ADMIN_COMMANDS, "/mod add 5", "/audit"])
async def test_every_admin_command_refuses_others_and_records_it(
    harness: BotHarness, engine: Engine, command: str
) -> None:
    before = counts(engine)
    replies = await harness.send(command, chat_id=USER_ID)
    owners_only = command.startswith(("/mod ", "/audit"))
    expected = "This command is for owners." if owners_only else "This command is for moderators."
    assert [m.plain for m in replies] == [expected]
    assert counts(engine) == before
    (record,) = audit_of(engine, USER_ID)
    assert record.command == command and record.outcome.startswith("refused: not")


async def test_a_file_captioned_import_from_a_stranger_is_not_even_downloaded(
    harness: BotHarness, engine: Engine, fake_api: FakeBotAPI
) -> None:
    document = fake_api.add_file("x", b"sources: []\n", "x.yaml")
    replies = await harness.send("/import", chat_id=USER_ID, document=document)
    assert [m.plain for m in replies] == ["This command is for moderators."]
    assert fake_api.file_downloads == []
    assert audit_of(engine, USER_ID)[0].outcome == "refused: not a moderator"
