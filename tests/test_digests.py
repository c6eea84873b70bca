"""Digests end to end: the change feed, planning, and delivery through the strict fake Bot API.

Nothing sleeps: the scanner (`run_due`) and the delivery worker (`drain_outbox`)
are called directly with an injected time (`ManualClock`, whose sleeps advance it), and the
scheduled jobs are kept off (`AUTOSTART = False`) except in the tests of the jobs themselves,
which wait on events. DB-level and delivery tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, event
from sqlmodel import SQLModel, select

from bot.delivery.budget import SendBudget
from bot.delivery.scheduler import drain_outbox, run_due, state_of
from bot.delivery.worker import BACKOFF_CAP, GROUP_INTERVAL, MAX_ATTEMPTS, PRIVATE_INTERVAL
from knowledge.digests import feed as changes
from knowledge.digests.leader import SchedulerLock
from knowledge.digests.outbox import LEASE, claim
from knowledge.digests.subscriptions import get_subscription, parse_request
from knowledge.digests.subscriptions import subscribe as subscribe_chat
from knowledge.models import Delivery, Entry, Subscription, as_utc
from knowledge.storage.database import make_engine, session_scope
from knowledge.write.curation import Author, create_entry, retract_entry, undo_last, update_entry
from tests.clock import ManualClock
from tests.conftest import MODERATOR_ID, OWNER_ID, USER_ID
from tests.fakebotapi import FakeBotAPI, SentMessage
from tests.harness import BotHarness

pytestmark = pytest.mark.usefixtures("backend")

EDITOR = Author(MODERATOR_ID, "Editor")
DAY = timedelta(days=1)


@asynccontextmanager
async def manual_bot(
    fake: FakeBotAPI, engine: Engine, *, autostart: bool = False, **settings: Any
) -> AsyncIterator[BotHarness]:
    """The real application; the digest jobs stay off unless `autostart`."""
    async with BotHarness(
        fake, engine, admin_ids={OWNER_ID}, autostart=autostart, **settings
    ) as harness:
        yield harness


def entry_id(engine: Engine, slug: str, kind: str = "event") -> int:
    with session_scope(engine) as session:
        found = session.exec(select(Entry.id).where(Entry.slug == slug, Entry.kind == kind)).one()
    assert found is not None
    return found


def edit(engine: Engine, slug: str, kind: str = "event", **fields: Any) -> None:
    with session_scope(engine) as session:
        assert update_entry(session, entry_id(engine, slug, kind), fields, author=EDITOR)


def retract(engine: Engine, slug: str, reason: str) -> None:
    with session_scope(engine) as session:
        retract_entry(session, entry_id(engine, slug), reason, author=EDITOR)


def new_event(engine: Engine, title: str, *, topics: list[str] | None = None, **extra: Any) -> int:
    record = {
        "date": "2024-03-01",
        "title": title,
        "summary": extra.pop("summary", "A summary."),
        "topics": topics or [],
        "citations": [{"source": "public-record"}],
        **extra,
    }
    with session_scope(engine) as session:
        entry, _ = create_entry(session, "event", record, author=EDITOR)
        assert entry.id is not None
        return entry.id


def cursor_now(engine: Engine) -> int:
    with session_scope(engine) as session:
        return changes.latest_revision_id(session=session)


def subscription(engine: Engine, chat_id: int) -> Subscription:
    with session_scope(engine) as session:
        found = get_subscription(session=session, chat_id=chat_id)
    assert found is not None
    return found


def deliveries(engine: Engine) -> list[Delivery]:
    with session_scope(engine) as session:
        return list(session.exec(select(Delivery).order_by(Delivery.id)))


async def subscribe(bot: BotHarness, chat_id: int, text: str = "") -> None:
    answer = await bot.send(f"/subscribe {text}".strip(), chat_id=chat_id, user_id=chat_id)
    assert "Subscribed" in answer[-1].plain, answer[-1].plain


def subscribe_quietly(engine: Engine, chats: list[int]) -> None:
    """What `/subscribe` in each of `chats` (private) stores, without the confirmations: more
    than the bot-wide 30 a second of those would be paced in real time."""
    with session_scope(engine) as session:
        for chat in chats:
            subscribe_chat(
                session=session, chat_id=chat, chat_type="private", created_by=chat,
                request=parse_request("", default_timezone="UTC"), now=datetime.now(UTC),
            )  # fmt: skip


def due_time(engine: Engine, chat_id: int) -> datetime:
    due = subscription(engine, chat_id).next_due_at
    assert due is not None
    return as_utc(due) + timedelta(seconds=1)


def is_digest(message: SentMessage) -> bool:
    """The first (or only) message of a digest."""
    return "📰 Briefing digest" in message.plain


def digests_to(fake: FakeBotAPI, chat_id: int) -> list[SentMessage]:
    return [m for m in fake.messages_to(chat_id) if is_digest(m)]


# --- the change feed (DB level) ---------------------------------------------------------------


def test_feed_has_new_updated_and_retracted_sections(engine: Engine) -> None:
    start = cursor_now(engine)
    created = new_event(engine, "Allies open a training mission", topics=["diplomacy"])
    edit(engine, "vilnius-summit-2023", title="Vilnius summit (first edit)")
    edit(engine, "vilnius-summit-2023", title="Vilnius summit closes", status="claimed")
    retract(engine, "analysts-see-incremental-integration", "the analysis was misattributed")
    with session_scope(engine) as session:
        feed = changes.changes_since(session=session, cursor=start)
    assert [c.entry_id for c in feed.new] == [created]
    assert feed.new[0].title == "Allies open a training mission"
    [updated] = feed.updated  # two edits of one entry: one item, first before -> last after
    fields = {f.field: (f.old, f.new) for f in updated.fields}
    assert fields["title"] == (
        "NATO Vilnius summit ends without a formal accession timetable for Ukraine",
        "Vilnius summit closes",
    )
    assert fields["status"][1] == "claimed" and "first edit" not in str(fields)
    [gone] = feed.retracted
    assert gone.reason == "the analysis was misattributed"
    assert feed.count == 3 and not feed.empty


def test_net_change_rules(engine: Engine) -> None:
    start = cursor_now(engine)
    # created, then edited in the window: just New, with the latest content
    created = new_event(engine, "Draft title")
    with session_scope(engine) as session:
        update_entry(session, created, {"title": "Final title"}, author=EDITOR)
    # created and retracted in the window: left out (never announced, hidden now)
    doomed = new_event(engine, "A mistaken entry")
    with session_scope(engine) as session:
        retract_entry(session, doomed, "entered by mistake", author=EDITOR)
    # edited and undone: nothing differs, left out
    edit(engine, "full-scale-invasion", summary="Temporary wording.")
    with session_scope(engine) as session:
        undo_last(session, entry_id(engine, "full-scale-invasion"), author=EDITOR)
        feed = changes.changes_since(session=session, cursor=start)
    assert [(c.entry_id, c.title) for c in feed.new] == [(created, "Final title")]
    assert feed.updated == [] and feed.retracted == []


def test_restored_entry_is_an_update(engine: Engine) -> None:
    retract(engine, "full-scale-invasion", "checking a date")
    start = cursor_now(engine)
    with session_scope(engine) as session:
        undo_last(session, entry_id(engine, "full-scale-invasion"), author=EDITOR)
        feed = changes.changes_since(session=session, cursor=start)
    [restored] = feed.updated
    assert [(f.field, f.old, f.new) for f in restored.fields] == [
        ("retracted", "checking a date", None)
    ]


def test_topic_and_actor_filters(engine: Engine) -> None:
    start = cursor_now(engine)
    edit(engine, "western-sanctions-on-russia", summary="Sanctions widened.")  # has "sanctions"
    edit(engine, "full-scale-invasion", topics=["war", "russia", "sanctions"])  # gains it
    edit(engine, "vilnius-summit-2023", summary="Unrelated to both filters.")
    edit(engine, "andriy-yermak", "actor", role="Head of the presidential office")
    edit(engine, "yermak-says-nato-membership-would-help-end-war", summary="Yermak again.")
    yermak = entry_id(engine, "andriy-yermak", "actor")
    with session_scope(engine) as session:
        by_topic = changes.changes_since(session=session, cursor=start, topic="sanctions")
        by_actor = changes.changes_since(session=session, cursor=start, actor_id=yermak)
        everything = changes.changes_since(session=session, cursor=start)
    sanctions = {entry_id(engine, "western-sanctions-on-russia"),
                 entry_id(engine, "full-scale-invasion")}  # fmt: skip
    assert {c.entry_id for c in by_topic.updated} == sanctions
    assert {c.entry_id for c in by_actor.updated} == {
        yermak,
        entry_id(engine, "yermak-says-nato-membership-would-help-end-war"),
    }
    assert everything.count == 5


def test_feed_reads_the_window_in_a_constant_number_of_queries(engine: Engine) -> None:
    start = cursor_now(engine)
    for n in range(30):
        new_event(engine, f"Event number {n}", topics=["diplomacy"])
    yermak = entry_id(engine, "andriy-yermak", "actor")
    statements: list[str] = []

    def count(*args: Any) -> None:
        if str(args[2]).lstrip().upper().startswith("SELECT"):
            statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        with session_scope(engine) as session:
            feed = changes.changes_since(session=session, cursor=start, actor_id=yermak)
            everything = changes.changes_since(session=session, cursor=start)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert feed.empty and len(everything.new) == 30
    # Per call: the latest id, the window, the actor's slug, the public-record sources.
    assert len(statements) <= 7


def test_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    mine = [d for d in diffs if "delivery" in str(d) or "'subscription'" in str(d)]
    assert mine == []


# --- digests end to end -----------------------------------------------------------------------


async def test_digest_with_all_sections_is_sent_once(fake_api: FakeBotAPI, engine: Engine) -> None:
    async with manual_bot(fake_api, engine) as bot:
        await subscribe(bot, USER_ID)
        new_event(engine, "Allies open a <training> mission & more")
        edit(engine, "vilnius-summit-2023", title="Vilnius summit closes")
        retract(engine, "analysts-see-incremental-integration", "misattributed <quote>")
        when = due_time(engine, USER_ID)
        clock = ManualClock(when)
        report = await run_due(bot.app, now=when)
        assert report.digests == 1
        drained = await drain_outbox(bot.app, clock=clock)
        assert drained.delivered == 1
        [digest] = digests_to(fake_api, USER_ID)
        text = digest.plain
        assert "🆕 New (1)" in text and "Allies open a <training> mission & more" in text
        assert "✏️ Updated (1)" in text and "→ Vilnius summit closes" in text
        assert "🗑 Retracted (1)" in text and "Retracted: misattributed <quote>" in text
        assert digest.parse_mode == "HTML"
        # The same time again (a second scan, a restart): nothing is planned or sent twice.
        assert (await run_due(bot.app, now=when)).digests == 0
        assert (await drain_outbox(bot.app, clock=clock)).delivered == 0
        assert len(digests_to(fake_api, USER_ID)) == 1
        saved = subscription(engine, USER_ID)
        assert saved.cursor == cursor_now(engine)
        assert as_utc(saved.next_due_at or when) > when


async def test_no_change_no_digest(fake_api: FakeBotAPI, engine: Engine) -> None:
    async with manual_bot(fake_api, engine) as bot:
        await subscribe(bot, USER_ID, "daily 07:30 Europe/Kyiv")
        when = due_time(engine, USER_ID)
        report = await run_due(bot.app, now=when)
        await drain_outbox(bot.app, clock=ManualClock(when))
    assert report.considered == 1 and report.digests == 0
    assert digests_to(fake_api, USER_ID) == [] and deliveries(engine) == []
    assert as_utc(subscription(engine, USER_ID).next_due_at or when) > when


async def test_filters_choose_what_each_subscriber_gets(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    by_topic, by_actor, everything = 3001, 3002, 3003
    async with manual_bot(fake_api, engine) as bot:
        await subscribe(bot, by_topic, "topic=sanctions")
        await subscribe(bot, by_actor, "actor=Yermak")
        await subscribe(bot, everything)
        edit(engine, "western-sanctions-on-russia", summary="Sanctions were widened again.")
        when = due_time(engine, everything)
        await run_due(bot.app, now=when)
        await drain_outbox(bot.app, clock=ManualClock(when))
        assert len(digests_to(fake_api, by_topic)) == 1
        assert "topic: sanctions" in digests_to(fake_api, by_topic)[0].plain
        assert digests_to(fake_api, by_actor) == []
        edit(engine, "andriy-yermak", "actor", role="Former head of the presidential office")
        later = when + DAY
        await run_due(bot.app, now=later)
        await drain_outbox(bot.app, clock=ManualClock(later))
    assert len(digests_to(fake_api, by_topic)) == 1  # nothing new about sanctions
    [actor_digest] = digests_to(fake_api, by_actor)
    assert "actor: Andriy Yermak" in actor_digest.plain
    assert "Former head of the presidential office" in actor_digest.plain
    assert len(digests_to(fake_api, everything)) == 2


async def test_unsubscribed_chat_gets_nothing(fake_api: FakeBotAPI, engine: Engine) -> None:
    async with manual_bot(fake_api, engine) as bot:
        await subscribe(bot, USER_ID)
        await subscribe(bot, 3001)
        edit(engine, "full-scale-invasion", summary="Reworded.")
        when = due_time(engine, USER_ID)
        await run_due(bot.app, now=when)  # queued for both ...
        await bot.send("/unsubscribe", chat_id=3001)  # ... then 3001 leaves before sending
        await drain_outbox(bot.app, clock=ManualClock(when))
        edit(engine, "full-scale-invasion", summary="Reworded again.")
        await run_due(bot.app, now=when + DAY)
        await drain_outbox(bot.app, clock=ManualClock(when + DAY))
    assert len(digests_to(fake_api, USER_ID)) == 2
    assert digests_to(fake_api, 3001) == []
    assert [d.state for d in deliveries(engine) if d.chat_id == 3001] == ["dropped"]


async def test_blocked_user_is_deactivated_and_others_still_get_it(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    chats = [3001, 3002, 3003]
    async with manual_bot(fake_api, engine) as bot:
        for chat in chats:
            await subscribe(bot, chat)
        fake_api.blocked_chats.add(3002)
        edit(engine, "full-scale-invasion", summary="Reworded.")
        when = due_time(engine, 3001)
        await run_due(bot.app, now=when)
        report = await drain_outbox(bot.app, clock=ManualClock(when))
        assert report.delivered == 2 and report.gone == 1
        blocked = subscription(engine, 3002)
        assert not blocked.active and "blocked" in (blocked.ended_reason or "")
        edit(engine, "full-scale-invasion", summary="Reworded twice.")
        await run_due(bot.app, now=when + DAY)
        await drain_outbox(bot.app, clock=ManualClock(when + DAY))
    assert len(digests_to(fake_api, 3001)) == len(digests_to(fake_api, 3003)) == 2
    # 3 confirmations, 3 tries in the first round (one refused), 2 in the second: the blocked
    # chat is not tried again.
    assert len(fake_api.calls_of("sendMessage")) == 3 + 3 + 2


async def test_flood_wait_pauses_only_that_chat(fake_api: FakeBotAPI, engine: Engine) -> None:
    chats = [3001, 3002, 3003, 3004]
    async with manual_bot(fake_api, engine) as bot:
        for chat in chats:
            await subscribe(bot, chat)
        edit(engine, "full-scale-invasion", summary="Reworded.")
        when = due_time(engine, 3001)
        await run_due(bot.app, now=when)
        fake_api.fail_next("sendMessage", 429, retry_after=30)
        calls_before = len(fake_api.calls_of("sendMessage"))
        clock = ManualClock(when)
        report = await drain_outbox(bot.app, clock=clock)
        flooded = next(
            c.params["chat_id"]
            for c in fake_api.calls_of("sendMessage")[calls_before:]
            if c.status == 429
        )
        assert report.flood_waits == 1 and report.delivered == 3
        assert all(len(digests_to(fake_api, c)) == (c != flooded) for c in chats)
        clock.advance(10)  # still inside retry_after: it stays paused
        assert (await drain_outbox(bot.app, clock=clock)).delivered == 0
        clock.advance(25)
        assert (await drain_outbox(bot.app, clock=clock)).delivered == 1
        assert (await drain_outbox(bot.app, clock=clock)).delivered == 0
    assert all(len(digests_to(fake_api, c)) == 1 for c in chats)


async def test_server_errors_are_retried_with_backoff_then_given_up(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    async with manual_bot(fake_api, engine) as bot:
        await subscribe(bot, USER_ID)
        edit(engine, "full-scale-invasion", summary="Reworded.")
        when = due_time(engine, USER_ID)
        await run_due(bot.app, now=when)
        clock = ManualClock(when)
        fake_api.fail_next("sendMessage", 500, times=2)
        assert (await drain_outbox(bot.app, clock=clock)).retried == 1
        clock.advance(1)  # backoff after the first failure is 2 s
        assert (await drain_outbox(bot.app, clock=clock)).retried == 0
        clock.advance(1.5)
        assert (await drain_outbox(bot.app, clock=clock)).retried == 1  # 502 -> 4 s
        clock.advance(5)
        assert (await drain_outbox(bot.app, clock=clock)).delivered == 1
        [done] = deliveries(engine)
        assert done.state == "sent" and done.attempts == 2
        assert len(digests_to(fake_api, USER_ID)) == 1

        # A chat that keeps failing is given up after MAX_ATTEMPTS, not retried forever.
        edit(engine, "full-scale-invasion", summary="Reworded again.")
        await run_due(bot.app, now=clock.now() + DAY)
        clock.advance(DAY.total_seconds() + 1)
        fake_api.fail_next("sendMessage", 502, times=MAX_ATTEMPTS)
        for _ in range(MAX_ATTEMPTS):
            await drain_outbox(bot.app, clock=clock)
            clock.advance(BACKOFF_CAP)
    assert deliveries(engine)[-1].state == "failed"
    assert deliveries(engine)[-1].attempts == MAX_ATTEMPTS
    assert len(digests_to(fake_api, USER_ID)) == 1


async def test_group_upgraded_to_supergroup_is_followed(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    group, supergroup = -4001, -1001000000777
    fake_api.chat_members[(group, USER_ID)] = "administrator"
    async with manual_bot(fake_api, engine) as bot:
        answer = await bot.send("/subscribe", chat_id=group, user_id=USER_ID, chat_type="group")
        assert "Subscribed" in answer[-1].plain
        fake_api.migrated_chats[group] = supergroup
        edit(engine, "full-scale-invasion", summary="Reworded.")
        when = due_time(engine, group)
        await run_due(bot.app, now=when)
        report = await drain_outbox(bot.app, clock=ManualClock(when))
    assert report.migrated == 1 and report.delivered == 1
    assert len(digests_to(fake_api, supergroup)) == 1
    moved = subscription(engine, supergroup)
    assert moved.chat_type == "supergroup" and moved.active


async def test_long_digest_is_split_into_labelled_parts(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    async with manual_bot(fake_api, engine) as bot:
        await subscribe(bot, USER_ID)
        for n in range(45):
            new_event(engine, f"Long event {n} " + "x" * 60, summary="Words & more " * 40)
        when = due_time(engine, USER_ID)
        await run_due(bot.app, now=when)
        clock = ManualClock(when)
        await drain_outbox(bot.app, clock=clock)
    [delivery] = deliveries(engine)
    parts = fake_api.messages_to(USER_ID)[-delivery.parts :]
    assert delivery.parts >= 2 and delivery.parts_sent == delivery.parts
    assert all(len(p.plain) <= 4096 for p in parts)
    assert [p.plain.split("\n", 1)[0] for p in parts] == [
        f"part {i}/{delivery.parts}" for i in range(1, delivery.parts + 1)
    ]
    assert clock.elapsed >= PRIVATE_INTERVAL * (delivery.parts - 1)  # paced per chat


async def test_instant_digest_waits_for_a_quiet_moment(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    async with manual_bot(fake_api, engine, digest_debounce_seconds=60) as bot:
        await subscribe(bot, USER_ID, "instant")
        for n in range(3):  # a burst of edits
            edit(engine, "full-scale-invasion", summary=f"Reworded {n}.")
        edit(engine, "vilnius-summit-2023", summary="Another change.")
        now = datetime.now(UTC)
        assert (await run_due(bot.app, now=now + timedelta(seconds=20))).digests == 0
        assert (await run_due(bot.app, now=now + timedelta(seconds=61))).digests == 1
        await drain_outbox(bot.app, clock=ManualClock(now))
        assert (await run_due(bot.app, now=now + timedelta(seconds=200))).digests == 0
    [digest] = digests_to(fake_api, USER_ID)
    assert "✏️ Updated (2)" in digest.plain and "Reworded 2." in digest.plain


async def test_killed_process_mid_delivery_resumes_without_losing_anyone(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    chats = list(range(3001, 3009))
    async with manual_bot(fake_api, engine) as bot:
        for chat in chats:
            await subscribe(bot, chat)
        edit(engine, "full-scale-invasion", summary="Reworded.")
        when = due_time(engine, 3001)
        await run_due(bot.app, now=when)
        # Worker A claims three deliveries, sends one of them, and dies before recording it.
        with session_scope(engine) as session:
            held = claim(session=session, worker="worker-A", now=when, limit=3)
        in_flight = held[0]
        await bot.app.bot.send_message(in_flight.chat_id, in_flight.texts[0])
        # Worker B, started before A's lease ran out, sends only what nobody holds.
        clock = ManualClock(when + timedelta(seconds=5))
        report = await drain_outbox(bot.app, clock=clock, worker_id="worker-B")
        assert report.delivered == len(chats) - 3 and report.requeued == 0
        # After the lease, A's claims are taken back and delivered.
        clock.advance(LEASE.total_seconds())
        report = await drain_outbox(bot.app, clock=clock, worker_id="worker-B")
        assert report.requeued == 3 and report.delivered == 3
    received = Counter(m.chat_id for m in fake_api.sent if is_digest(m))
    assert received == {c: 2 if c == in_flight.chat_id else 1 for c in chats}
    assert {d.state for d in deliveries(engine)} == {"sent"}


async def test_moderators_preview_and_send(fake_api: FakeBotAPI, engine: Engine) -> None:
    async with manual_bot(fake_api, engine) as bot:
        refused = await bot.send("/digest send", chat_id=USER_ID)
        assert [m.plain for m in refused] == ["This command is for moderators."]
        await subscribe(bot, 3001)
        await subscribe(bot, 3002, "topic=sanctions")
        # Without a subscription, the preview covers the last seven days (the import, here).
        preview = await bot.send("/digest preview", chat_id=OWNER_ID)
        assert "last 7 days" in preview[0].plain and "🆕 New" in preview[1].plain
        await subscribe(bot, OWNER_ID)
        preview = await bot.send("/digest preview", chat_id=OWNER_ID)
        assert "Nothing has changed" in preview[-1].plain
        edit(engine, "full-scale-invasion", summary="Reworded for the preview.")
        preview = await bot.send("/digest preview", chat_id=OWNER_ID)
        assert "Digest preview" in preview[1].plain and "Reworded for the preview." in (
            preview[1].plain
        )
        assert deliveries(engine) == []  # a preview writes nothing
        sent = await bot.send("/digest send", chat_id=OWNER_ID)
        assert "Queued 2 digests" in sent[-1].plain  # 3001 and the owner; 3002 filters it out
        await drain_outbox(bot.app, clock=ManualClock())
    assert len(digests_to(fake_api, 3001)) == 1 and digests_to(fake_api, 3002) == []
    assert subscription(engine, 3002).cursor == cursor_now(engine)


async def test_catch_up_after_downtime_sends_once(fake_api: FakeBotAPI, engine: Engine) -> None:
    async with manual_bot(fake_api, engine) as bot:
        await subscribe(bot, USER_ID)
    # While the bot is down, a change is made and the digest's time passes.
    edit(engine, "full-scale-invasion", summary="Changed while the bot was down.")
    with session_scope(engine) as session:
        saved = get_subscription(session=session, chat_id=USER_ID)
        assert saved is not None
        saved.next_due_at = datetime.now(UTC) - timedelta(hours=3)
        session.add(saved)
    for _restart in range(2):  # the first start catches up; the second finds nothing to do
        async with manual_bot(fake_api, engine, autostart=True) as bot:
            state = state_of(bot.app)
            await state.wait_until(
                lambda s: s.scans >= 1 and s.last_drain is not None and not s.draining,
                timeout=10,
            )
            assert len(digests_to(fake_api, USER_ID)) == 1
    assert as_utc(subscription(engine, USER_ID).next_due_at or datetime.now(UTC)) > (
        datetime.now(UTC)
    )


async def test_digest_send_wakes_the_running_worker(fake_api: FakeBotAPI, engine: Engine) -> None:
    async with manual_bot(fake_api, engine, autostart=True) as bot:
        await subscribe(bot, 3001)
        edit(engine, "full-scale-invasion", summary="Reworded.")
        await bot.send("/digest send", chat_id=OWNER_ID)
        await fake_api.wait_for(lambda fake: digests_to(fake, 3001), timeout=10)
    assert len(digests_to(fake_api, 3001)) == 1


@pytest.mark.parametrize("backend", ["postgres"])  # several processes: PostgreSQL only
async def test_two_processes_on_postgres_deliver_each_digest_once(
    fake_api: FakeBotAPI, backend: str, db_url: str, engine: Engine
) -> None:
    chats = list(range(5001, 5041))
    second_engine = make_engine(db_url)  # the other process's connection pool
    try:
        async with (
            manual_bot(fake_api, engine) as first,
            manual_bot(fake_api, second_engine) as second,
        ):
            subscribe_quietly(engine, chats)
            edit(engine, "full-scale-invasion", summary="Reworded.")
            when = due_time(engine, chats[0])
            await run_due(first.app, now=when)
            # Each at BROADCAST_RATE 5 on its own clock: batches of 10, so both claim some.
            clocks = ManualClock(when), ManualClock(when)
            a, b = await asyncio.gather(
                drain_outbox(
                    first.app, clock=clocks[0], budget=SendBudget(5, clocks[0]),
                    worker_id="process-A",
                ),
                drain_outbox(
                    second.app, clock=clocks[1], budget=SendBudget(5, clocks[1]),
                    worker_id="process-B",
                ),
            )  # fmt: skip
    finally:
        second_engine.dispose()
    received = Counter(m.chat_id for m in fake_api.sent if m.chat_id in chats)
    assert received == dict.fromkeys(chats, 1)  # one digest each
    assert a.delivered + b.delivered == len(chats)
    assert a.delivered > 0 and b.delivered > 0
    senders = Counter(d.claimed_by for d in deliveries(engine))
    assert set(senders) == {"process-A", "process-B"}


def test_scheduler_lock_is_held_by_one_process(backend: str, db_url: str, engine: Engine) -> None:
    first, second = SchedulerLock(engine), None
    other_engine = make_engine(db_url)
    try:
        second = SchedulerLock(other_engine)
        assert first.acquire()
        assert second.acquire() is (backend == "sqlite")  # SQLite: one process, always leads
        first.release()
        assert second.acquire()
    finally:
        second.release() if second else None
        first.release()
        other_engine.dispose()


# --- pacing -----------------------------------------------------------------------------------


async def test_the_send_budget_holds_the_rate() -> None:
    clock = ManualClock()
    budget = SendBudget(30, clock)
    for _ in range(301):
        await budget.digest()
    # 300 after the first, at 30 a second less the message kept free for replies
    assert 9.9 <= clock.elapsed <= 10.6


async def test_groups_get_at_most_twenty_messages_a_minute(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    group = -4001
    fake_api.chat_members[(group, USER_ID)] = "creator"
    async with manual_bot(fake_api, engine) as bot:
        await bot.send("/subscribe", chat_id=group, user_id=USER_ID, chat_type="group")
        for n in range(45):
            new_event(engine, f"Long event {n} " + "x" * 60, summary="Words & more " * 40)
        when = due_time(engine, group)
        await run_due(bot.app, now=when)
        clock = ManualClock(when)
        await drain_outbox(bot.app, clock=clock)
    [delivery] = deliveries(engine)
    assert delivery.parts >= 3 and delivery.state == "sent"
    assert clock.elapsed >= GROUP_INTERVAL * (delivery.parts - 1)
