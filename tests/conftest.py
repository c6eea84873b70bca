"""Fixtures: a fresh database per test (SQLite, and PostgreSQL where asked), the strict fake
Bot API, and a harness that drives the real Application through it."""

from __future__ import annotations

import inspect
import os
import uuid

# PTB 22 warns that RetryAfter.retry_after will become a timedelta; opt in now so 429 handling
# is exercised with the future type instead of tripping filterwarnings=error.
os.environ.setdefault("PTB_TIMEDELTA", "true")
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from knowledge.db import make_engine, normalise_url, reachable
from knowledge.importer import prepare_database
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
OWNER_ID = 1001
MODERATOR_ID = 1002
USER_ID = 2001


_PG_OK: bool | None = None


def postgres_available() -> bool:
    global _PG_OK
    if _PG_OK is None:
        _PG_OK = reachable(POSTGRES_URL)
    return _PG_OK


def _require_postgres() -> None:
    if postgres_available():
        return
    if IN_CI:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}; CI must run these tests")
    pytest.skip("PostgreSQL is not reachable (these tests run in CI)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Tests that ask for `backend` themselves (argument or usefixtures) run once per backend;
    # the rest get SQLite through the plain fixture below.
    direct = "backend" in inspect.signature(metafunc.function).parameters or any(
        "backend" in marker.args for marker in metafunc.definition.iter_markers("usefixtures")
    )
    # A test may also name its own backends: @pytest.mark.parametrize("backend", ["postgres"]).
    own = any(
        "backend" in str(marker.args[0])
        for marker in metafunc.definition.iter_markers("parametrize")
    )
    if direct and not own:
        metafunc.parametrize("backend", ["sqlite", "postgres"])


@pytest.fixture
def backend() -> str:  # overridden by parametrisation; plain tests get SQLite
    return "sqlite"


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of its own: a SQLite file, or a fresh PostgreSQL schema."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'briefing.db'}"
        return
    _require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def empty_engine(db_url: str) -> Iterator[Engine]:
    """A migrated database with no entries."""
    engine = make_engine(db_url)
    prepare_database(engine, bundled=None)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database holding the bundled briefing."""
    engine = make_engine(db_url)
    prepare_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
async def harness(fake_api: FakeBotAPI, engine: Engine) -> AsyncIterator[BotHarness]:
    """The real Application, talking HTTP to the fake Bot API, on the bundled briefing."""
    async with BotHarness(fake_api, engine, admin_ids={OWNER_ID}) as bot:
        yield bot
