"""Databases for the benchmarks that start bot processes: a migrated SQLite template copied per
run, a fresh PostgreSQL schema per run (dropped afterwards), and whether PostgreSQL is there."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from knowledge.storage.database import make_engine, normalise_url
from knowledge.write.importer import prepare_database


def sqlite_template(workdir: Path) -> Path:
    path = workdir / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    prepare_database(engine)
    engine.dispose()
    return path


def fresh_sqlite(template: Path, workdir: Path) -> str:
    path = workdir / f"briefing-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@contextlib.contextmanager
def fresh_postgres(url: str) -> Any:
    """A new schema holding the migrated, loaded briefing; dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    scoped = f"{url}{separator}options=-csearch_path%3D{schema}"
    engine = make_engine(scoped)
    prepare_database(engine)  # once, before the replicas start
    engine.dispose()
    try:
        yield scoped
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def postgres_version(url: str) -> str | None:
    try:
        engine = create_engine(normalise_url(url), connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            version = str(connection.execute(text("SHOW server_version")).scalar())
        engine.dispose()
    except Exception:  # unreachable, for whatever reason, means "skip that part"
        return None
    return version
