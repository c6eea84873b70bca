"""Operations: /healthz, /metrics after real traffic, and the update_id dedupe table."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from bot.config import load_settings
from bot.context import deps_of
from bot.transport.dedupe import KEEP_PROCESSED, PRUNE_EVERY, claim_update, prune_processed_updates
from bot.transport.operations import PRUNE_JOB, health_port, record_delivery
from knowledge.models import Delivery, ProcessedUpdate, Subscription
from knowledge.storage.database import make_engine
from tests.conftest import OWNER_ID, USER_ID
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness, counted

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
async def bot(fake_api: FakeBotAPI, engine: Engine) -> AsyncIterator[BotHarness]:
    """The harness with the health server on a port of the OS's choosing."""
    async with BotHarness(
        fake_api, engine, admin_ids={OWNER_ID}, health_port=0, health_listen="127.0.0.1"
    ) as harness:
        yield harness


@pytest.fixture
def unreachable_engine() -> Iterator[Engine]:
    """An engine whose server is down: a port bound but never listening refuses at once."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{closed.getsockname()[1]}/test")
    yield engine
    engine.dispose()
    closed.close()


async def get(harness: BotHarness, path: str) -> httpx.Response:
    port = health_port(harness.app)
    assert port is not None, "the health server is not running"
    async with httpx.AsyncClient() as client:
        return await client.get(f"http://127.0.0.1:{port}{path}")


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, keyed by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> Any:
    return found.get((name, frozenset(labels.items())))


# ----------------------------------------------------------------------------- /healthz


async def test_healthz_is_ok_when_database_and_scheduler_are(bot: BotHarness) -> None:
    response = await get(bot, "/healthz")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    report = response.json()
    assert report["database"] == "ok"
    assert report["scheduler"] == "running"
    assert report["application"] == "running"
    assert report["mode"] == "polling"
    assert report["dedupe"] is False


async def test_healthz_turns_503_while_the_database_is_down(
    bot: BotHarness, unreachable_engine: Engine
) -> None:
    deps = deps_of(bot.app)
    working, deps.engine = deps.engine, unreachable_engine
    try:
        down = await get(bot, "/healthz")
        metrics = await get(bot, "/metrics")
    finally:
        deps.engine = working
    back = await get(bot, "/healthz")

    assert down.status_code == 503
    assert down.json()["database"].startswith("unreachable")
    assert down.json()["scheduler"] == "running"
    # /metrics still answers, and says the database could not be read.
    assert metrics.status_code == 200
    assert value(samples(metrics.text), "briefing_database_up") == 0
    assert back.status_code == 200


async def test_healthz_turns_503_when_the_scheduler_stops(bot: BotHarness) -> None:
    assert bot.app.job_queue is not None
    await bot.app.job_queue.stop(wait=False)

    response = await get(bot, "/healthz")

    assert response.status_code == 503
    assert response.json()["scheduler"] == "stopped"
    assert response.json()["database"] == "ok"


async def test_no_health_server_unless_configured(harness: BotHarness) -> None:
    assert health_port(harness.app) is None


def test_an_empty_health_port_means_off(monkeypatch: pytest.MonkeyPatch) -> None:
    # `.env.example` ships `HEALTH_PORT=`; copying it must not break start-up.
    monkeypatch.setenv("HEALTH_PORT", "")
    assert load_settings(_env_file=None).health_port is None
    monkeypatch.setenv("HEALTH_PORT", "9090")
    assert load_settings(_env_file=None).health_port == 9090


async def test_unknown_paths_are_404(bot: BotHarness) -> None:
    assert (await get(bot, "/")).status_code == 404
    assert (await get(bot, "/metrics/extra")).status_code == 404


# ----------------------------------------------------------------------------- /metrics


async def test_metrics_after_traffic(
    bot: BotHarness, fake_api: FakeBotAPI, engine: Engine
) -> None:
    timeline = await bot.send("/timeline", chat_id=USER_ID)
    assert await bot.send("/timeline 2023", chat_id=USER_ID)
    assert await bot.send("/who Yermak", chat_id=USER_ID)
    data = timeline[-1].buttons[0]["callback_data"]
    await bot.press(timeline[-1], data)
    # A forced error: Telegram failing the reply reaches the error handler.
    fake_api.fail_next("sendMessage", 500)
    sorry = await bot.send("/sources", chat_id=USER_ID)
    assert sorry and "went wrong" in sorry[0].plain
    record_delivery(bot.app, "sent", 3)
    record_delivery(bot.app, "retried")
    _queue_deliveries(engine, pending=2, claimed=1, sent=4)

    response = await get(bot, "/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert value(found, "briefing_updates_total", type="message") == 4
    assert value(found, "briefing_updates_total", type="callback_query") == 1
    assert value(found, "briefing_duplicate_updates_total") == 0
    # The latency histogram: one series per command, with buckets.
    assert value(found, "briefing_command_duration_seconds_count", command="timeline") == 2
    assert value(found, "briefing_command_duration_seconds_count", command="who") == 1
    assert value(found, "briefing_command_duration_seconds_count", command="sources") == 1
    timeline_buckets = [
        labels
        for (name, labels) in found
        if name == "briefing_command_duration_seconds_bucket" and ("command", "timeline") in labels
    ]
    assert len(timeline_buckets) > 5
    assert (
        value(found, "briefing_command_duration_seconds_bucket", command="timeline", le="+Inf")
        == 2
    )
    assert value(found, "briefing_command_duration_seconds_sum", command="timeline") > 0
    assert value(found, "briefing_errors_total", type="NetworkError") == 1
    assert value(found, "briefing_digest_deliveries_total", outcome="sent") == 3
    assert value(found, "briefing_digest_deliveries_total", outcome="retried") == 1
    assert value(found, "briefing_digest_deliveries_total", outcome="failed") == 0
    assert value(found, "briefing_outbox_depth", state="pending") == 2
    assert value(found, "briefing_outbox_depth", state="claimed") == 1
    assert value(found, "briefing_database_up") == 1


async def test_each_application_has_its_own_registry(
    bot: BotHarness, fake_api: FakeBotAPI, engine: Engine
) -> None:
    async with BotHarness(fake_api, engine) as other:
        await other.send("/help", chat_id=USER_ID)
        assert counted(other.app, "briefing_updates", type="message") == 1
    assert counted(bot.app, "briefing_updates", type="message") == 0


def test_record_delivery_refuses_an_unknown_outcome(harness: BotHarness) -> None:
    with pytest.raises(ValueError, match="unknown delivery outcome"):
        record_delivery(harness.app, "delivered")


def _queue_deliveries(engine: Engine, **states: int) -> None:
    """Outbox rows in the given states (only the columns the depth gauge reads)."""
    with Session(engine) as session:
        subscription = Subscription(chat_id=USER_ID, chat_type="private")
        session.add(subscription)
        session.flush()
        number = 0
        for state, count in states.items():
            for _ in range(count):
                number += 1
                session.add(
                    Delivery(
                        subscription_id=subscription.id,  # type: ignore[arg-type]
                        chat_id=USER_ID,
                        digest_key=f"{subscription.id}:{number}",
                        state=state,
                        texts=["queued"],
                        # Out of the delivery worker's reach while the gauge is read: the
                        # harness runs the real worker, which would otherwise send them.
                        not_before=datetime.now(UTC) + timedelta(days=1),
                    )
                )
        session.commit()


# ----------------------------------------------------------------------------- dedupe


def test_claim_update_once_and_prune(engine: Engine) -> None:
    now = datetime.now(UTC)

    assert claim_update(engine=engine, update_id=10, now=now - timedelta(days=3))
    assert not claim_update(engine=engine, update_id=10)
    assert claim_update(engine=engine, update_id=2**40, now=now)  # ids exceed 32 bits

    assert prune_processed_updates(engine=engine, before=now - KEEP_PROCESSED) == 1
    assert claim_update(engine=engine, update_id=10)
    assert not claim_update(engine=engine, update_id=2**40)


def test_two_processes_claiming_the_same_ids_at_once_win_each_exactly_once(
    engine: Engine, db_url: str
) -> None:
    other = make_engine(db_url)  # a second replica: its own engine and connections
    ids = range(1000, 1100)

    def claim_all(replica: Engine) -> list[bool]:
        return [claim_update(engine=replica, update_id=i) for i in ids]

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            first, second = pool.map(claim_all, (engine, other))
    finally:
        other.dispose()

    assert all(a != b for a, b in zip(first, second, strict=True))


async def test_pruning_is_scheduled(harness: BotHarness) -> None:
    assert harness.app.job_queue is not None
    [job] = harness.app.job_queue.get_jobs_by_name(PRUNE_JOB)
    assert job.job.trigger.interval == PRUNE_EVERY


async def test_polling_and_the_console_keep_no_update_ids(
    harness: BotHarness, fake_api: FakeBotAPI, engine: Engine
) -> None:
    # The console numbers its updates from 1 on every run; they must never be "duplicates".
    update = fake_api.make_message_update("/help", chat_id=USER_ID, user_id=USER_ID)
    await harness.process(update)
    await harness.process(update)

    assert len(fake_api.messages_to(USER_ID)) == 2
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 0
