"""The bot token never reaches the logs: not in messages, URLs, exceptions or tracebacks."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Engine
from telegram import Bot
from telegram.error import InvalidToken, NetworkError

from bot.logging_setup import REDACTED, JsonFormatter, RedactingFilter, configure_logging
from tests.conftest import USER_ID
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness

# Shaped like a real token (the fake's default one is not), so both the configured-secret
# replacement and the token-shaped pattern are exercised.
TOKEN = "7234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
OTHER_TOKEN = "7234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw2"
SECRET = "webhook-secret_value"
CHATTY = ("httpx", "httpcore", "aiohttp", "telegram", "bot")


class Captured:
    """Everything logged, formatted as text and as JSON lines, through the redacting filter."""

    def __init__(self, secrets: list[str]) -> None:
        self.text, self.json = io.StringIO(), io.StringIO()
        self.handlers = []
        for stream, formatter in (
            (self.text, logging.Formatter("%(levelname)s %(name)s: %(message)s")),
            (self.json, JsonFormatter()),
        ):
            handler = logging.StreamHandler(stream)
            handler.addFilter(RedactingFilter(secrets))
            handler.setFormatter(formatter)
            self.handlers.append(handler)

    @property
    def output(self) -> str:
        return self.text.getvalue() + self.json.getvalue()

    def assert_clean(self) -> None:
        for secret in (TOKEN, OTHER_TOKEN, quote(TOKEN), quote(TOKEN, safe=""), SECRET):
            assert secret not in self.output
        # The token's tail alone would still identify it.
        assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in self.output
        for line in self.json.getvalue().splitlines():
            json.loads(line)  # one JSON object per line, tracebacks included


@pytest.fixture
def captured() -> Iterator[Captured]:
    """Capture at DEBUG, HTTP clients included (httpx logs every request URL, token and all)."""
    capture = Captured([TOKEN, SECRET])
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in CHATTY}
    root_level = root.level
    for handler in capture.handlers:
        root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield capture
    for handler in capture.handlers:
        root.removeHandler(handler)
    root.setLevel(root_level)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
async def real_token_api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but never listening: connections to it are refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


async def test_a_request_the_api_fails_leaves_no_token_in_the_logs(
    captured: Captured, real_token_api: FakeBotAPI, engine: Engine
) -> None:
    async with BotHarness(real_token_api, engine) as harness:
        real_token_api.fail_next("sendMessage", 500)
        replies = await harness.send("/help", chat_id=USER_ID)

    assert replies and "went wrong" in replies[0].plain  # the error handler ran
    assert "NetworkError" in captured.output and "Internal Server Error" in captured.output
    assert "Traceback" in captured.output
    # The bot's transport (bot/transport/request.py, aiohttp) logs no request lines; httpx logged
    # each URL, token and all (test_an_unreachable_api_leaves_no_token_in_the_logs covers that).
    captured.assert_clean()


async def test_an_unreachable_api_leaves_no_token_in_the_logs(
    captured: Captured, closed_port: int
) -> None:
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{closed_port}/bot")
    try:
        with pytest.raises(NetworkError) as raised:
            await bot.get_me()
    finally:
        await bot.shutdown()
    logging.getLogger("bot.test").error("getMe failed: %r", raised.value, exc_info=raised.value)

    assert "getMe failed" in captured.output and "Traceback" in captured.output
    assert f"127.0.0.1:{closed_port}/bot{REDACTED}" in captured.output  # PTB's debug line
    captured.assert_clean()


async def test_a_rejected_token_is_redacted_from_the_exception_message(
    captured: Captured, real_token_api: FakeBotAPI
) -> None:
    # PTB puts the token itself into InvalidToken's message.
    bot = Bot(OTHER_TOKEN, base_url=f"{real_token_api.url}/bot")
    try:
        with pytest.raises(InvalidToken, match="rejected") as raised:
            await bot.initialize()
    finally:
        await bot.shutdown()
    assert OTHER_TOKEN in str(raised.value)
    logging.getLogger("bot.test").error("cannot start", exc_info=raised.value)

    assert f"The token `{REDACTED}` was rejected" in captured.output
    captured.assert_clean()


def test_urls_in_chained_exceptions_and_stacks_are_redacted(captured: Captured) -> None:
    url = f"https://api.telegram.org/bot{TOKEN}/getUpdates?offset=1"
    try:
        try:
            raise httpx.ConnectError(f"cannot reach {url} ({quote(url, safe='')})")
        except httpx.ConnectError as inner:
            raise NetworkError(f"request to {url} failed") from inner
    except NetworkError:
        logging.getLogger("bot.test").exception("polling %s", url, stack_info=True)

    assert "The above exception was the direct cause" in captured.output
    assert "Stack (most recent call last)" in captured.output
    captured.assert_clean()


def test_token_shaped_text_is_redacted_even_when_not_configured() -> None:
    redactor = RedactingFilter([])
    line = f"GET /bot{TOKEN}/getMe and /bot{quote(TOKEN, safe='')}/getMe"

    assert redactor.redact(line) == f"GET /bot{REDACTED}/getMe and /bot{REDACTED}/getMe"
    # Ordinary numbers and times are left alone.
    assert redactor.redact("update 123456 at 12:30:00") == "update 123456 at 12:30:00"


def test_a_malformed_logging_call_is_still_redacted(captured: Captured) -> None:
    logging.getLogger("bot.test").warning("two %s %s", TOKEN)  # one argument short

    assert "two" in captured.output
    captured.assert_clean()


def test_configure_logging_writes_redacted_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "apscheduler")}
    try:
        configure_logging("INFO", "json", [TOKEN, SECRET])
        logging.getLogger("bot.test").info(
            "calling %s", f"https://api.telegram.org/bot{TOKEN}/getMe", extra={"chat_id": 5}
        )
        logging.getLogger("httpx").info("below WARNING: not shown at all")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        for name, saved in quiet.items():
            logging.getLogger(name).setLevel(saved)

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["message"] for line in lines] == [
        f"calling https://api.telegram.org/bot{REDACTED}/getMe"
    ]
    assert lines[0]["chat_id"] == 5
    assert lines[0]["level"] == "INFO"
