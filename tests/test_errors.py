"""A failing handler: an apology to the user, context in the log, a report to developers."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Engine

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
        with caplog.at_level(logging.ERROR, logger="bot.app"):
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
