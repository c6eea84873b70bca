"""Long polling end to end: updates reach the bot only through getUpdates on the strict fake.

First the Application's own updater polls the fake in-process; then `python -m bot` runs as a
real process with a token and TELEGRAM_API_BASE_URL pointing at the fake, as an operator
would start it. Nothing sleeps: each step waits for the fake to see the call it expects.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import USER_ID
from tests.fakebotapi import FakeBotAPI, SentMessage
from tests.harness import BotHarness


@pytest.fixture
async def polling(fake_api: FakeBotAPI, engine: Engine) -> AsyncIterator[BotHarness]:
    """The real Application, started as `run_polling` would, with its updater polling."""
    async with BotHarness(fake_api, engine) as bot:
        assert bot.app.updater is not None
        await bot.app.updater.start_polling(timeout=5, poll_interval=0)
        try:
            yield bot
        finally:
            await bot.app.updater.stop()


async def _reply(fake: FakeBotAPI, chat_id: int, seen: int) -> SentMessage:
    """The first message to `chat_id` after the first `seen` ones."""
    messages: list[SentMessage] = await fake.wait_for(
        lambda f: f.messages_to(chat_id)[seen:] or None, timeout=15
    )
    return messages[0]


async def test_updates_arrive_by_long_polling_and_get_answers(
    polling: BotHarness, fake_api: FakeBotAPI
) -> None:
    await fake_api.wait_for(lambda f: f.pending_long_polls > 0)  # the poller is waiting
    fake_api.push_update(fake_api.make_message_update("/timeline", USER_ID, USER_ID))
    page = await _reply(fake_api, USER_ID, 0)
    assert "Timeline · 1–10 of 20" in page.plain

    fake_api.push_update(
        fake_api.make_callback_update(page.button("▶")["callback_data"], page, USER_ID)
    )
    await fake_api.wait_for(lambda f: len(f.edits) == 1)
    assert "11–20 of 20" in page.plain

    fake_api.push_update(fake_api.make_message_update("/who Єрмак", USER_ID, USER_ID))
    card = await _reply(fake_api, USER_ID, 1)
    assert card.plain.startswith("Andriy Yermak · person")

    inline = fake_api.make_inline_query_update("vilnius", USER_ID)
    fake_api.push_update(inline)
    await fake_api.wait_for(lambda f: f.inline_answers)
    assert fake_api.inline_answers[0].results
    # Every update was confirmed by a later getUpdates offset, none was refused.
    await fake_api.wait_for(lambda f: not f.pending_updates)
    assert [c.description for c in fake_api.calls if c.status not in (200, None)] == []


async def test_the_command_menu_is_registered_on_start(
    polling: BotHarness, fake_api: FakeBotAPI
) -> None:
    # The default menu (no language_code) and one per other interface language.
    calls = [c for c in fake_api.calls_of("setMyCommands") if "scope" not in c.params]
    assert [c.params.get("language_code") for c in calls] == [None, "uk"]
    assert all(call.ok for call in calls)
    menu = {c["command"]: c["description"] for c in fake_api.commands_for() or []}
    assert {"timeline", "event", "who", "sources", "search", "help"} <= set(menu)
    assert all(menu.values())


async def test_python_m_bot_with_a_token_answers_through_the_api_base_url(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TELEGRAM_BOT_TOKEN": fake_api.token,
        "TELEGRAM_API_BASE_URL": f"{fake_api.url}/bot",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "LOG_LEVEL": "WARNING",
        # The loop paid broadcasts run on (bot/transport/runtime.py); the kill -9 test in
        # test_delivery_shared.py runs `python -m bot run` on asyncio's, the default at 30/s.
        "EVENT_LOOP": "uvloop",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        # The schema is created and the bundled briefing loaded before the first poll.
        await fake_api.wait_for(lambda f: f.pending_long_polls > 0, timeout=60)
        assert fake_api.commands_for()
        fake_api.push_update(fake_api.make_message_update("/start", USER_ID, USER_ID))
        welcome = await _reply(fake_api, USER_ID, 0)
        assert "/timeline" in welcome.plain
        fake_api.push_update(fake_api.make_message_update("/search vilnius", USER_ID, USER_ID))
        results = await _reply(fake_api, USER_ID, 1)
        assert "Search “vilnius”" in results.plain
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert fake_api.token not in stderr.decode()
    assert [c.description for c in fake_api.calls if c.status not in (200, None)] == []
