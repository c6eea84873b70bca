"""Webhook mode end to end: the fake Bot API posts updates to the bot's webhook server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session
from telegram import Update

from bot.app import build_application
from bot.config import load_settings
from bot.transport.operations import health_port
from bot.transport.webhook import WebhookServer, listening_socket, serve_webhook, start_webhook
from knowledge.models import ProcessedUpdate
from knowledge.storage.database import make_engine
from tests.conftest import USER_ID
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness, counted

pytestmark = pytest.mark.usefixtures("backend")

SECRET = "s3cret_Webhook-token"
PATH = "/telegram/hook"


async def deliver(url: str, update: dict[str, Any], secret: str | None = SECRET) -> int:
    """POST an update exactly as Telegram does, without renumbering it: a retry, or the same
    update reaching another replica, carries the same update_id."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with httpx.AsyncClient() as client:
        response = await client.post(url, content=json.dumps(update), headers=headers)
    return response.status_code


def processed_ids(engine: Engine) -> set[int]:
    with Session(engine) as session:
        return set(session.scalars(select(ProcessedUpdate.update_id)))


@asynccontextmanager
async def webhook_replica(
    fake: FakeBotAPI, engine: Engine, **settings: Any
) -> AsyncIterator[tuple[BotHarness, WebhookServer]]:
    """One bot process in webhook mode on a free port, started and registered with the fake."""
    sock = listening_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}{PATH}"
    async with BotHarness(
        fake, engine, webhook_url=url, webhook_secret=SECRET, **settings
    ) as harness:
        server = await start_webhook(harness.app, harness.settings, sock=sock)
        try:
            yield harness, server
        finally:
            await server.stop()


async def test_right_secret_is_answered_wrong_or_missing_secret_is_refused(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    async with webhook_replica(fake_api, engine) as (harness, server):
        assert fake_api.webhook is not None
        assert fake_api.webhook["url"] == server.url
        assert fake_api.webhook["secret_token"] == SECRET
        assert fake_api.webhook["allowed_updates"] == list(Update.ALL_TYPES)

        first = fake_api.make_message_update("/sources", chat_id=USER_ID, user_id=USER_ID)
        assert await fake_api.post_update_to_webhook(first) == 200
        [reply] = await fake_api.wait_for_messages(USER_ID)
        assert reply.plain

        wrong = fake_api.make_message_update("/help", chat_id=USER_ID, user_id=USER_ID)
        assert await fake_api.post_update_to_webhook(wrong, secret="not-the-secret") == 403
        missing = fake_api.make_message_update("/help", chat_id=USER_ID, user_id=USER_ID)
        assert await fake_api.post_update_to_webhook(missing, secret=None) == 403
        # A JSON body is required as well; anything else is refused the same way.
        async with httpx.AsyncClient() as client:
            response = await client.post(
                server.url,
                content="update",
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            )
        assert response.status_code == 403

        last = fake_api.make_message_update("/sources", chat_id=USER_ID, user_id=USER_ID)
        assert await fake_api.post_update_to_webhook(last) == 200
        await asyncio.wait_for(harness.app.update_queue.join(), 5)
        await fake_api.wait_for_messages(USER_ID)

    # Only the two accepted updates ran: no /help answer, and only their ids were recorded.
    texts = [m.plain for m in fake_api.messages_to(USER_ID)]
    assert len(texts) == 2
    assert texts[0] == texts[1]
    assert processed_ids(engine) == {first["update_id"], last["update_id"]}


async def test_a_retried_update_is_processed_once(fake_api: FakeBotAPI, engine: Engine) -> None:
    async with webhook_replica(fake_api, engine) as (harness, server):
        update = fake_api.make_message_update("/sources", chat_id=USER_ID, user_id=USER_ID)
        assert await deliver(server.url, update) == 200
        assert await deliver(server.url, update) == 200  # Telegram retrying after a timeout
        await asyncio.wait_for(harness.app.update_queue.join(), 5)

        assert len(fake_api.messages_to(USER_ID)) == 1
        assert counted(harness.app, "briefing_duplicate_updates") == 1
        assert counted(harness.app, "briefing_updates", type="message") == 1


async def test_two_replicas_on_one_database_answer_an_update_once(
    fake_api: FakeBotAPI, engine: Engine, db_url: str
) -> None:
    # Each replica is its own process in production: its own engine, same database.
    other_engine = make_engine(db_url)
    try:
        async with (
            webhook_replica(fake_api, engine) as (first, first_server),
            webhook_replica(fake_api, other_engine) as (second, second_server),
        ):
            update = fake_api.make_message_update("/who", chat_id=USER_ID, user_id=USER_ID)
            statuses = await asyncio.gather(
                deliver(first_server.url, update), deliver(second_server.url, update)
            )
            assert statuses == [200, 200]
            await asyncio.wait_for(
                asyncio.gather(first.app.update_queue.join(), second.app.update_queue.join()), 5
            )
            handled = [counted(r.app, "briefing_updates", type="message") for r in (first, second)]
            skipped = [counted(r.app, "briefing_duplicate_updates") for r in (first, second)]
    finally:
        other_engine.dispose()

    assert len(fake_api.calls_of("sendMessage")) == 1
    assert len(fake_api.messages_to(USER_ID)) == 1
    assert sorted(handled) == [0, 1]
    assert sorted(skipped) == [0, 1]
    assert processed_ids(engine) == {update["update_id"]}


async def test_serve_webhook_runs_the_whole_lifecycle(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    sock = listening_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}{PATH}"
    settings = load_settings(
        telegram_bot_token=fake_api.token,
        telegram_api_base_url=f"{fake_api.url}/bot",
        database_url="sqlite://",  # unused: the engine is passed in
        webhook_url=url,
        webhook_secret=SECRET,
        health_port=0,
        health_listen="127.0.0.1",
        _env_file=None,
    )
    application = build_application(settings, engine)
    stop = asyncio.Event()
    task = asyncio.create_task(serve_webhook(application, settings, stop, sock=sock))
    try:
        # post_init (which starts the health server) runs before setWebhook; updates that
        # arrive before application.start() wait in the queue.
        await fake_api.wait_for(lambda fake: fake.webhook is not None)
        port = health_port(application)
        assert port is not None

        update = fake_api.make_message_update("/help", chat_id=USER_ID, user_id=USER_ID)
        assert await fake_api.post_update_to_webhook(update) == 200
        [reply] = await fake_api.wait_for_messages(USER_ID)
        assert "/timeline" in reply.plain
        async with httpx.AsyncClient() as client:
            health = await client.get(f"http://127.0.0.1:{port}/healthz")
        assert health.status_code == 200
        assert health.json()["mode"] == "webhook"
        assert health.json()["dedupe"] is True
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)

    assert not application.running
    assert application.updater is not None and not application.updater.running
    assert health_port(application) is None
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.post(url, json={"update_id": 1})


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '{"update_id": "x"}', "\xff\xfe"])
async def test_a_malformed_body_is_a_bad_request_counted_in_metrics(
    fake_api: FakeBotAPI, engine: Engine, body: str
) -> None:
    async with webhook_replica(fake_api, engine) as (harness, server):
        async with httpx.AsyncClient() as client:
            response = await client.post(
                server.url,
                content=body.encode("utf-8", "surrogateescape"),
                headers={"Content-Type": "application/json",
                         "X-Telegram-Bot-Api-Secret-Token": SECRET},
            )  # fmt: skip
        assert response.status_code == 400
        assert counted(harness.app, "briefing_webhook_rejected", reason="malformed") == 1
        good = fake_api.make_message_update("/help", chat_id=USER_ID, user_id=USER_ID)
        assert await fake_api.post_update_to_webhook(good) == 200
        await fake_api.wait_for_messages(USER_ID)
