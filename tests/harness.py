"""Drive the real Application as Telegram would: updates in, Bot API calls out over HTTP."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings, load_settings
from bot.delivery.scheduler import AUTOSTART
from bot.transport.operations import ops_of
from tests.fakebotapi import (
    FakeBotAPI,
    SentMessage,
    make_callback_update,
    make_inline_query_update,
    make_message_update,
)


class BotHarness:
    """Builds the application against the fake, starts it (job queue included, no polling)."""

    def __init__(
        self,
        fake: FakeBotAPI,
        engine: Engine,
        *,
        admin_ids: set[int] | None = None,
        autostart: bool = True,
        **settings: Any,
    ) -> None:
        self.fake = fake
        self.engine = engine
        self.settings: Settings = load_settings(
            telegram_bot_token=fake.token,
            telegram_api_base_url=f"{fake.url}/bot",
            database_url="sqlite://",  # unused: the engine is passed in
            admin_ids=",".join(str(i) for i in sorted(admin_ids or set())),
            _env_file=None,
            **settings,
        )
        self.app: Application[Any, Any, Any, Any, Any, Any] = build_application(
            self.settings, engine
        )
        # False keeps the digest scan and delivery jobs off: the test drives them itself.
        self.app.bot_data[AUTOSTART] = autostart

    async def __aenter__(self) -> BotHarness:
        await self.app.initialize()
        if self.app.post_init:
            await self.app.post_init(self.app)
        await self.app.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.stop()
        if self.app.post_shutdown:
            await self.app.post_shutdown(self.app)
        await self.app.shutdown()

    async def process(self, payload: dict[str, Any]) -> None:
        await self.app.process_update(Update.de_json(payload, self.app.bot))

    async def send(
        self, text: str, *, chat_id: int = 2001, user_id: int | None = None, **kwargs: Any
    ) -> list[SentMessage]:
        """A user's message; returns what the bot sent to that chat in answer."""
        before = len(self.fake.messages_to(chat_id))
        payload = make_message_update(
            text, chat_id=chat_id, user_id=user_id if user_id is not None else chat_id, **kwargs
        )
        await self.process(payload)
        return self.fake.messages_to(chat_id)[before:]

    async def press(
        self,
        message: SentMessage,
        data: str,
        *,
        user_id: int | None = None,
        language_code: str | None = "en",
    ) -> list[SentMessage]:
        """Press a button (by its callback data) under a message the bot sent."""
        buttons = [
            b.get("callback_data")
            for row in (message.reply_markup or {}).get("inline_keyboard", [])
            for b in row
        ]
        assert data in buttons, f"no button {data!r} under the message; have {buttons}"
        before = len(self.fake.messages_to(message.chat_id))
        await self.process(
            make_callback_update(
                data, message, user_id=user_id or message.chat_id, language_code=language_code
            )
        )
        return self.fake.messages_to(message.chat_id)[before:]

    async def inline(self, query: str, *, user_id: int = 2001) -> list[dict[str, Any]]:
        before = len(self.fake.inline_answers)
        await self.process(make_inline_query_update(query, user_id=user_id))
        assert len(self.fake.inline_answers) == before + 1, "the bot did not answer the query"
        answer = self.fake.inline_answers[-1]
        return answer["results"] if isinstance(answer, dict) and "results" in answer else answer


def counted(app: Application[Any, Any, Any, Any, Any, Any], name: str, **labels: str) -> float:
    """A counter's value in the application's own metrics registry (0 when never counted)."""
    value = ops_of(app).metrics.registry.get_sample_value(f"{name}_total", labels)
    return value or 0.0
