"""Alembic environment: uses the caller's connection, or DATABASE_URL from the settings."""

from __future__ import annotations

import os

from alembic import context
from sqlmodel import SQLModel

import knowledge.models  # noqa: F401 - registers the tables on SQLModel.metadata
from knowledge.storage.database import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = os.environ.get("DATABASE_URL", "sqlite:///data/briefing.db")
    engine = make_engine(url)
    with engine.begin() as conn:
        _run(conn)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs batch mode to alter tables
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
