"""constraint naming convention

Revision ID: 0006_naming_convention
Revises: 0005_query_performance
Create Date: 2026-12-01

The models now name their constraints by a convention (knowledge/models.py). Of the names
autogenerate compares, only three differ from what 0001_initial left: the unique constraints it
declared without a name, on savedquery.text, source.name_key and subscription.chat_id, which
PostgreSQL named <table>_<column>_key and SQLite left unnamed. They become uq_<table>_<column>.
Primary and foreign keys keep the names each database gave them (autogenerate doesn't compare
those), so nothing else is touched.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_naming_convention"
down_revision: str | None = "0005_query_performance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column): the unique constraints 0001_initial created without a name.
UNNAMED = (("savedquery", "text"), ("source", "name_key"), ("subscription", "chat_id"))


def upgrade() -> None:
    for table, column in UNNAMED:
        name = f"uq_{table}_{column}"
        if _postgres():
            op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {table}_{column}_key TO {name}")
        else:
            _rebuild_sqlite_table(table, column, name)


def downgrade() -> None:
    for table, column in UNNAMED:
        name = f"uq_{table}_{column}"
        if _postgres():
            op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {name} TO {table}_{column}_key")
        else:
            _rebuild_sqlite_table(table, column, None)  # unnamed again, as 0001_initial left it


def _postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


def _rebuild_sqlite_table(table_name: str, column: str, name: str | None) -> None:
    """Recreate a SQLite table as it stands, but for the name of its unique constraint on
    `column` (SQLite can't rename a constraint).

    Not in batch mode: that drops the old table after copying it, and with foreign keys
    enforced (the bot's engine turns them on, and the pragma can't change inside the
    migration's transaction) dropping `subscription` fails while deliveries refer to it.
    Here the rows go back into a table of the same name with the check deferred meanwhile,
    so it still fails at commit if any row were left dangling.
    """
    bind = op.get_bind()
    table = sa.Table(table_name, sa.MetaData(), autoload_with=bind)
    (unique,) = (
        constraint
        for constraint in table.constraints
        if isinstance(constraint, sa.UniqueConstraint)
        and [c.name for c in constraint.columns] == [column]
    )
    unique.name = name
    saved = f"_saved_{table_name}"
    op.execute("PRAGMA defer_foreign_keys = ON")
    op.execute(f"CREATE TEMP TABLE {saved} AS SELECT * FROM {table_name}")
    table.drop(bind)  # its indexes go with it, and come back with it
    table.create(bind)
    op.execute(f"INSERT INTO {table_name} SELECT * FROM {saved}")
    op.execute(f"DROP TABLE {saved}")
    # The deferral stays on until the transaction ends: turning it off forgets any violation.
