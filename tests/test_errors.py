"""A failing handler: an apology to the user, context in the log, a report to developers."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Engine

from bot.errors import REPORTS_KEY, ErrorReports
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness

DEVELOPER_CHAT = -100777


async def test_handler_error_is_reported_not_swallowed(
    fake_api: FakeBotAPI,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def boom(**_kwargs: object) -> None:
        raise RuntimeError(f"the <timeline> & its index are broken ({fake_api.token})")

    monkeypatch.setattr("bot.answers.timeline_page", boom)
    async with BotHarness(fake_api, engine, developer_chat_id=DEVELOPER_CHAT) as bot:
        with caplog.at_level(logging.ERROR, logger="bot.errors"):
            [apology] = await bot.send("/timeline", chat_id=555)
        assert "something went wrong" in apology.plain.lower()
        record = next(r for r in caplog.records if "error while handling update" in r.message)
        assert "'chat_id': 555" in record.getMessage()
        assert "'command': '/timeline'" in record.getMessage()
        assert record.exc_info is not None
        [report] = fake_api.messages_to(DEVELOPER_CHAT)
        # The traceback is escaped, so the strict fake accepted "<timeline> &" inside <pre>.
        assert "the <timeline> & its index are broken ([REDACTED])" in report.plain
        assert fake_api.token not in report.plain
        # The bot keeps working afterwards.
        monkeypatch.undo()
        [page] = await bot.send("/timeline", chat_id=555)
        assert "Timeline" in page.plain
    assert [c.description for c in fake_api.calls if not c.ok] == []


async def test_the_same_error_again_and_again_is_reported_once_then_counted(
    fake_api: FakeBotAPI, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(**_kwargs: object) -> None:
        raise RuntimeError("the same failure")

    now = [1000.0]
    monkeypatch.setattr("bot.answers.timeline_page", boom)
    async with BotHarness(fake_api, engine, developer_chat_id=DEVELOPER_CHAT) as bot:
        bot.app.bot_data[REPORTS_KEY] = ErrorReports(window=600, clock=lambda: now[0])
        for chat in range(10):
            await bot.send("/timeline", chat_id=600 + chat)
        assert len(fake_api.messages_to(DEVELOPER_CHAT)) == 1
        now[0] += 601
        await bot.send("/timeline", chat_id=700)
        reports = fake_api.messages_to(DEVELOPER_CHAT)
        assert len(reports) == 2
        assert "and 9 more like it" in reports[1].plain
