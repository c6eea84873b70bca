"""Digests in the recipient's language: rendered once per language per change set, never per
recipient; a reader's language is remembered when they subscribe, or chosen with /language."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.delivery.scheduler import drain_outbox, run_due
from bot.presenters.digest import digest
from knowledge.digests.feed import ChangeFeed, changes_since
from knowledge.digests.planning import plan_digests
from knowledge.models import AuditRecord
from knowledge.storage.database import session_scope
from tests.clock import ManualClock
from tests.conftest import OWNER_ID, USER_ID
from tests.fakebotapi import FakeBotAPI, SentMessage, make_chat
from tests.test_digests import cursor_now, due_time, edit, manual_bot, new_event

pytestmark = pytest.mark.usefixtures("backend")

UKRAINIAN, ENGLISH, CHOSE = 3101, 3102, 3103


def digest_to(fake: FakeBotAPI, chat_id: int) -> SentMessage:
    [message] = [m for m in fake.messages_to(chat_id) if "📰" in m.plain]
    return message


async def test_each_reader_gets_the_digest_in_their_language(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    async with manual_bot(fake_api, engine) as bot:
        [done] = await bot.send("/subscribe", chat_id=UKRAINIAN, language_code="uk")
        assert done.plain.startswith("✅ Підписано: щодня о 09:00 (UTC)")
        await bot.send("/subscribe", chat_id=ENGLISH, language_code="en")
        await bot.send("/subscribe", chat_id=CHOSE, language_code="de")
        await bot.send("/language uk", chat_id=CHOSE, language_code="de")
        edit(engine, "vilnius-summit-2023", status="reported")
        when = due_time(engine, ENGLISH)
        report = await run_due(bot.app, now=when)
        assert report.digests == 3
        await drain_outbox(bot.app, clock=ManualClock(when))
    ukrainian = digest_to(fake_api, UKRAINIAN).plain
    assert ukrainian.startswith("📰 Дайджест брифінгу\n1 зміна від попереднього дайджесту.")
    assert "✏️ Оновлено (1)" in ukrainian and "11 липня 2023" in ukrainian
    assert "статус: confirmed → reported" in ukrainian
    assert "Вільнюський саміт НАТО завершується" in ukrainian  # the entry's translation
    english = digest_to(fake_api, ENGLISH).plain
    assert english.startswith("📰 Briefing digest\n1 change since the last digest.")
    assert "11 Jul 2023" in english
    assert "NATO Vilnius summit ends without a formal accession timetable" in english
    assert digest_to(fake_api, CHOSE).plain == ukrainian


async def test_one_rendering_per_language_per_change_set(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    async with manual_bot(fake_api, engine) as bot:
        for chat_id in range(3201, 3206):
            await bot.send("/subscribe", chat_id=chat_id, language_code="uk")
        for chat_id in range(3301, 3306):
            await bot.send("/subscribe", chat_id=chat_id, language_code="en")
        edit(engine, "vilnius-summit-2023", status="reported")
        when = due_time(engine, 3201)
    languages: list[str] = []

    def render(feed: ChangeFeed, label: str, language: str) -> list[str]:
        languages.append(language)
        return digest(feed, label, language)

    report = plan_digests(engine, now=when, render=render)
    assert report.digests == 10
    assert sorted(languages) == ["en", "uk"]


def test_a_long_ukrainian_digest_splits_within_the_limit(engine: Engine) -> None:
    start = cursor_now(engine)
    for n in range(80):
        new_event(engine, f"Allied ministers meet again, round {n}", summary="Є " * 200)
    with session_scope(engine) as session:
        feed = changes_since(session=session, cursor=start)
    parts = digest(feed, "", "uk")
    assert len(parts) > 1 and all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)
    assert parts[0].startswith("<i>частина 1/")


async def test_a_moderator_sets_a_channels_language_and_its_digests_follow(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    channel = -1001000000777
    fake_api.chats[channel] = make_chat(channel, "channel", title="Новини", username="novyny")
    fake_api.chat_members[(channel, fake_api.bot_id)] = {
        "status": "administrator",
        "can_post_messages": True,
    }
    async with manual_bot(fake_api, engine) as bot:
        [refused] = await bot.send("/language uk @novyny", chat_id=USER_ID)
        assert refused.plain == "This command is for moderators."
        [done] = await bot.send("/language uk @novyny", chat_id=OWNER_ID)
        assert (
            done.plain
            == "Done: the bot's language in @novyny is now Українська, digests included."
        )
        [missing] = await bot.send("/language uk @nowhere_at_all", chat_id=OWNER_ID)
        assert missing.plain.startswith("I can't find the chat @nowhere_at_all.")
        await bot.send("/channel add @novyny", chat_id=OWNER_ID)
        edit(engine, "vilnius-summit-2023", status="reported")
        when = due_time(engine, channel)
        await run_due(bot.app, now=when)
        await drain_outbox(bot.app, clock=ManualClock(when))
    assert digest_to(fake_api, channel).plain.startswith("📰 Дайджест брифінгу")
    with session_scope(engine) as session:
        audited = session.exec(select(AuditRecord.command)).all()
    assert "/language uk @novyny" in audited
