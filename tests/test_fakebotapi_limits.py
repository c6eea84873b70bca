"""The fake Bot API as strict as Telegram about limits and the schema: a bot-wide sliding
second counting every message, per-chat windows, random 429s; unknown methods, missing,
ill-typed and unknown parameters. Time comes from a hand-moved clock: nothing sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import EndPointNotFound, RetryAfter

from tests.fakebotapi import FakeBotAPI, make_callback_update
from tests.fakebotapi.limits import Limits


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
async def fake(ticks: Ticks) -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(limits=Limits(clock=ticks)) as fake:
        yield fake


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=f"{fake.url}/bot") as bot:
        yield bot


async def test_the_bot_wide_window_counts_sends_and_edits_not_answers(
    fake: FakeBotAPI, bot: Bot, ticks: Ticks
) -> None:
    fake.limits.bot_per_second = 5
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="x")]])
    sent = [await bot.send_message(2000 + n, "hi", reply_markup=markup) for n in range(3)]
    await bot.edit_message_text("edited", chat_id=2000, message_id=sent[0].message_id)
    update = make_callback_update("x", fake.messages_to(2001)[0])
    await bot.answer_callback_query(update["callback_query"]["id"])  # not a message
    await bot.send_message(2010, "fifth")
    with pytest.raises(RetryAfter):
        await bot.send_message(2011, "sixth in the same second")
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("again", chat_id=2001, message_id=sent[1].message_id)
    ticks.now += 1.0  # the window slides
    await bot.send_message(2011, "sixth, a second later")
    assert fake.limits.refused_bot == 2
    assert len(fake.limits.accepted) == 6


async def test_limits_change_while_running(fake: FakeBotAPI, bot: Bot, ticks: Ticks) -> None:
    for n in range(30):
        await bot.send_message(3000 + n, "ok")
    with pytest.raises(RetryAfter):
        await bot.send_message(3100, "31st")
    ticks.now += 1.0
    fake.limits.bot_per_second = 2  # the limit drops mid-broadcast
    await bot.send_message(3101, "1")
    await bot.send_message(3102, "2")
    with pytest.raises(RetryAfter):
        await bot.send_message(3103, "3")


async def test_per_chat_windows_private_and_group(
    fake: FakeBotAPI, bot: Bot, ticks: Ticks
) -> None:
    fake.limits.bot_per_second = None
    fake.limits.private_per_window = 1  # one a second, as Telegram asks of broadcasts
    await bot.send_message(4001, "private")
    with pytest.raises(RetryAfter):
        await bot.send_message(4001, "a second one within the second")
    await bot.send_message(4002, "another private chat is independent")
    for _ in range(20):
        await bot.send_message(-4001, "group")
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(-4001, "21st in a minute")
    assert flood.value.retry_after.total_seconds() >= 1
    ticks.now += 60.0
    await bot.send_message(-4001, "a minute later")
    assert fake.limits.refused_chat == 2


async def test_random_429s_at_the_set_ratio(fake: FakeBotAPI, bot: Bot, ticks: Ticks) -> None:
    fake.limits.bot_per_second = None
    fake.limits.flood_ratio = 0.5
    refused = 0
    for n in range(40):
        try:
            await bot.send_message(5000 + n, "maybe")
        except RetryAfter:
            refused += 1
    assert fake.limits.injected == refused
    assert 8 <= refused <= 32


async def test_unknown_method_is_404(fake: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendHologram", api_kwargs={"chat_id": 1})


async def call(fake: FakeBotAPI, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """A raw Bot API call (PTB would refuse to send some of these)."""
    async with (
        ClientSession() as session,
        session.post(f"{fake.url}/bot{fake.token}/{method}", json=params) as response,
    ):
        body: dict[str, Any] = await response.json()
        assert response.status == body.get("error_code", 200)
        return body


async def test_missing_and_ill_typed_parameters_are_400(fake: FakeBotAPI) -> None:
    refusals = [
        await call(fake, "sendMessage", {"text": "x"}),
        await call(fake, "answerCallbackQuery", {"text": "x"}),
        await call(fake, "editMessageText", {"chat_id": 1, "message_id": "one", "text": "x"}),
        await call(
            fake, "sendMessage",
            {"chat_id": 1, "text": "x", "reply_markup": {"inline_keyboard": 5}},
        ),
    ]  # fmt: skip
    assert [(r["error_code"], r["description"]) for r in refusals] == [
        (400, "Bad Request: chat_id is empty"),
        (400, 'Bad Request: parameter "callback_query_id" is required'),
        (400, 'Bad Request: field "message_id" must be of type Integer'),
        (400, 'Bad Request: field "reply_markup" must be of type InlineKeyboardMarkup or '
              "ReplyKeyboardMarkup or ReplyKeyboardRemove or ForceReply"),
    ]  # fmt: skip
    assert (await call(fake, "sendHologram", {}))["error_code"] == 404


async def test_an_unknown_parameter_fails_the_test(fake: FakeBotAPI) -> None:
    await call(fake, "sendMessage", {"chat_id": 1, "text": "x", "disable_web_page_preview": True})
    await call(fake, "sendMessage", {"chat_id": 1, "text": "x",
                                     "link_preview_options": {"disabled": True}})  # fmt: skip
    assert fake.unknown_parameters == [
        ("sendMessage", "disable_web_page_preview"),
        ("sendMessage", "link_preview_options.disabled"),
    ]
    with pytest.raises(AssertionError, match="parameters the Bot API does not know"):
        await fake.stop()
