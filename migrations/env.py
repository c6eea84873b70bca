"""Alembic environment: uses the caller's connection, or DATABASE_URL from the environment.

Only the models are imported from the application (for the metadata autogenerate compares
with); the engine is plain SQLAlchemy, so the migrations don't follow the application around.
"""

from __future__ import annotations

import os
from typing import Any

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import knowledge.models  # noqa: F401 - registers the tables on SQLModel.metadata

config = context.config
target_metadata = SQLModel.metadata

# The full-text index is made by raw DDL in 0001_initial and has no model: on SQLite an FTS5
# virtual table and the shadow tables FTS5 keeps beside it, on PostgreSQL a table with a
# generated tsvector column and a GIN index; beside it the list of its words (0012).
# Autogenerate must not offer to drop them.
SEARCH_TABLES = frozenset(
    ["searchdoc", "searchword"]
    + [f"searchdoc_{shadow}" for shadow in ("data", "idx", "content", "docsize", "config")]
)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Leave the search tables out of reflection (and so their columns and indexes too)."""
    return not (type_ == "table" and name in SEARCH_TABLES)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave out anything belonging to the search tables, however it was found."""
    if type_ == "table":
        return name not in SEARCH_TABLES
    table = getattr(obj, "table", None)
    return getattr(table, "name", None) not in SEARCH_TABLES


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "sqlite:///data/briefing.db")
    # psycopg 3 for PostgreSQL, whichever spelling the operator gave.
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(database_url(), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs batch mode to alter tables
        include_name=include_name,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
