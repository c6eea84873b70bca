"""Fixtures: a fresh database per test (SQLite, and PostgreSQL where asked), the strict fake
Bot API, and a harness that drives the real Application through it."""

from __future__ import annotations

import inspect
import logging
import os
import shutil
import sqlite3
import uuid

# PTB 22 warns that RetryAfter.retry_after will become a timedelta; opt in now so 429 handling
# is exercised with the future type instead of tripping filterwarnings=error.
os.environ.setdefault("PTB_TIMEDELTA", "true")
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from knowledge.storage.database import make_engine, normalise_url, reachable
from knowledge.write.importer import prepare_database
from tests.fakebotapi import FakeBotAPI, utf16_len
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


# Migrating a database and loading the briefing takes most of a second; tests need hundreds of
# them. So each test process prepares its databases once and every test gets a copy:
# - SQLite: a template file per content (empty, bundled), copied per test;
# - PostgreSQL: one migrated database per test process and content, whose rows are saved once
#   and put back before each test (the tables a test wrote to: DELETE + INSERT ... SELECT,
#   sequences reset): far cheaper than CREATE DATABASE ... TEMPLATE, which copies and
#   checkpoints a whole database.
# A test that wants an empty, unmigrated database (`db_url` alone) gets a new one of its own.
_RUN = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
_SAVED = "saved_rows"  # the schema holding each table's rows as prepared
_TABLES = (
    "SELECT tablename FROM pg_tables "
    "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
)
_COLUMNS = (  # generated columns (the search index's tsvector) are computed again on insert
    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
    "AND table_name = :t AND is_generated = 'NEVER' ORDER BY ordinal_position"
)
_SEQUENCES = "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"


def _admin(*statements: str) -> None:
    """Run statements that can't run in a transaction (CREATE / DROP DATABASE)."""
    admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        admin.dispose()


def _pg_url(database: str) -> str:
    url = make_url(normalise_url(POSTGRES_URL)).set(database=database)
    return url.render_as_string(hide_password=False)


def _prepare(url: str, *, bundled: bool) -> None:
    engine = make_engine(url)
    try:
        prepare_database(engine, **({} if bundled else {"bundled": None}))
    finally:
        engine.dispose()


def _drop_stale_copies() -> None:
    """Databases left by test processes that were killed (their pid ends the name)."""
    admin = create_engine(normalise_url(POSTGRES_URL))
    try:
        with admin.connect() as connection:
            names = connection.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'bb\\_%'")
            ).scalars()
            stale = [n for n in names if not Path(f"/proc/{n.rsplit('_', 1)[-1]}").exists()]
    finally:
        admin.dispose()
    if stale:
        _admin(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in stale))


class PostgresCopy:
    """A migrated PostgreSQL database whose prepared rows are restored before each test.

    Only the tables a test wrote to are put back: a statement trigger on each table notes its
    name in `saved_rows.written` (no unique key, so concurrent writers never wait on it), and
    the restore, run with triggers off, deletes and re-inserts just those. DELETE rather than
    TRUNCATE: the tables hold a few hundred rows, and TRUNCATE makes new files for every table
    and index (70 ms a test)."""

    def __init__(self, name: str, *, bundled: bool) -> None:
        self.name = name
        self.url = _pg_url(name)
        _admin(
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}"',
            # A test's commits needn't wait for the disk: nothing here must survive a crash.
            f'ALTER DATABASE "{name}" SET synchronous_commit = off',
        )
        _prepare(self.url, bundled=bundled)
        engine = create_engine(normalise_url(self.url))
        try:
            with engine.begin() as connection:
                tables = connection.execute(text(_TABLES)).scalars().all()
                self.columns = {
                    table: ", ".join(
                        f'"{c}"'
                        for c in connection.execute(text(_COLUMNS), {"t": table}).scalars()
                    )
                    for table in tables
                }
                sequences = connection.execute(text(_SEQUENCES)).all()
                connection.execute(text(f"CREATE SCHEMA {_SAVED}"))
                for table in tables:
                    connection.execute(
                        text(
                            f'CREATE TABLE {_SAVED}."{table}" AS '
                            f'SELECT {self.columns[table]} FROM public."{table}"'
                        )
                    )
                connection.execute(text(f"CREATE TABLE {_SAVED}.written (name text)"))
                connection.execute(
                    text(
                        f"CREATE FUNCTION {_SAVED}.note_written() RETURNS trigger "
                        "LANGUAGE plpgsql AS $$ BEGIN "
                        f"INSERT INTO {_SAVED}.written VALUES (TG_TABLE_NAME); RETURN NULL; "
                        "END $$"
                    )
                )
                for table in tables:
                    connection.execute(
                        text(
                            f"CREATE TRIGGER note_written AFTER INSERT OR UPDATE OR DELETE OR "
                            f'TRUNCATE ON public."{table}" FOR EACH STATEMENT '
                            f"EXECUTE FUNCTION {_SAVED}.note_written()"
                        )
                    )
        finally:
            engine.dispose()
        self.sequences = "; ".join(
            f"SELECT setval('public.{name}', {value or 1}, {value is not None})"
            for name, value in sequences
        )

    def restore(self) -> None:
        engine = create_engine(normalise_url(self.url), poolclass=NullPool)
        try:
            with engine.begin() as connection:
                # Nothing of an earlier test stays connected: not a pooled connection, nor the
                # digest scheduler's advisory lock, which would keep the next test from leading.
                connection.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                written = connection.exec_driver_sql(
                    f"SELECT DISTINCT name FROM {_SAVED}.written"
                ).scalars().all()  # fmt: skip
                script = [
                    "SET LOCAL session_replication_role = replica",  # no FK checks, no triggers
                    f"DELETE FROM {_SAVED}.written",
                    *(f'DELETE FROM public."{t}"' for t in written),
                    *(
                        f'INSERT INTO public."{t}" ({self.columns[t]}) '
                        f'SELECT * FROM {_SAVED}."{t}"'
                        for t in written
                    ),
                    self.sequences,
                ]
                connection.exec_driver_sql("; ".join(s for s in script if s).replace("%", "%%"))
        finally:
            engine.dispose()


class Templates:
    """Built on first use, once per test process; PostgreSQL ones dropped when it ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sqlite: dict[str, Path] = {}
        self.postgres: dict[str, PostgresCopy] = {}

    def sqlite_file(self, content: str) -> Path:
        if content not in self.sqlite:
            path = self.folder / f"template-{content}.db"
            _prepare(f"sqlite:///{path}", bundled=content == "bundled")
            # Everything into the main file (WAL checkpointed), so one file copy is the database.
            with closing(sqlite3.connect(path)) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.sqlite[content] = path
        return self.sqlite[content]

    def postgres_url(self, content: str) -> str:
        if not self.postgres:
            _drop_stale_copies()
        if content not in self.postgres:
            self.postgres[content] = PostgresCopy(
                f"bb_{content}_{_RUN}", bundled=content == "bundled"
            )
        copy = self.postgres[content]
        copy.restore()
        return copy.url

    def close(self) -> None:
        drops = [
            f'DROP DATABASE IF EXISTS "{c.name}" WITH (FORCE)' for c in self.postgres.values()
        ]
        if drops:
            _admin(*drops)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    made = Templates(tmp_path_factory.mktemp("templates"))
    yield made
    made.close()


@dataclass
class Database:
    """Where one test's database lives; `fill` makes it a migrated copy before first use."""

    backend: str
    templates: Templates
    path: Path  # the SQLite file
    url: str = ""

    def fresh(self) -> str:
        """An empty database of the test's own, not migrated."""
        if not self.url:
            if self.backend == "sqlite":
                self.url = f"sqlite:///{self.path}"
            else:
                _require_postgres()
                name = f"t_{uuid.uuid4().hex[:12]}"
                _admin(f'CREATE DATABASE "{name}"')
                self.url = _pg_url(name)
        return self.url

    def fill(self, content: str) -> str:
        if self.backend == "sqlite":
            shutil.copyfile(self.templates.sqlite_file(content), self.path)
            self.url = f"sqlite:///{self.path}"
        else:
            _require_postgres()
            self.url = self.templates.postgres_url(content)
        return self.url

    def drop(self) -> None:
        name = make_url(self.url).database if self.backend == "postgres" and self.url else ""
        if name and name.startswith("t_"):
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database(backend: str, tmp_path: Path, templates: Templates) -> Iterator[Database]:
    place = Database(backend, templates, tmp_path / "briefing.db")
    yield place
    place.drop()


@pytest.fixture
def db_url(database: Database, request: pytest.FixtureRequest) -> str:
    """The URL of the test's database: the one `engine` (or `empty_engine`) holds when the test
    asks for that too, else an empty, unmigrated database."""
    for filled in ("engine", "empty_engine"):
        if filled in request.fixturenames:
            request.getfixturevalue(filled)
            return database.url
    return database.fresh()


@pytest.fixture
def empty_engine(database: Database) -> Iterator[Engine]:
    """A migrated database with no entries."""
    engine = make_engine(database.fill("empty"))
    yield engine
    engine.dispose()


@pytest.fixture
def engine(database: Database) -> Iterator[Engine]:
    """A migrated database holding the bundled briefing."""
    engine = make_engine(database.fill("bundled"))
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


# End-to-end modules check every test with it:
#     pytestmark = pytest.mark.usefixtures("telegram_accepted_everything")
@pytest.fixture
def telegram_accepted_everything(
    fake_api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """After each test: every Bot API call succeeded, within limits, and no handler failed."""
    caplog.set_level(logging.ERROR)
    yield
    refused = [f"{c.method}: {c.description}" for c in fake_api.calls if c.status != 200]
    assert refused == []
    texts = [m.plain for m in fake_api.sent] + [e.plain or "" for e in fake_api.edits]
    assert all(utf16_len(text) <= 4096 for text in texts)
    markups = [m.reply_markup for m in fake_api.sent] + [e.reply_markup for e in fake_api.edits]
    data = [
        button["callback_data"]
        for markup in markups
        for row in (markup or {}).get("inline_keyboard", [])
        for button in row
        if "callback_data" in button
    ]
    assert all(1 <= len(d.encode()) <= 64 for d in data)
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == []
