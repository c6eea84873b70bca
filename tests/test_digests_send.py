"""The digest sender's fast path: `send_html`, and claiming the next batch while the
current one goes out. (tests/test_digests.py covers delivery end to end: 429, 5xx, 403,
migration, crash-resume, two processes.) Nothing sleeps: `ManualClock` as there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from telegram.constants import ParseMode
from telegram.error import ChatMigrated, Forbidden, RetryAfter

from bot.delivery.budget import SendBudget
from bot.delivery.scheduler import drain_outbox, run_due
from bot.transport.send import send_html
from knowledge.digests.outbox import counts
from knowledge.digests.subscriptions import get_subscription
from knowledge.models import Delivery, Entry, as_utc
from knowledge.storage.database import session_scope
from knowledge.write.curation import Author, update_entry
from tests.clock import ManualClock
from tests.conftest import MODERATOR_ID
from tests.fakebotapi import FakeBotAPI
from tests.fakebotapi.limits import Limits
from tests.harness import BotHarness

pytestmark = pytest.mark.usefixtures("backend")

TEXT = "<b>📰 Briefing digest</b>\nNew &amp; <a href='https://example.org/x'>linked</a>"
CHATS = list(range(7001, 7026))


@asynccontextmanager
async def manual_bot(fake: FakeBotAPI, engine: Engine, **settings: Any) -> AsyncIterator[Any]:
    async with BotHarness(fake, engine, autostart=False, **settings) as harness:
        yield harness


async def test_send_html_sends_what_send_message_sent(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    async with manual_bot(fake_api, engine) as bot:
        await bot.app.bot.send_message(7001, TEXT, parse_mode=ParseMode.HTML)
        message_id = await send_html(bot.app.bot, 7001, TEXT)
        await send_html(bot.app.bot, 7001, TEXT, paid=True)
    before, after, paid = fake_api.calls_of("sendMessage")[-3:]
    assert after.params == before.params  # HTML, no link preview (the bot's defaults)
    assert paid.params == before.params | {"allow_paid_broadcast": True}
    assert message_id == fake_api.messages_to(7001)[1].message_id
    assert fake_api.messages_to(7001)[1].plain == "📰 Briefing digest\nNew & linked"


async def test_send_html_raises_what_send_message_raises(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    async with manual_bot(fake_api, engine) as bot:
        fake_api.fail_next("sendMessage", 429, retry_after=4)
        with pytest.raises(RetryAfter) as flood:
            await send_html(bot.app.bot, 7001, TEXT)
        assert flood.value.retry_after == timedelta(seconds=4)
        fake_api.migrated_chats[-4001] = -1001000000099
        with pytest.raises(ChatMigrated) as moved:
            await send_html(bot.app.bot, -4001, TEXT)
        assert moved.value.new_chat_id == -1001000000099
        fake_api.blocked_chats.add(7002)
        with pytest.raises(Forbidden):
            await send_html(bot.app.bot, 7002, TEXT)


async def plan(bot: BotHarness, engine: Engine) -> Any:
    """Subscribe every chat in CHATS, change an entry, plan; the time the digests are due."""
    for chat in CHATS:
        answer = await bot.send("/subscribe", chat_id=chat, user_id=chat)
        assert "Subscribed" in answer[-1].plain
    with session_scope(engine) as session:
        entry = session.exec(select(Entry).where(Entry.slug == "vilnius-summit-2023")).one()
        assert entry.id is not None
        update_entry(session, entry.id, {"summary": "Reworded."}, author=Author(MODERATOR_ID, "E"))
    with session_scope(engine) as session:
        due = get_subscription(session=session, chat_id=CHATS[0])
        assert due is not None and due.next_due_at is not None
        when = as_utc(due.next_due_at) + timedelta(seconds=1)
    assert (await run_due(bot.app, now=when)).digests == len(CHATS)
    return when


def paced(fake: FakeBotAPI, when: datetime) -> dict[str, Any]:
    """A drain at BROADCAST_RATE 5 on a manual clock that Telegram's limits share: batches of
    10, so 25 recipients take three claims. (The bot itself keeps the default rate: its
    replies to `/subscribe` would take seconds at 5 a second, in real time.)"""
    clock = ManualClock(when)
    budget = SendBudget(5, clock)
    fake.limits = Limits(clock=clock.monotonic)
    clock.settle = lambda: fake.limits.seen >= budget.digests_sent + budget.replies_sent
    return {"clock": clock, "budget": budget}


def received(fake: FakeBotAPI) -> Counter[int]:
    return Counter(m.chat_id for m in fake.sent if "📰 Briefing digest" in m.plain)


async def test_batches_claimed_while_sending_reach_everyone_once(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    # BROADCAST_RATE 5: batches of 10, so 25 recipients take three claims, two of them made
    # while the previous batch was still being sent.
    async with manual_bot(fake_api, engine) as bot:
        when = await plan(bot, engine)
        report = await drain_outbox(bot.app, **paced(fake_api, when))
    assert report.delivered == len(CHATS)
    assert received(fake_api) == dict.fromkeys(CHATS, 1)
    with session_scope(engine) as session:
        rows = list(session.exec(select(Delivery)))
    assert {d.state for d in rows} == {"sent"}
    assert all(d.sent_at is not None and d.message_id for d in rows)


async def test_stopping_mid_drain_hands_back_the_batch_claimed_ahead(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    async with manual_bot(fake_api, engine) as bot:
        when = await plan(bot, engine)
        pace = paced(fake_api, when)
        first = await drain_outbox(
            bot.app, **pace, stop=lambda: sum(received(fake_api).values()) >= 8
        )
        with session_scope(engine) as session:
            states = counts(session=session)
        assert first.delivered == states["sent"] >= 8
        assert "claimed" not in states  # nothing held: neither the batch nor the one ahead
        rest = await drain_outbox(bot.app, **pace)
    assert first.delivered + rest.delivered == len(CHATS)
    assert received(fake_api) == dict.fromkeys(CHATS, 1)


async def test_a_delivery_waiting_out_a_429_is_not_put_behind_every_later_batch(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    # BROADCAST_RATE 5: batches of 10 (two seconds each). The first recipient's digest meets a
    # 429 (retry after 1 s): it goes again once its second is up, after what was claimed by
    # then, not after all 25 (with 10,000 recipients, minutes later, its claim held all the
    # while).
    async with manual_bot(fake_api, engine) as bot:
        when = await plan(bot, engine)
        fake_api.fail_next("sendMessage", 429, retry_after=1)
        report = await drain_outbox(bot.app, **paced(fake_api, when))
    assert report.delivered == len(CHATS) and report.flood_waits == 1
    order = [m.chat_id for m in fake_api.sent if "📰 Briefing digest" in m.plain]
    assert sorted(order) == CHATS
    assert order.index(CHATS[0]) < 20  # within the batch claimed ahead: ready before it was
