"""`bot.transport.request.AiohttpRequest`, PTB's transport on aiohttp, against the strict fake.

Everything goes through a real `telegram.Bot`, so what is checked is what the bot sees: the
calls arrive as the fake expects them (JSON, and multipart for uploads), and every error comes
back as the exception PTB raises on httpx. Timeouts use a fake method that never answers and
a timeout of a few hundredths of a second: nothing waits on a clock.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from bot.transport.request import AiohttpRequest
from tests.fakebotapi import FakeBotAPI, UploadedFile
from tests.harness import BotHarness

CHAT = 5151


@pytest.fixture
async def bot(fake_api: FakeBotAPI) -> AsyncIterator[Bot]:
    request = AiohttpRequest(connection_pool_size=8)
    async with Bot(
        fake_api.token,
        base_url=f"{fake_api.url}/bot",
        base_file_url=f"{fake_api.url}/file/bot",
        request=request,
        get_updates_request=AiohttpRequest(connection_pool_size=1),
    ) as the_bot:
        yield the_bot


@pytest.fixture
def hang(fake_api: FakeBotAPI) -> asyncio.Event:
    """A fake method, `hang`, that answers only when the returned event is set."""
    release = asyncio.Event()

    async def handler(_params: dict[str, Any]) -> bool:
        await release.wait()
        return True

    fake_api.register_method("hang", handler)
    return release


async def test_the_application_uses_it_for_calls_and_for_get_updates(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    harness = BotHarness(fake_api, engine)
    requests = harness.app.bot._request  # (getUpdates, everything else)
    assert all(isinstance(r, AiohttpRequest) for r in requests)
    assert requests[0].connection_pool_size == 1
    assert requests[1].connection_pool_size == 256


async def test_json_calls_round_trip(fake_api: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == fake_api.bot_username
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Open", callback_data="ev:1")]])
    message = await bot.send_message(CHAT, "<b>Bold</b> &amp; plain", parse_mode="HTML",
                                      reply_markup=markup)  # fmt: skip
    [sent] = fake_api.messages_to(CHAT)
    assert sent.plain == "Bold & plain"
    assert sent.buttons == [{"text": "Open", "callback_data": "ev:1"}]
    assert message.message_id == sent.message_id and message.text == "Bold & plain"
    assert await bot.get_updates(timeout=0) == ()  # getUpdates: its own request object


async def test_multipart_upload_and_file_download(fake_api: FakeBotAPI, bot: Bot) -> None:
    content = "Київ, Vilnius\n".encode() * 50
    message = await bot.send_document(
        CHAT, document=content, filename="briefing.txt", caption="<i>Export</i>",
        parse_mode="HTML",
    )  # fmt: skip
    [call] = fake_api.calls_of("sendDocument")
    upload = call.params["document"]
    assert isinstance(upload, UploadedFile)
    assert (upload.filename, upload.content) == ("briefing.txt", content)
    sent = fake_api.messages_to(CHAT)[-1]
    assert (sent.kind, sent.plain, sent.entities[0]["type"]) == ("document", "Export", "italic")
    assert message.document is not None
    downloaded = await (await bot.get_file(message.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == content  # a GET through the same transport


async def test_flood_wait_is_retry_after(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "hello")
    assert caught.value.retry_after == timedelta(seconds=7)


async def test_blocked_is_forbidden(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.blocked_chats.add(CHAT)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(CHAT, "hello")


async def test_bad_request_and_migrated_group(fake_api: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="parse entities"):
        await bot.send_message(CHAT, "<b>unclosed", parse_mode="HTML")
    fake_api.migrated_chats[-4001] = -1001000000077
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(-4001, "hello")
    assert caught.value.new_chat_id == -1001000000077


async def test_server_error_is_network_error(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.fail_next("sendMessage", 502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(CHAT, "hello")


async def test_no_answer_in_time_is_timed_out(bot: Bot, hang: asyncio.Event) -> None:
    with pytest.raises(TimedOut):
        await bot.do_api_request("hang", read_timeout=0.05)
    hang.set()
    assert await bot.do_api_request("hang") is True  # the transport is still usable


async def test_every_connection_busy_is_a_pool_timeout(
    fake_api: FakeBotAPI, hang: asyncio.Event
) -> None:
    async with AiohttpRequest(connection_pool_size=1, pool_timeout=0.05) as request:
        bot = Bot(fake_api.token, base_url=f"{fake_api.url}/bot", request=request)
        first = asyncio.create_task(bot.do_api_request("hang"))
        await fake_api.wait_for_call("hang", completed=False)
        with pytest.raises(TimedOut, match="Pool timeout"):
            await bot.do_api_request("hang")
        hang.set()
        assert await first is True


async def test_connection_refused_is_network_error() -> None:
    with socket.socket() as probe:  # a port on 127.0.0.1 that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with AiohttpRequest() as request:
        bot = Bot("1:x", base_url=f"http://127.0.0.1:{port}/bot", request=request)
        with pytest.raises(NetworkError, match=r"aiohttp\.ClientConnectorError") as caught:
            await bot.get_me()
        assert not isinstance(caught.value, TimedOut)


async def test_lifecycle() -> None:
    request = AiohttpRequest(read_timeout=3.0)
    assert request.read_timeout == 3.0
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:1/x", "POST")
    await request.initialize()
    await request.initialize()  # idempotent
    await request.shutdown()
    await request.shutdown()  # idempotent
    await request.initialize()  # and usable again, as PTB's Application restarts do
    await request.shutdown()
    with pytest.raises(ValueError, match="pool"):
        AiohttpRequest(connection_pool_size=0)
