"""Tables that grow with use are pruned after their retention period: search texts kept for
paging buttons (SEARCH_RETENTION_DAYS) and finished digest deliveries, each with its text
(DELIVERY_RETENTION_DAYS). Unanswered questions: tests/test_questions.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.config import load_settings
from knowledge.digests.outbox import prune_deliveries
from knowledge.digests.subscriptions import parse_request, subscribe
from knowledge.models import Delivery, SavedQuery
from knowledge.read.search import prune_saved_queries, save_query, saved_query
from knowledge.storage.database import session_scope

pytestmark = pytest.mark.usefixtures("backend")

LONG_AGO = datetime.now(UTC) - timedelta(days=45)


def test_search_texts_older_than_the_period_are_forgotten(engine: Engine) -> None:
    with session_scope(engine) as session:
        old, new = (
            save_query(session=session, text="vilnius"),
            save_query(session=session, text="nato"),
        )
        session.get_one(SavedQuery, old).created_at = LONG_AGO
    with session_scope(engine) as session:
        assert prune_saved_queries(session=session, days=30) == 1
    with session_scope(engine) as session:
        assert saved_query(session=session, query_id=old) is None  # its buttons: out of date
        assert saved_query(session=session, query_id=new) == "nato"
        assert prune_saved_queries(session=session, days=30) == 0


def test_finished_deliveries_older_than_the_period_are_forgotten(engine: Engine) -> None:
    with session_scope(engine) as session:
        subscription, _ = subscribe(
            session=session, chat_id=4242, chat_type="private",
            request=parse_request("", default_timezone="UTC"), now=datetime.now(UTC),
        )  # fmt: skip
        assert subscription.id is not None
        for n, (state, created) in enumerate(
            [("sent", LONG_AGO), ("failed", LONG_AGO), ("dropped", LONG_AGO),
             ("pending", LONG_AGO), ("claimed", LONG_AGO), ("sent", datetime.now(UTC))]
        ):  # fmt: skip
            session.add(
                Delivery(subscription_id=subscription.id, chat_id=4242, digest_key=f"k{n}",
                         texts=["digest"], state=state, created_at=created)
            )  # fmt: skip
    with session_scope(engine) as session:
        assert prune_deliveries(session=session, days=30) == 3
    with session_scope(engine) as session:
        left = sorted(d.state for d in session.exec(select(Delivery)))
    assert left == ["claimed", "pending", "sent"]  # unfinished ones stay, whatever their age


def test_the_periods_are_settings_with_defaults() -> None:
    settings = load_settings(_env_file=None)
    assert (settings.search_retention_days, settings.delivery_retention_days) == (30, 30)
    custom = load_settings(_env_file=None, search_retention_days=7, delivery_retention_days=90)
    assert (custom.search_retention_days, custom.delivery_retention_days) == (7, 90)
