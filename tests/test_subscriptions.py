"""Subscribing: parsing settings, schedules across time zones and DST, the commands in private
chats, groups (administrators only) and channels (moderators, with the bot's rights checked)."""

from __future__ import annotations

import zoneinfo
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.delivery.scheduler import drain_outbox, run_due
from knowledge.digests.feed import latest_revision_id
from knowledge.digests.schedules import Schedule, SubscriptionError, next_due_at
from knowledge.digests.subscriptions import (
    get_subscription,
    parse_request,
    resolve_filter,
    subscribe,
    unsubscribe,
)
from knowledge.models import AuditRecord, Entry, Moderator, Subscription, as_utc
from knowledge.storage.database import session_scope
from knowledge.write.curation import Author, update_entry
from tests.clock import ManualClock
from tests.conftest import MODERATOR_ID, OWNER_ID, USER_ID
from tests.fakebotapi import FakeBotAPI, make_chat
from tests.harness import BotHarness

GROUP = -4001
CHANNEL = -1001000000002


@pytest.fixture
async def bot(fake_api: FakeBotAPI, engine: Engine) -> AsyncIterator[BotHarness]:
    async with BotHarness(
        fake_api, engine, admin_ids={OWNER_ID}, default_timezone="UTC", autostart=False
    ) as harness:
        yield harness


def stored(engine: Engine, chat_id: int) -> Subscription | None:
    with session_scope(engine) as session:
        return get_subscription(session=session, chat_id=chat_id)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "frequency", "at_time", "weekday", "zone", "topic", "actor"),
    [
        ("", "daily", "09:00", None, "Europe/Kyiv", None, None),
        ("daily 8:05 europe/kyiv", "daily", "08:05", None, "Europe/Kyiv", None, None),
        ("weekly fri 18:00 UTC", "weekly", "18:00", 4, "UTC", None, None),
        ("WEEKLY Sunday", "weekly", "09:00", 6, "Europe/Kyiv", None, None),
        ("instant topic=sanctions", "instant", "09:00", None, "UTC", "sanctions", None),
        ("actor=Andriy Yermak daily 07:00", "daily", "07:00", None, "Europe/Kyiv", None,
         "Andriy Yermak"),
        ("topic=#Sanctions", "daily", "09:00", None, "Europe/Kyiv", "sanctions", None),
        # Legacy names people still type, renamed to the current one; a country's own zone
        # that is now a link (Vaduz -> Zurich) keeps its name.
        ("daily 07:00 Europe/Kiev", "daily", "07:00", None, "Europe/Kyiv", None, None),
        ("daily europe/kiev", "daily", "09:00", None, "Europe/Kyiv", None, None),
        ("daily US/Eastern", "daily", "09:00", None, "America/New_York", None, None),
        ("daily Europe/Vaduz", "daily", "09:00", None, "Europe/Vaduz", None, None),
    ],
)  # fmt: skip
def test_parse_request(
    text: str,
    frequency: str,
    at_time: str,
    weekday: int | None,
    zone: str,
    topic: str | None,
    actor: str | None,
) -> None:
    request = parse_request(text, default_timezone="Europe/Kyiv")
    assert request.schedule == Schedule(frequency, at_time, weekday, zone)
    assert (request.topic, request.actor) == (topic, actor)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("daily 25:00", "“25:00” is not a time of day. Use HH:MM between 00:00 and 23:59"),
        ("daily 8:7", "“8:7” is not a time of day"),
        ("daily 08:00 Mars/Olympus", "“Mars/Olympus” is not a time zone I know"),
        ("weekly funday 10:00", "“funday” is not a day of the week. Use mon, tue, wed"),
        ("weekly 10:00", "Which day of the week?"),
        ("daily fri", "A day of the week goes with weekly"),
        ("instant 08:00", "Instant digests have no time or day"),
        ("daily weekly", "Choose one of daily, weekly or instant"),
        ("topic=sanctions actor=Yermak", "Use one filter at a time"),
        ("topic=", "Name the topic after topic="),
        ("actor=", "Name the actor after actor="),
        ("tomorrow", "I don't understand “tomorrow”"),
    ],
)
def test_parse_request_refuses_clearly(text: str, message: str) -> None:
    with pytest.raises(SubscriptionError) as caught:
        parse_request(text, default_timezone="UTC")
    assert message in str(caught.value)


def test_legacy_zone_names_resolve_without_the_systems_zone_files() -> None:
    """The `tzdata` package answers where the system has no (or no legacy) zone files, as in
    slim container images: `Europe/Kiev` is known and becomes `Europe/Kyiv`."""
    zoneinfo.reset_tzpath(to=[])
    try:
        kiev = zoneinfo.ZoneInfo.no_cache("Europe/Kiev")
        assert datetime(2025, 1, 1, tzinfo=UTC).astimezone(kiev).utcoffset() == timedelta(hours=2)
        request = parse_request("daily Europe/Kiev", default_timezone="UTC")
    finally:
        zoneinfo.reset_tzpath()
    assert request.schedule.timezone == "Europe/Kyiv"


# --- schedules --------------------------------------------------------------------------------


def test_daily_schedule_follows_daylight_saving_time() -> None:
    kyiv = Schedule("daily", "08:00", None, "Europe/Kyiv")
    # Winter: 08:00 EET is 06:00 UTC. Clocks go forward on 30 March 2025 (03:00 -> 04:00).
    assert next_due_at(kyiv, at("2025-03-28 07:00")) == at("2025-03-29 06:00")
    assert next_due_at(kyiv, at("2025-03-29 06:00")) == at("2025-03-30 05:00")
    # And back on 26 October 2025.
    assert next_due_at(kyiv, at("2025-10-25 05:00")) == at("2025-10-26 06:00")
    # New York, other rules and dates: 9:00 EST is 14:00 UTC, 9:00 EDT is 13:00 UTC.
    new_york = Schedule("daily", "09:00", None, "America/New_York")
    assert next_due_at(new_york, at("2025-03-08 15:00")) == at("2025-03-09 13:00")


def test_times_skipped_or_repeated_by_a_clock_change() -> None:
    skipped = Schedule("daily", "03:30", None, "Europe/Kyiv")  # does not exist on 30 March
    assert next_due_at(skipped, at("2025-03-29 12:00")) == at("2025-03-30 01:30")
    repeated = Schedule("daily", "03:30", None, "Europe/Kyiv")  # twice on 26 October
    assert next_due_at(repeated, at("2025-10-25 12:00")) == at("2025-10-26 00:30")


def test_weekly_schedule_and_strictly_future_slots() -> None:
    friday = Schedule("weekly", "18:00", 4, "UTC")
    assert next_due_at(friday, at("2025-06-02 10:00")) == at("2025-06-06 18:00")  # Monday
    assert next_due_at(friday, at("2025-06-06 18:00")) == at("2025-06-13 18:00")  # exactly
    daily = Schedule("daily", "09:00", None, "UTC")
    # Catch-up: long overdue -> the next slot after now, never one in the past.
    assert next_due_at(daily, at("2025-06-06 09:00:01")) == at("2025-06-07 09:00")
    assert next_due_at(Schedule("instant"), at("2025-06-06 09:00")) is None


# --- DB level (both backends) -----------------------------------------------------------------


@pytest.mark.usefixtures("backend")
def test_new_subscriber_starts_from_now_and_settings_keep_the_cursor(engine: Engine) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        request = parse_request("weekly mon 07:15 Europe/Kyiv", default_timezone="UTC")
        created, status = subscribe(
            session=session, chat_id=USER_ID, chat_type="private", request=request, now=now
        )
        assert status == "new" and created.cursor == latest_revision_id(session=session) > 0
        created.cursor = 5  # as if digests had covered up to revision 5
        session.add(created)
    with session_scope(engine) as session:
        request = parse_request("instant topic=sanctions", default_timezone="UTC")
        changed, status = subscribe(
            session=session, chat_id=USER_ID, chat_type="private", request=request, now=now
        )
        assert status == "updated" and changed.cursor == 5 and changed.next_due_at is None
        assert unsubscribe(session=session, chat_id=USER_ID, now=now)
        assert not unsubscribe(session=session, chat_id=USER_ID, now=now)
        again, status = subscribe(
            session=session, chat_id=USER_ID, chat_type="private", request=request, now=now
        )
        assert status == "resumed" and again.cursor == latest_revision_id(session=session)


@pytest.mark.usefixtures("backend")
def test_unknown_topic_or_actor_is_refused(engine: Engine) -> None:
    with session_scope(engine) as session:
        with pytest.raises(SubscriptionError, match="No event has the topic “weather”"):
            resolve_filter(session=session, topic="weather", actor=None)
        with pytest.raises(SubscriptionError, match="I don't know anyone called"):
            resolve_filter(session=session, topic=None, actor="Qwerty Uiop")
        assert resolve_filter(session=session, topic=None, actor="Єрмак")[1] is not None
        assert resolve_filter(session=session, topic="sanctions", actor=None) == (
            "sanctions",
            None,
        )


# --- the commands -----------------------------------------------------------------------------


async def test_subscribe_confirms_without_the_backlog(
    bot: BotHarness, fake_api: FakeBotAPI, engine: Engine
) -> None:
    [answer] = await bot.send("/subscribe", chat_id=USER_ID)
    assert "Subscribed: daily at 09:00 (UTC)" in answer.plain
    assert "from now on" in answer.plain
    saved = stored(engine, USER_ID)
    assert saved is not None and saved.active and saved.chat_type == "private"
    with session_scope(engine) as session:
        assert saved.cursor == latest_revision_id(session=session)
    # The 31 imported entries are history, not news: nothing is due and nothing is sent.
    report = await run_due(bot.app, now=datetime.now(UTC) + timedelta(days=2))
    assert report.considered == 1 and report.digests == 0
    [again] = await bot.send("/subscribe", chat_id=USER_ID)  # no arguments: shows, changes nothing
    assert "Digest settings" in again.plain
    [changed] = await bot.send("/subscribe weekly fri 18:30 Europe/Kyiv topic=sanctions")
    assert "Settings changed: weekly on Friday at 18:30 (Europe/Kyiv)" in changed.plain
    assert "Filter: topic: sanctions" in changed.plain
    [card] = await bot.send("/subscription")
    assert "weekly on Friday at 18:30 (Europe/Kyiv)" in card.plain and "Next digest:" in card.plain


async def test_subscribe_takes_the_legacy_name_and_shows_the_current_one(
    bot: BotHarness, engine: Engine
) -> None:
    [answer] = await bot.send("/subscribe daily 07:30 Europe/Kiev", chat_id=USER_ID)
    assert "daily at 07:30 (Europe/Kyiv)" in answer.plain
    assert "Kiev" not in answer.plain
    saved = stored(engine, USER_ID)
    assert saved is not None and saved.timezone == "Europe/Kyiv"


async def test_bad_settings_get_a_clear_answer_and_change_nothing(
    bot: BotHarness, engine: Engine
) -> None:
    for text, expected in [
        ("/subscribe daily 25:00", "is not a time of day"),
        ("/subscribe daily 08:00 Mars/Olympus", "is not a time zone I know"),
        ("/subscribe weekly funday 09:00", "is not a day of the week"),
        ("/subscribe topic=weather", "No event has the topic “weather”"),
        ("/subscribe actor=Nobody Atall", "I don't know anyone called"),
        ("/subscribe " + "x" * 2000, "longer than I can look up"),
    ]:
        [answer] = await bot.send(text, chat_id=USER_ID)
        assert expected in answer.plain, (text, answer.plain)
    assert stored(engine, USER_ID) is None


async def test_unsubscribe_and_subscription(bot: BotHarness, engine: Engine) -> None:
    [answer] = await bot.send("/subscription", chat_id=USER_ID)
    assert "You are not subscribed" in answer.plain
    await bot.send("/subscribe instant actor=Yermak", chat_id=USER_ID)
    [card] = await bot.send("/subscription", chat_id=USER_ID)
    assert "instant" in card.plain and "Filter: actor: Andriy Yermak" in card.plain
    [stop] = await bot.send("/unsubscribe", chat_id=USER_ID)
    assert "Unsubscribed" in stop.plain
    saved = stored(engine, USER_ID)
    assert saved is not None and not saved.active and saved.ended_reason == "unsubscribed"
    [again] = await bot.send("/unsubscribe", chat_id=USER_ID)
    assert "not subscribed, so there is nothing to stop" in again.plain
    [resumed] = await bot.send("/subscribe", chat_id=USER_ID)
    assert "Subscribed again" in resumed.plain


async def test_only_group_administrators_change_the_group(
    bot: BotHarness, fake_api: FakeBotAPI, engine: Engine
) -> None:
    member, admin = 2101, 2102
    fake_api.chat_members[(GROUP, member)] = "member"
    fake_api.chat_members[(GROUP, admin)] = "administrator"
    [refused] = await bot.send("/subscribe", chat_id=GROUP, user_id=member, chat_type="group")
    assert refused.plain == "Only this group's administrators can change its digest subscription."
    assert stored(engine, GROUP) is None
    checked = fake_api.calls_of("getChatMember")[-1].params
    assert (checked["chat_id"], checked["user_id"]) == (GROUP, member)
    [done] = await bot.send(
        "/subscribe daily 07:00 Europe/Kyiv", chat_id=GROUP, user_id=admin, chat_type="group"
    )
    assert "Subscribed" in done.plain
    saved = stored(engine, GROUP)
    assert saved is not None and saved.chat_type == "group" and saved.created_by == admin
    # Anyone may look; only administrators may stop it.
    [card] = await bot.send("/subscription", chat_id=GROUP, user_id=member, chat_type="group")
    assert "daily at 07:00 (Europe/Kyiv)" in card.plain
    [refused] = await bot.send("/unsubscribe", chat_id=GROUP, user_id=member, chat_type="group")
    assert "administrators" in refused.plain
    assert stored(engine, GROUP).active  # type: ignore[union-attr]
    fake_api.chat_members[(GROUP, admin)] = "member"  # demoted: loses the right at once
    [refused] = await bot.send("/unsubscribe", chat_id=GROUP, user_id=admin, chat_type="group")
    assert "administrators" in refused.plain
    fake_api.chat_members[(GROUP, member)] = "creator"
    [stopped] = await bot.send("/unsubscribe", chat_id=GROUP, user_id=member, chat_type="group")
    assert "Unsubscribed" in stopped.plain


async def test_a_bot_blocked_or_removed_stops_that_chats_digests_at_once(
    bot: BotHarness, fake_api: FakeBotAPI, engine: Engine
) -> None:
    """Telegram's my_chat_member update ends the subscription before any 403 is met."""
    admin = 2102
    fake_api.chat_members[(GROUP, admin)] = "administrator"
    await bot.send("/subscribe", chat_id=USER_ID)
    await bot.send("/subscribe", chat_id=GROUP, user_id=admin, chat_type="group")
    calls = len(fake_api.calls)

    # Changes that leave the bot able to post change nothing.
    await bot.process(
        fake_api.make_my_chat_member_update(GROUP, "administrator", "member", chat_type="group")
    )
    assert stored(engine, GROUP).active  # type: ignore[union-attr]

    await bot.process(
        fake_api.make_my_chat_member_update(USER_ID, "kicked", "member", chat_type="private")
    )
    await bot.process(
        fake_api.make_my_chat_member_update(GROUP, "left", "administrator", chat_type="group")
    )
    for chat_id, reason in ((USER_ID, "the bot was blocked"), (GROUP, "the bot was removed")):
        saved = stored(engine, chat_id)
        assert saved is not None and not saved.active and saved.ended_reason == reason
    assert len(fake_api.calls) == calls  # nothing was sent to chats that can't be reached
    # Blocked again, or a chat that never subscribed: nothing to stop, nothing breaks.
    await bot.process(
        fake_api.make_my_chat_member_update(USER_ID, "kicked", "member", chat_type="private")
    )
    await bot.process(
        fake_api.make_my_chat_member_update(4999, "kicked", "member", chat_type="private")
    )
    assert stored(engine, 4999) is None


# --- channels ---------------------------------------------------------------------------------


def _channel(
    fake: FakeBotAPI, *, can_post: bool | None = True, status: str = "administrator"
) -> None:
    fake.chats[CHANNEL] = make_chat(
        CHANNEL, "channel", title="Briefing <News>", username="brief_news"
    )
    if can_post is None:
        fake.chat_members.pop((CHANNEL, fake.bot_id), None)
        return
    fake.chat_members[(CHANNEL, fake.bot_id)] = (
        {"status": status, "can_post_messages": can_post} if status == "administrator" else status
    )


async def test_channel_commands_are_for_moderators(
    bot: BotHarness, fake_api: FakeBotAPI, engine: Engine
) -> None:
    _channel(fake_api)
    for text in ("/channel add @brief_news", "/channels", f"/channel remove {CHANNEL}"):
        [answer] = await bot.send(text, chat_id=USER_ID)
        assert answer.plain == "This command is for moderators."
    assert stored(engine, CHANNEL) is None
    assert fake_api.calls_of("getChat") == []
    with session_scope(engine) as session:
        refusals = session.exec(select(AuditRecord).where(AuditRecord.user_id == USER_ID)).all()
    assert len(refusals) == 3 and all(r.outcome.startswith("refused") for r in refusals)


async def test_channel_add_checks_that_the_bot_may_post(
    bot: BotHarness, fake_api: FakeBotAPI, engine: Engine
) -> None:
    with session_scope(engine) as session:
        session.add(Moderator(user_id=MODERATOR_ID, added_by=OWNER_ID))
    [unknown] = await bot.send("/channel add @nobody_here", chat_id=MODERATOR_ID)
    assert "I can't find the channel @nobody_here" in unknown.plain
    _channel(fake_api, can_post=None)  # the bot is only a member
    fake_api.chat_members[(CHANNEL, fake_api.bot_id)] = "member"
    [member] = await bot.send("/channel add @brief_news", chat_id=MODERATOR_ID)
    assert "I can't post in “Briefing <News>” yet" in member.plain
    assert "Post messages" in member.plain and "@briefing_test_bot" in member.plain
    _channel(fake_api, can_post=False)  # an administrator without the right to post
    [no_right] = await bot.send(f"/channel add {CHANNEL}", chat_id=MODERATOR_ID)
    assert "I can't post in" in no_right.plain
    assert stored(engine, CHANNEL) is None
    fake_api.chats[GROUP] = make_chat(GROUP, "group", title="Some group")
    [group] = await bot.send(f"/channel add {GROUP}", chat_id=MODERATOR_ID)
    assert "is a group, not a channel" in group.plain
    [bad] = await bot.send("/channel add #what", chat_id=MODERATOR_ID)
    assert "is not a channel" in bad.plain

    _channel(fake_api, can_post=True)
    [added] = await bot.send(
        "/channel add @brief_news daily 08:00 Europe/Kyiv", chat_id=MODERATOR_ID
    )
    assert "“Briefing <News>”" in added.plain and "daily at 08:00 (Europe/Kyiv)" in added.plain
    saved = stored(engine, CHANNEL)
    assert saved is not None and saved.chat_type == "channel" and saved.username == "brief_news"
    member_check = fake_api.calls_of("getChatMember")[-1].params
    assert (member_check["chat_id"], member_check["user_id"]) == (CHANNEL, fake_api.bot_id)

    [listed] = await bot.send("/channels", chat_id=MODERATOR_ID)
    assert "@brief_news" in listed.plain and str(CHANNEL) in listed.plain
    [moved] = await bot.send(
        f"/channel schedule {CHANNEL} weekly mon 07:30 America/New_York", chat_id=MODERATOR_ID
    )
    assert "weekly on Monday at 07:30 (America/New_York)" in moved.plain
    [bad_time] = await bot.send(f"/channel schedule {CHANNEL} daily 25:00", chat_id=MODERATOR_ID)
    assert "is not a time of day" in bad_time.plain
    assert stored(engine, CHANNEL).frequency == "weekly"  # type: ignore[union-attr]
    [removed] = await bot.send("/channel remove @brief_news", chat_id=MODERATOR_ID)
    assert "gets no more digests" in removed.plain
    assert not stored(engine, CHANNEL).active  # type: ignore[union-attr]
    [empty] = await bot.send("/channels", chat_id=MODERATOR_ID)
    assert "No channels receive digests" in empty.plain
    [usage] = await bot.send("/channel", chat_id=MODERATOR_ID)
    assert "/channel add @channel" in usage.plain


async def test_a_channel_that_takes_the_bots_right_to_post_stops_its_digests(
    bot: BotHarness, fake_api: FakeBotAPI, engine: Engine
) -> None:
    with session_scope(engine) as session:
        session.add(Moderator(user_id=MODERATOR_ID, added_by=OWNER_ID))
    _channel(fake_api, can_post=True)
    await bot.send("/channel add @brief_news", chat_id=MODERATOR_ID)
    assert stored(engine, CHANNEL).active  # type: ignore[union-attr]
    await bot.process(
        fake_api.make_my_chat_member_update(
            CHANNEL, "administrator", "administrator", can_post_messages=True
        )
    )
    assert stored(engine, CHANNEL).active  # type: ignore[union-attr]
    await bot.process(
        fake_api.make_my_chat_member_update(
            CHANNEL, "administrator", "administrator", can_post_messages=False
        )
    )
    saved = stored(engine, CHANNEL)
    assert saved is not None and not saved.active
    assert saved.ended_reason == "the bot may no longer post in the channel"


async def test_channel_digest_is_posted(
    bot: BotHarness, fake_api: FakeBotAPI, engine: Engine
) -> None:
    _channel(fake_api)
    await bot.send("/channel add @brief_news", chat_id=OWNER_ID)
    with session_scope(engine) as session:
        entry = session.exec(select(Entry).where(Entry.slug == "full-scale-invasion")).one()
        assert entry.id is not None
        update_entry(session, entry.id, {"summary": "Reworded."}, author=Author(OWNER_ID, "O"))
    saved = stored(engine, CHANNEL)
    assert saved is not None and saved.next_due_at is not None
    when = as_utc(saved.next_due_at) + timedelta(seconds=1)
    await run_due(bot.app, now=when)
    await drain_outbox(bot.app, clock=ManualClock(when))
    [post] = fake_api.messages_to(CHANNEL)
    assert "Briefing digest" in post.plain and "Reworded." in post.plain
