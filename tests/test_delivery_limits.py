"""Delivery under Telegram's real limits, against the fake's bot-wide window: replies retried
within a bounded wait and counted, digests converging on whatever the real limit is (and
following it down mid-broadcast), claims of a gone process taken back at once.
Nothing sleeps: the fake's limits and the sender share a `ManualClock`."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from bot.delivery.budget import SendBudget
from bot.delivery.replies import budget_of
from bot.delivery.scheduler import drain_outbox, run_due
from bot.transport.operations import ops_of
from knowledge.digests.outbox import claim, counts
from knowledge.storage.database import session_scope
from tests.clock import ManualClock
from tests.fakebotapi import FakeBotAPI
from tests.fakebotapi.limits import Limits
from tests.harness import BotHarness
from tests.test_digests import (
    due_time,
    edit,
    is_digest,
    manual_bot,
    subscribe,
    subscribe_quietly,
)

pytestmark = pytest.mark.usefixtures("backend")

CHATS = list(range(6001, 6061))


def replies(bot: BotHarness, outcome: str) -> float:
    return ops_of(bot.app).metrics.replies.labels(outcome)._value.get()


def digests(fake: FakeBotAPI) -> Counter[int]:
    return Counter(m.chat_id for m in fake.sent if is_digest(m))


async def test_a_reply_that_meets_429_goes_again_after_retry_after(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    async with manual_bot(fake_api, engine) as bot:
        clock = ManualClock()
        budget = budget_of(bot.app)
        assert budget is not None
        budget.clock = clock
        fake_api.fail_next("sendMessage", 429, retry_after=3)
        answer = await bot.send("/who Yermak")
        assert answer and "Yermak" in answer[-1].plain
        assert clock.elapsed >= 3  # it waited out retry_after
        assert replies(bot, "retried") == 1
        assert replies(bot, "failed") == 0


async def test_a_reply_still_refused_after_the_bounded_wait_is_logged_and_counted(
    fake_api: FakeBotAPI, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    async with manual_bot(fake_api, engine) as bot:
        budget = budget_of(bot.app)
        assert budget is not None
        budget.clock = ManualClock()
        fake_api.fail_next("sendMessage", 429, retry_after=4, times=3)  # 4 + 4, then over 10
        with caplog.at_level(logging.WARNING, "bot.delivery.replies"):
            await bot.send("/who Yermak")
        assert replies(bot, "failed") == 1
        assert "failed: 429" in caplog.text


async def broadcast(
    fake: FakeBotAPI, engine: Engine, *, real_limit: int, drop_to: int | None = None
) -> tuple[float, ManualClock]:
    """Digests to CHATS at BROADCAST_RATE 30 while Telegram allows `real_limit` (and then
    `drop_to`, from the 40th message on); the achieved rate over the broadcast. Time moves
    only once every message sent has reached the fake (`ManualClock.settle`), so the fake
    sees each send at the time it left: the figures are the same in every run."""
    async with manual_bot(fake, engine) as bot:
        subscribe_quietly(engine, CHATS)
        edit(engine, "full-scale-invasion", summary="Reworded.")
        when = due_time(engine, CHATS[0])
        await run_due(bot.app, now=when)
        clock = ManualClock(when)
        budget = SendBudget(30, clock)
        # Telegram's limits on the same clock; about one message a second in each chat.
        fake.limits = Limits(
            clock=clock.monotonic, bot_per_second=real_limit, private_per_window=1
        )
        clock.settle = lambda: fake.limits.seen >= budget.digests_sent + budget.replies_sent

        async def drop() -> None:
            if drop_to is not None:
                await fake.wait_for(lambda f: len(f.limits.accepted) >= 40, timeout=60)
                fake.limits.bot_per_second = drop_to

        dropper = asyncio.create_task(drop())
        report = await drain_outbox(bot.app, clock=clock, budget=budget)
        await dropper
    assert report.delivered == len(CHATS)
    assert digests(fake) == dict.fromkeys(CHATS, 1)  # everyone, once
    return len(CHATS) / clock.elapsed, clock


async def test_digests_converge_on_the_real_limit(fake_api: FakeBotAPI, engine: Engine) -> None:
    rate, _ = await broadcast(fake_api, engine, real_limit=20)
    assert 0.5 * 20 <= rate <= 20.5
    # Refusals cluster at first, then the rate settles below the limit.
    assert fake_api.limits.refused_bot <= 15


async def test_digests_hold_the_configured_limit(fake_api: FakeBotAPI, engine: Engine) -> None:
    rate, _ = await broadcast(fake_api, engine, real_limit=30)
    # No reply can come: digests have the whole window (no reserve kept), and never overrun it.
    assert rate >= 0.95 * 30
    assert fake_api.limits.refused_bot == 0


async def test_digests_follow_a_limit_that_drops_mid_broadcast(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    _, clock = await broadcast(fake_api, engine, real_limit=30, drop_to=10)
    tail = [at for at in fake_api.limits.accepted if at >= clock.elapsed - 1.0]
    assert len(tail) <= 10  # the last second kept to the new limit
    # The drop refuses what the window already held, and the rate needs three cuts (0.7³ of
    # 30 is 10): a burst of refusals, bounded, not one for every message after the drop.
    assert fake_api.limits.refused_bot <= 30


async def test_claims_of_a_gone_process_are_taken_back_at_start(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    chats = CHATS[:5]
    async with manual_bot(fake_api, engine) as bot:
        for chat in chats:
            await subscribe(bot, chat)
        edit(engine, "full-scale-invasion", summary="Reworded.")
        await run_due(bot.app, now=due_time(engine, chats[0]))
    with session_scope(engine) as session:  # a process claimed them, then was killed
        assert len(claim(session=session, worker="gone:1", now=datetime.now(UTC), limit=5)) == 5
    async with manual_bot(fake_api, engine, autostart=True):
        # Served long before the five-minute lease would have run out.
        await fake_api.wait_for(lambda fake: len(digests(fake)) == len(chats), timeout=10)
    assert digests(fake_api) == dict.fromkeys(chats, 1)
    with session_scope(engine) as session:
        assert counts(session=session).get("claimed", 0) == 0
