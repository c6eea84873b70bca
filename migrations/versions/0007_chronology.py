"""chronology: each event's date range and its place on the timeline

Revision ID: 0007_chronology
Revises: 0006_naming_convention
Create Date: 2026-12-01

`date_end` is the last day an event's date may mean (the end of its month or year when only
those are known); `timeline_rank` orders the timeline by that end, the more precise first on
one day, and never before the event `after_id` names. Existing events are ranked here with the
rule as it stands today (frozen below, not imported from the application).
"""

import calendar
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "0007_chronology"
down_revision: str | None = "0006_naming_convention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PRECISION_RANK = {"day": 0, "month": 1, "year": 2, "approximate": 3}


def _end(start: date, precision: str) -> date:
    if precision == "approximate":  # as much as the form it was given in
        precision = "day" if start.day != 1 else "month" if start.month != 1 else "year"
    if precision == "day":
        return start
    if precision == "month":
        return start.replace(day=calendar.monthrange(start.year, start.month)[1])
    return start.replace(month=12, day=31)


def upgrade() -> None:
    op.add_column("event", sa.Column("date_end", sa.Date(), nullable=False,
                                     server_default="2000-01-01"))  # fmt: skip
    op.add_column("event", sa.Column("timeline_rank", sa.Integer(), nullable=False,
                                     server_default="0"))  # fmt: skip
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in place; Alembic would rebuild the table,
        # which the events' own references (topics, actors) forbid while keys are enforced.
        op.execute("ALTER TABLE event ADD COLUMN after_id INTEGER REFERENCES entry (id)")
    else:
        op.add_column(
            "event",
            sa.Column(
                "after_id",
                sa.Integer(),
                sa.ForeignKey("entry.id", name="fk_event_after_id_entry"),
                nullable=True,
            ),
        )
    op.create_index("ix_event_rank_id", "event", ["timeline_rank", "id"], unique=False)
    bind = op.get_bind()
    event = sa.table(
        "event",
        sa.column("id", sa.Integer()),
        sa.column("date_start", sa.Date()),
        sa.column("precision", sa.String()),
        sa.column("date_end", sa.Date()),
        sa.column("timeline_rank", sa.Integer()),
    )
    rows = bind.execute(sa.select(event.c.id, event.c.date_start, event.c.precision)).all()
    for event_id, start, precision in rows:
        if isinstance(start, str):  # SQLite hands dates back as text here
            start = date.fromisoformat(start)
        end = _end(start, precision)
        bind.execute(
            event.update()
            .where(event.c.id == event_id)
            .values(date_end=end, timeline_rank=end.toordinal() * 10 + _PRECISION_RANK[precision])
        )


def downgrade() -> None:
    op.drop_index("ix_event_rank_id", table_name="event")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("after_id")
        batch_op.drop_column("timeline_rank")
        batch_op.drop_column("date_end")
