"""Schema migrations: upgraded on every start, and Alembic left unloaded when nothing is due."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from knowledge.storage.database import make_engine
from knowledge.storage.migrations import MIGRATIONS_DIR, head_revision, migrate, schema_is_current


def test_the_head_read_from_the_files_is_alembics() -> None:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_an_empty_database_is_migrated_and_then_current(backend: str, db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert not schema_is_current(engine)
        migrate(engine)
        assert schema_is_current(engine)
        migrate(engine)  # again: nothing to do
        assert schema_is_current(engine)
    finally:
        engine.dispose()


def test_a_current_database_starts_without_loading_alembic(
    backend: str, engine: Engine, db_url: str
) -> None:
    code = (
        "import sys\n"
        "from knowledge.storage.database import make_engine\n"
        "from knowledge.write.importer import prepare_database\n"
        f"prepare_database(make_engine({db_url!r}))\n"
        "print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_bot_upgrades_the_schema_in_a_child_process(tmp_path: Path) -> None:
    """`python -m bot` (run) leaves Alembic out of its own, long-running process."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = (
        "import sys\n"
        "from knowledge.storage.database import make_engine\n"
        "from knowledge.storage.migrations import schema_is_current\n"
        "from bot.__main__ import migrate_apart\n"
        f"engine = make_engine({url!r})\n"
        "before = schema_is_current(engine)\n"
        "migrate_apart(engine)\n"
        "print(before, schema_is_current(engine), 'alembic' in sys.modules)"
    )
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "False True False"
