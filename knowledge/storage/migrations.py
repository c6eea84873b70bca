"""Alembic migrations: whether the schema is current, and bringing it there."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from knowledge.storage.database import reader

MIGRATION_LOCK = 0x42524945  # "BRIE": the advisory lock id migrations hold on PostgreSQL


MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


_REVISION_LINE = re.compile(
    r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(?:\"([^\"]*)\"|None)\s*$", re.MULTILINE
)


def head_revision() -> str | None:
    """The newest migration's id, read from the migration files without importing Alembic;
    None when the files don't make one plain chain (Alembic then decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if not found.get("revision"):
            return None
        revisions.add(found["revision"])
        if found.get("down_revision"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def schema_is_current(engine: Engine) -> bool:
    """Whether the database already stands at the newest migration."""
    head = head_revision()
    if head is None:
        return False
    try:
        with reader(engine).connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DBAPIError:  # no such table yet: an empty database
        return False
    return [row[0] for row in rows] == [head]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (run on every start; cheap when current).

    Alembic is imported only when there is something to do: loaded, it stays in the bot's
    memory for good (about 9 MB of an idle bot's 100 MB budget).
    """
    if schema_is_current(engine):
        return
    from alembic import command
    from alembic.config import Config

    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together take turns; the later ones find the schema current.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
