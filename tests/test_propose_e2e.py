"""/propose end to end through the strict fake Bot API: pasted text, a reply, a forwarded
channel post, an uploaded file; approve, edit and reject buttons; refusals that change
nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from knowledge.models import Draft, Entry, Event, Moderator, Source
from knowledge.storage.database import session_scope
from tests.conftest import MODERATOR_ID, OWNER_ID, USER_ID
from tests.fakebotapi import FakeBotAPI, SentMessage, make_message_update
from tests.harness import BotHarness
from tests.test_moderation import counts, text_of

BRIEFINGS = Path(__file__).parent / "data" / "briefings"
ENGLISH = (BRIEFINGS / "defence-ministers-brussels.txt").read_text(encoding="utf-8")
SOURCE = "Briefing: Ukraine, NATO, and the ongoing security dynamic explained"


@pytest.fixture
async def bot(fake_api: FakeBotAPI, engine: Engine) -> AsyncIterator[BotHarness]:
    with session_scope(engine) as session:
        session.add(Moderator(user_id=MODERATOR_ID, added_by=OWNER_ID, name="Mo"))
    async with BotHarness(fake_api, engine, admin_ids={OWNER_ID}) as harness:
        yield harness


def _cards(messages: list[SentMessage]) -> list[SentMessage]:
    return [m for m in messages if m.plain.startswith("Proposal ")]


def _card_with(messages: list[SentMessage], words: str, kind: str = "event") -> SentMessage:
    return next(
        m for m in _cards(messages) if f"· {kind}" in m.plain.split("\n")[0] and words in m.plain
    )


def _proposal_id(card: SentMessage) -> int:
    return int(card.plain.split()[1])


def _channel_post(text: str, **extra: Any) -> dict[str, Any]:
    """A channel post as a forward carries it (message dict), for replies and forwards."""
    payload = make_message_update(text, chat_id=OWNER_ID, user_id=OWNER_ID)
    message: dict[str, Any] = payload["message"]
    message["forward_origin"] = {
        "type": "channel",
        "date": 1_763_600_000,  # 2025-11-20
        "chat": {"id": -10012, "type": "channel", "title": "Kyiv Daily", "username": "kyivdaily"},
        "message_id": 77,
    }
    message.update(extra)
    return payload


async def test_pasted_text_is_proposed_and_reviewed_with_buttons(
    bot: BotHarness, engine: Engine
) -> None:
    before = counts(engine)
    replies = await bot.send(f"/propose source: {SOURCE}\n{ENGLISH}", chat_id=OWNER_ID)
    summary = replies[0]
    assert "4 proposed events" in summary.plain and "3 new names" in summary.plain
    assert "1 is undated in the text" in summary.plain
    assert summary.buttons[0]["callback_data"].startswith("pp:all:")
    cards = _cards(replies)
    assert len(cards) == 7  # three new actors, four events
    dated = _card_with(replies, "On 14 November 2026")
    assert "14 Nov 2026 · day" in dated.plain and "Brussels" in dated.plain
    assert "status: reported" in dated.plain
    yermak = _card_with(replies, "Last week Andriy Yermak said")
    assert "c. 2026-11-" in yermak.plain and "approximate" in yermak.plain  # dated from "today"
    assert "status: claimed" in yermak.plain
    assert counts(engine)[:2] == before[:2]  # drafts only: nothing published yet

    # Approve: the card shows it, the entry exists, with its revision and audit.
    number = _proposal_id(dated)
    answer = await bot.press(dated, f"pp:a:{number}", user_id=OWNER_ID)
    assert "approved and published as #" in text_of(answer)
    assert "✅ approved" in dated.plain and dated.reply_markup is None
    with session_scope(engine) as session:
        event = session.exec(select(Event).where(col(Event.title).startswith("On 14 Nov"))).one()
        assert event.precision == "day"

    # Edit a field, typed as the next message; then reject another.
    undated = _card_with(replies, "According to Reuters")
    number = _proposal_id(undated)
    fields = await bot.press(undated, f"pp:e:{number}", user_id=OWNER_ID)
    asked = await bot.press(fields[-1], f"pp:f:{number}:date", user_id=OWNER_ID)
    assert "Send the new date" in asked[-1].plain
    refused = await bot.send("next spring", chat_id=OWNER_ID)
    assert "is not a date" in text_of(refused) and "Nothing was changed" in text_of(refused)
    asked = await bot.press(fields[-1], f"pp:f:{number}:date", user_id=OWNER_ID)
    edited = await bot.send("2026-11", chat_id=OWNER_ID)
    assert "date changed" in edited[0].plain and "Nov 2026 · month" in edited[-1].plain
    germany = _card_with(replies, "Germany · organisation", "actor")
    await bot.press(germany, f"pp:r:{_proposal_id(germany)}", user_id=OWNER_ID)
    assert "✖ rejected" in germany.plain
    # The rest at once: the edited event (without Germany) and Yermak's claim and others.
    done = await bot.press(summary, summary.buttons[0]["callback_data"], user_id=OWNER_ID)
    assert "approved" in text_of(done)
    with session_scope(engine) as session:
        left = session.exec(select(Draft).where(Draft.state == "proposed")).all()
        assert left == []
        assert session.exec(select(Entry).where(Entry.slug == "germany")).first() is None
        assert session.exec(select(Entry).where(Entry.slug == "reuters")).first() is not None


async def test_the_source_is_asked_for_when_nothing_tells_it(
    bot: BotHarness, engine: Engine
) -> None:
    asked = await bot.send(f"/propose {ENGLISH}", chat_id=MODERATOR_ID)
    assert "Which source is this text from?" in asked[0].plain
    replies = await bot.send("Kyiv Evening Post", chat_id=MODERATOR_ID)
    assert "Kyiv Evening Post" in replies[0].plain
    assert "new source" in _cards(replies)[0].plain


async def test_reply_to_a_forwarded_channel_post_makes_its_channel_the_source(
    bot: BotHarness, engine: Engine
) -> None:
    post = _channel_post(ENGLISH)
    replies = await bot.send("/propose", chat_id=OWNER_ID, reply_to=post["message"])
    source_card = _cards(replies)[0]
    assert "Kyiv Daily" in source_card.plain and "telegram channel" in source_card.plain
    await bot.press(source_card, f"pp:a:{_proposal_id(source_card)}", user_id=OWNER_ID)
    with session_scope(engine) as session:
        source = session.exec(select(Source).where(Source.name == "Kyiv Daily")).one()
        assert source.url == "https://t.me/kyivdaily/77" and source.kind == "telegram_channel"


async def test_a_moderators_forward_is_offered_and_a_readers_is_not(
    bot: BotHarness, engine: Engine, fake_api: FakeBotAPI
) -> None:
    before = counts(engine)
    await bot.process(_channel_post(ENGLISH))
    offer = fake_api.messages_to(OWNER_ID)[-1]
    assert "Propose entries from it?" in offer.plain
    replies = await bot.press(offer, offer.buttons[0]["callback_data"], user_id=OWNER_ID)
    assert "Kyiv Daily" in replies[0].plain and _cards(replies)
    # A reader's forward is not offered for /propose (it is a reader's text) and writes nothing.
    reader = _channel_post(ENGLISH)
    reader["message"]["from"]["id"] = USER_ID
    reader["message"]["chat"]["id"] = USER_ID
    await bot.process(reader)
    assert "Propose entries" not in text_of(fake_api.messages_to(USER_ID))
    assert counts(engine)[:2] == before[:2]


async def test_file_uploads_and_refusals(
    bot: BotHarness, engine: Engine, fake_api: FakeBotAPI
) -> None:
    html = f"<html><body><h1>Week</h1><p>{ENGLISH.replace(chr(10), '</p><p>')}</p></body></html>"
    document = fake_api.add_file("brief-html", html.encode(), "brief.html", "text/html")
    replies = await bot.send(f"/propose {SOURCE}", chat_id=OWNER_ID, document=document)
    assert "4 proposed events" in replies[0].plain

    before = counts(engine)
    downloads = len(fake_api.file_downloads)
    big = fake_api.add_file("big", b"a " * 100_001, "big.txt", "text/plain")
    refused = await bot.send(f"/propose {SOURCE}", chat_id=OWNER_ID, document=big)
    assert "up to 200 KB" in refused[0].plain and "Nothing was saved" in refused[0].plain
    assert len(fake_api.file_downloads) == downloads  # refused before downloading
    binary = fake_api.add_file("bin", b"\xff\xfe\x00junk", "brief.txt", "text/plain")
    refused = await bot.send(f"/propose {SOURCE}", chat_id=OWNER_ID, document=binary)
    assert "not UTF-8 text" in refused[0].plain
    pdf = fake_api.add_file("pdf", b"%PDF-1.4", "brief.pdf", "application/pdf")
    refused = await bot.send(f"/propose {SOURCE}", chat_id=OWNER_ID, document=pdf)
    assert "not a .txt, .md or .html file" in refused[0].plain
    assert counts(engine) == before


async def test_a_reader_is_refused_and_nothing_is_written(
    bot: BotHarness, engine: Engine, fake_api: FakeBotAPI
) -> None:
    before = counts(engine)
    refused = await bot.send(f"/propose source: {SOURCE}\n{ENGLISH}", chat_id=USER_ID)
    assert "moderator" in refused[0].plain.lower()
    document = fake_api.add_file("r", ENGLISH.encode(), "brief.txt", "text/plain")
    await bot.send(f"/propose {SOURCE}", chat_id=USER_ID, document=document)
    # A reader pressing a proposal's button is refused too.
    mine = await bot.send(f"/propose source: {SOURCE}\n{ENGLISH}", chat_id=OWNER_ID)
    card = _cards(mine)[-1]
    after_mine = counts(engine)
    await bot.press(card, f"pp:a:{_proposal_id(card)}", user_id=USER_ID)
    assert counts(engine) == after_mine and after_mine[:2] == before[:2]
    usage = await bot.send("/propose", chat_id=OWNER_ID)
    assert "reads a briefing" in usage[0].plain


async def test_a_reply_names_its_source_and_long_batches_come_in_pages(
    bot: BotHarness, engine: Engine
) -> None:
    bundled = (BRIEFINGS / "ukraine-nato-security-dynamic.txt").read_text(encoding="utf-8")
    pasted = make_message_update(bundled[:4000], chat_id=OWNER_ID, user_id=OWNER_ID)
    replies = await bot.send(
        "/propose Klymenko Time", chat_id=OWNER_ID, reply_to=pasted["message"]
    )
    assert "Klymenko Time" in replies[0].plain
    shown = _cards(replies)
    assert len(shown) == 8
    more = replies[-1]
    assert "more proposal" in more.plain
    rest = await bot.press(more, more.buttons[0]["callback_data"], user_id=OWNER_ID)
    cards = shown + _cards(rest)
    yermak = next(c for c in cards if "Andriy Yermak, " in c.plain)
    assert "Source: Klymenko Time" in yermak.plain and "status: claimed" in yermak.plain
    assert "adds to #" in yermak.plain  # the knowledge base has this event already
    assert all("undated in the text" in c.plain for c in cards if "· event" in c.plain)
