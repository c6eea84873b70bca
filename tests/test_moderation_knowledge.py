"""knowledge/moderation.py without Telegram: parsing, drafts, revisions (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.commands.curation import (
    UsageError,
    parse_add_event,
    parse_add_source,
    parse_edit,
    parse_reject,
)
from bot.commands.guided import GUIDED_STEPS, check_step, guided_change
from knowledge.models import Draft, Entry, Revision, utcnow
from knowledge.storage.database import session_scope
from knowledge.write.curation import Author
from knowledge.write.drafts import approve_draft, confirm_draft, reject_draft, save_draft, submit
from knowledge.write.history import diff, show_value
from knowledge.write.records import CurationError
from knowledge.write.requests import ChangeRequest, trial
from knowledge.write.resolve import UnknownSource

pytestmark = pytest.mark.usefixtures("backend")

ALICE = Author(1002, "Alice")
BOB = Author(1003, "Bob")


def max_revision(session: Session) -> int:
    return session.exec(select(func.max(Revision.id))).one() or 0


def test_parse_add_event_resolves_sources_and_checks_the_shape(engine: Engine) -> None:
    with session_scope(engine) as session:
        change = parse_add_event(session, "2023-07 | Title | - | klymenko time; PUBLIC RECORD")
        assert change.kind == "event" and change.action == "create"
        record = change.payload["record"]
        assert record["date"] == "2023-07" and record["summary"] == ""
        assert [c["source"] for c in record["citations"]] == ["klymenko-time", "public-record"]
        # Commas work too when no source name has one.
        commas = parse_add_event(session, "2023 | T | S | Klymenko Time, briefing")
        assert len(commas.payload["record"]["citations"]) == 2

        with pytest.raises(UnknownSource) as unknown:
            parse_add_event(session, "2023 | T | S | Klymenko Tim")
        assert unknown.value.suggestion == "Klymenko Time"
        with pytest.raises(UsageError, match="expected 4 parts"):
            parse_add_event(session, "2023 | T")
        with pytest.raises(CurationError, match="is not a date"):
            parse_add_event(session, "July 2023 | T | S | Klymenko Time")


def test_parse_edit_maps_fields(engine: Engine) -> None:
    with session_scope(engine) as session:
        eid = session.exec(
            select(Entry.id).where(Entry.slug == "western-sanctions-on-russia")
        ).one()
        assert eid is not None
        date = parse_edit(session, f"{eid} | Date | 2022-02-24")
        assert date.payload["changes"] == {"date": "2022-02-24", "precision": "day"}
        actors = parse_edit(session, f"#{eid} | actors | Зеленський, nato")
        assert actors.payload["changes"] == {"actors": ["volodymyr-zelensky", "nato"]}
        with pytest.raises(CurationError, match="is an event: events have no field"):
            parse_edit(session, f"{eid} | name | X")
        with pytest.raises(CurationError, match="no actor is called"):
            parse_edit(session, f"{eid} | actors | Nobody Atall")


def test_trial_validates_and_keeps_nothing(engine: Engine) -> None:
    with session_scope(engine) as session:
        before = max_revision(session)
        change = parse_add_event(session, "2024 | Trial | S | Public record")
        with trial(session, change, author=ALICE) as applied:
            assert applied.entry_id is not None
            assert session.get(Entry, applied.entry_id) is not None
        assert max_revision(session) == before
    with session_scope(engine) as session:
        assert session.exec(select(Entry).where(Entry.slug == "trial")).first() is None


def test_drafts_write_no_revision_until_approved(engine: Engine) -> None:
    with session_scope(engine) as session:
        cursor = max_revision(session)
        change = parse_add_event(session, "2024 | Reviewed | S | Public record")
        outcome = submit(session, change, author=ALICE, review=True)
        assert outcome.status == "draft" and outcome.draft is not None
        draft_id = outcome.draft.id
        assert draft_id is not None
    with session_scope(engine) as session:
        # What a digest would read as "published since the cursor": nothing yet.
        assert max_revision(session) == cursor
        with pytest.raises(CurationError, match="cannot approve your own draft"):
            approve_draft(session, draft_id, approver=ALICE)
    with session_scope(engine) as session:
        approved = approve_draft(session, draft_id, approver=BOB)
        assert approved.status == "applied" and approved.entry_id is not None
    with session_scope(engine) as session:
        revision = session.exec(select(Revision).where(Revision.id > cursor)).one()
        assert (revision.action, revision.author_id) == ("create", ALICE.id)
        assert "approved by Bob (1003)" in revision.note
        assert session.get_one(Draft, draft_id).decided_by == BOB.id


def test_rejected_and_expired_drafts(engine: Engine) -> None:
    with session_scope(engine) as session:
        change = parse_add_source(session, "Wire | news_outlet | -")
        draft = submit(session, change, author=ALICE, review=True).draft
        assert draft is not None and draft.id is not None
        with pytest.raises(UsageError):
            parse_reject(f"{draft.id}  ")
        with pytest.raises(CurationError, match="say why"):
            reject_draft(session, draft.id, decider=BOB, reason=" ")
        reject_draft(session, draft.id, decider=BOB, reason="not needed")
        with pytest.raises(CurationError, match="is rejected, not pending"):
            approve_draft(session, draft.id, approver=BOB)

        stale = save_draft(session, change, author=ALICE, state="confirm")
        stale.created_at = utcnow() - timedelta(hours=2)
        session.add(stale)
        session.flush()
        assert stale.id is not None
        with pytest.raises(CurationError, match="expired"):
            confirm_draft(session, stale.id, user=ALICE, review=False)


def test_duplicates_are_held_for_confirmation(engine: Engine) -> None:
    with session_scope(engine) as session:
        cursor = max_revision(session)
        change = parse_add_event(
            session,
            "2023-07-11 | nato vilnius summit ends without a formal accession timetable for "
            "ukraine | S | Public record",
        )
        held = submit(session, change, author=ALICE, review=False)
        assert held.status == "confirm" and held.applied.duplicate_of is not None
        assert max_revision(session) == cursor
        assert held.draft is not None and held.draft.id is not None
        with pytest.raises(CurationError, match="only the moderator who made"):
            confirm_draft(session, held.draft.id, user=BOB, review=False)
        saved = confirm_draft(session, held.draft.id, user=ALICE, review=False)
        assert saved.status == "applied" and max_revision(session) > cursor


def test_history_diff_lists_old_and_new_values() -> None:
    changes = diff(
        {"title": "Old", "topics": ["a"], "summary": "same"},
        {"title": "New", "topics": ["a", "b"], "summary": "same", "retracted": "why"},
    )
    assert [(c.field, c.old, c.new) for c in changes] == [
        ("title", "Old", "New"),
        ("topics", "a", "a, b"),
        ("retracted", "—", "why"),
    ]
    assert show_value([{"source": "wire", "note": "n"}]) == "wire (n)"


def test_guided_steps_validate_each_answer(engine: Engine) -> None:
    steps = {s.field: s for s in GUIDED_STEPS["event"]}
    with session_scope(engine) as session:
        assert check_step(session, "event", steps["date"], "2023-7") == "2023-07"
        with pytest.raises(CurationError, match="must not be empty"):
            check_step(session, "event", steps["title"], " ")
        assert check_step(session, "event", steps["summary"], "-") == ""
        assert check_step(session, "event", steps["actors"], "-") == []
        with pytest.raises(UnknownSource):
            check_step(session, "event", steps["sources"], "Nope News")
    change = guided_change(
        "event", {"date": "2023", "title": "T", "summary": "", "sources": ["wire"], "actors": []}
    )
    assert change == ChangeRequest(
        "create",
        {
            "record": {
                "date": "2023",
                "title": "T",
                "summary": "",
                "actors": [],
                "citations": [{"source": "wire", "note": ""}],
            }
        },
        "event",
    )
