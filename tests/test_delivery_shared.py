"""Replicas on PostgreSQL share one send budget per bot token (bot/delivery/shared.py): two
processes, each with its own connection pool and budget, on one database. And the sender's
hand-over: a process taking the scheduler lock takes back the dead holder's claims at once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bench.digest_fanout import FIRST_CHAT, seed
from bot.delivery.budget import SendBudget
from bot.delivery.scheduler import (
    DigestState,
    _leading,
    drain_outbox,
    run_due,
    scan_interval,
    state_of,
)
from bot.delivery.shared import BudgetShare
from bot.delivery.worker import MAX_IN_FLIGHT
from knowledge.digests.outbox import claim, counts
from knowledge.digests.senders import SenderReport
from knowledge.storage.database import make_engine, session_scope
from tests.clock import ManualClock
from tests.fakebotapi import FakeBotAPI
from tests.fakebotapi.limits import Limits
from tests.test_delivery_limits import CHATS
from tests.test_digests import due_time, edit, is_digest, manual_bot, subscribe


@pytest.fixture
def second_engine(db_url: str) -> Engine:  # the other process's connection pool
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_two_processes_keep_to_one_budget(
    backend: str, engine: Engine, second_engine: Engine
) -> None:
    clock = ManualClock()
    sender, replica = SendBudget(30, clock), SendBudget(30, clock)
    sender_share = BudgetShare(sender, engine, "process-A")
    replica_share = BudgetShare(replica, second_engine, "process-B")
    await replica_share.step()
    await sender_share.step()
    for _ in range(20):  # the replica answers twenty readers within a second
        await replica.reply()
    clock.advance(1.0)
    await replica_share.step()
    await sender_share.step()
    assert sender.replies_room == pytest.approx(20)
    started, sent = clock.monotonic(), 0
    while clock.monotonic() < started + 1.0:
        await sender.digest()
        sent += 1
    assert sent <= 30 - 20 + 1  # digests got what the replica's replies left
    # A 429 the replica took as bot-wide slows the sender's digests too.
    replica.bot_wide(1.0)
    clock.advance(0.25)
    await replica_share.step()
    await sender_share.step()
    assert sender.digest_rate < 30
    assert replica.local_floods == 1 and sender.local_floods == 0  # counted once, bot-wide


@pytest.mark.parametrize("backend", ["postgres"])
async def test_taking_over_the_lock_takes_back_the_dead_senders_claims(
    backend: str, fake_api: FakeBotAPI, engine: Engine, second_engine: Engine
) -> None:
    chats = CHATS[:4]
    async with manual_bot(fake_api, engine) as bot:
        for chat in chats:
            await subscribe(bot, chat)
        edit(engine, "full-scale-invasion", summary="Reworded.")
        await run_due(bot.app, now=due_time(engine, chats[0]))
    dead = DigestState(engine=engine, rate=30, debounce=60, worker_id="process-A")
    standby = DigestState(engine=second_engine, rate=30, debounce=60, worker_id="process-B")
    assert _leading(dead)
    with session_scope(engine) as session:
        assert len(claim(session=session, worker="process-A", now=datetime.now(UTC), limit=9))
    assert not _leading(standby)  # the sender is alive: its claims stay
    with session_scope(engine) as session:
        assert counts(session=session)["claimed"] == len(chats)
    assert dead.lock is not None and dead.lock._connection is not None
    # kill -9: its connection ends (waited for, as the server notices), and the lock with it
    pid = dead.lock._connection.execute(text("SELECT pg_backend_pid()")).scalar()
    with second_engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    dead.lock._connection.invalidate()
    dead.lock._drop()
    assert _leading(standby)
    with session_scope(engine) as session:
        assert counts(session=session).get("claimed", 0) == 0
        assert counts(session=session)["pending"] == len(chats)
    assert standby.lock is not None
    standby.lock.release()


def test_the_others_pace_is_read_over_the_last_second(engine: Engine) -> None:
    """One reply a second, reported every quarter of a second, is one a second (dated by the
    report that first counts it): not 0 in three reports and 4 in the fourth (which left
    digests a window of 25 and a burst). And the room stays kept for a few seconds after the
    last reply: people ask in bursts."""
    clock = ManualClock()
    budget = SendBudget(30, clock)
    share = BudgetShare(budget, engine, "process-A")
    start = datetime.now(UTC)
    readings = []
    for step in range(17):
        at = start + timedelta(seconds=0.25 * step)
        replies = 1 + step // 4  # a reply every fourth report
        share.apply([SenderReport("process-B", replies, 0, 0, 30.0, at)])
        readings.append(budget.replies_room)
        clock.advance(0.25)
    assert all(r == 1 for r in readings[5:])
    for step in range(17, 17 + 4 * 5):  # the other process stops answering
        at = start + timedelta(seconds=0.25 * step)
        share.apply([SenderReport("process-B", 5, 0, 0, 30.0, at)])
        readings.append(budget.replies_room)
        clock.advance(0.25)
    assert min(readings[17:25]) >= 1  # held for a while
    assert readings[-1] == 0  # then digests may have the room back
    share.apply([SenderReport("process-B", 5, 0, 1, 30.0, start + timedelta(seconds=10))])
    assert budget.digest_rate < 30  # a bot-wide 429 the other saw slows digests here


async def test_the_room_for_replies_follows_the_bots_combined_replies(engine: Engine) -> None:
    """Three replicas behind a round robin answer one question every 0.55 s in turn: each
    replies once in 1.65 s, the bot about twice a second. The sender (one of them) leaves digests
    what those two replies a second leave, its own reply counting towards them: not a room
    for each replica's most (three) plus a reserve of its own. Every second of what Telegram
    sees (digests, all three replicas' replies) stays within the limit, and digests get the
    rest. When the questions stop, digests take the room back after `HOLD`."""
    clock = ManualClock()
    budget = SendBudget(30, clock)
    share = BudgetShare(budget, engine, "process-A")
    counts = {"process-B": 0, "process-C": 0}

    def report() -> None:
        share.apply([
            SenderReport(worker, n, 0, 0, 30.0, clock.now()) for worker, n in counts.items()
        ])  # fmt: skip

    report()
    seen: list[float] = []  # every message Telegram accepts, by when
    digests: list[float] = []
    question, turn, reported, rooms = 0.5, 0, 0.0, []
    while clock.monotonic() < 12.0:
        now = clock.monotonic()
        if now >= question and now < 8.0:  # the next question reaches a replica
            replica = ("process-A", "process-B", "process-C")[turn % 3]
            if replica == "process-A":
                share.wake.clear()
                await budget.reply()
                assert share.wake.is_set()  # its report goes at once, not at the next quarter
            else:
                counts[replica] += 1
                report()  # a replica reports at once after it replies
            seen.append(clock.monotonic())
            question, turn = question + 0.55, turn + 1
        if now >= reported + 0.25:
            report()
            reported = now
            rooms.append((now, budget.replies_room))
        await budget.digest()
        seen.append(clock.monotonic())
        digests.append(clock.monotonic())
    assert {room for at, room in rooms if 2.0 <= at < 8.0} == {2.0}  # the bot's two a second
    # Nothing Telegram would refuse, once the bot has seen two replies in a second (the
    # first second kept room for one: a room is what replies took lately).
    assert busiest_second([at for at in seen if at >= 1.2]) <= 30
    steady = [at for at in digests if 3.0 <= at < 8.0]
    assert len(steady) / 5.0 >= 27.5  # digests: 28 of each window (30 less the two replies)
    assert [room for at, room in rooms if at >= 11.5] == [0.0, 0.0]  # the room comes back
    late = [at for at in digests if at >= 11.0]
    assert busiest_second(late) >= 29  # and digests use it (one kept for a reply to come)


def busiest_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


@pytest.mark.parametrize("backend", ["postgres"])
async def test_kill_9_of_the_sending_process_hands_sending_to_another_within_10_s(
    backend: str, fake_api: FakeBotAPI, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """A real bot process (`python -m bot run`, digest jobs on) sends a digest to 60
    subscribers and is killed with SIGKILL mid-broadcast: no cleanup, its claims and the
    scheduler lock left behind. Another process takes the lock at its next scan, takes the
    dead one's claims back at once and serves everyone: nobody lost, duplicates only among
    the sends that were in flight, everyone served within 10 s of the death."""
    recipients = 60
    seed(engine, recipients)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOK_", "HEALTH_"))}
    env |= {
        "TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_API_BASE_URL": f"{fake_api.url}/bot",
        "DATABASE_URL": db_url, "ADMIN_IDS": "", "LOG_LEVEL": "WARNING", "HEALTH_PORT": "",
    }  # fmt: skip
    sender = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await fake_api.wait_for(lambda fake: len(digests(fake)) >= 10, timeout=120)
    finally:
        sender.send_signal(signal.SIGKILL)
        await sender.wait()
    with session_scope(engine) as session:
        stranded = counts(session=session).get("claimed", 0)
    assert stranded  # the dead process held claims: nobody hands them back but the next one
    # Its database connections end with it; the server may take a moment to notice, which
    # this waits for (it is no part of the hand-over's time: a scan would just try again).
    with engine.connect() as connection:
        connection.execute(text(_GONE_WITH_IT))
    engine.dispose()
    async with manual_bot(fake_api, engine) as bot:
        standby = state_of(bot.app)
        assert _leading(standby)  # its next scan: the lock is free, the claims come back
        clock = ManualClock()
        fake_api.limits = Limits(clock=clock.monotonic)  # Telegram's limits on the same clock
        report = await drain_outbox(bot.app, clock=clock)
        # The standby tries the lock at every scan: within one interval of the death.
        handed_over = scan_interval(standby.debounce) + clock.elapsed
        assert standby.lock is not None
        standby.lock.release()
    received = digests(fake_api)
    assert set(received) == {FIRST_CHAT + i for i in range(recipients)}  # nobody lost
    duplicates = sum(n - 1 for n in received.values())
    assert duplicates <= min(stranded, MAX_IN_FLIGHT)  # only sends in flight went twice
    assert report.delivered >= stranded
    with session_scope(engine) as session:
        assert counts(session=session) == {"sent": recipients}
    assert handed_over <= 10


_GONE_WITH_IT = (
    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def digests(fake: FakeBotAPI) -> Counter[int]:
    return Counter(m.chat_id for m in fake.sent if is_digest(m) and m.chat_id >= FIRST_CHAT)
