"""The smallest end-to-end proof: the real application answers through the strict fake API."""

from __future__ import annotations

from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness


async def test_timeline_answers_and_pages_in_place(
    harness: BotHarness, fake_api: FakeBotAPI
) -> None:
    [page] = await harness.send("/timeline")
    assert "Timeline" in page.plain
    assert "1–10 of" in page.plain
    edited = await harness.press(page, page.button("▶")["callback_data"])
    assert edited == []  # no new message: the page was edited in place
    assert "11–" in fake_api.get_message(page.chat_id, page.message_id).plain
    assert [c for c in fake_api.calls if not c.ok] == []


async def test_command_menu_registered_on_start(harness: BotHarness, fake_api: FakeBotAPI) -> None:
    commands = [c["command"] for c in fake_api.commands_for()]
    assert {"timeline", "who", "sources", "search", "subscribe"} <= set(commands)
