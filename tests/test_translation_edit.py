"""Moderators translate in chat (`/edit ID | title.uk | …`), end to end through the strict
fake Bot API — on SQLite and PostgreSQL: the moderator gate, the audit, a revision that
history and undo see, the search index, and clear refusals that change nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine, func
from sqlmodel import col, select

from knowledge.models import AuditRecord, Entry, Moderator, Revision, Translation
from knowledge.storage.database import session_scope
from knowledge.write.curation import IMPORTER, update_entry
from knowledge.write.records import snapshot
from tests.conftest import MODERATOR_ID, OWNER_ID, USER_ID
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness

pytestmark = pytest.mark.usefixtures("backend")

INVASION_UK = "Росія починає повномасштабне вторгнення в Україну"


def _entry_id(engine: Engine, kind: str, slug: str) -> int:
    with session_scope(engine) as session:
        found = session.exec(select(Entry.id).where(Entry.kind == kind, Entry.slug == slug)).one()
    assert found is not None
    return found


def _uk(engine: Engine, entry_id: int) -> dict[str, str]:
    with session_scope(engine) as session:
        block = snapshot(session, session.get_one(Entry, entry_id)).get("uk", {})
    return dict(block)


def _state(engine: Engine) -> tuple[int, int]:
    with session_scope(engine) as session:
        return (
            session.exec(select(func.count()).select_from(Revision)).one(),
            session.exec(select(func.count()).select_from(Translation)).one(),
        )


def _last_audit(engine: Engine, user_id: int) -> AuditRecord:
    with session_scope(engine) as session:
        return session.exec(
            select(AuditRecord)
            .where(AuditRecord.user_id == user_id)
            .order_by(col(AuditRecord.id).desc())
        ).first() or pytest.fail("no audit record")


async def test_a_moderator_translates_a_title_and_undoes_it(
    harness: BotHarness, engine: Engine
) -> None:
    eid = _entry_id(engine, "event", "full-scale-invasion")
    revisions, _ = _state(engine)
    replies = await harness.send(
        f"/edit {eid} | title.uk | Росія розпочинає широкомасштабний наступ", chat_id=OWNER_ID
    )
    text = "\n".join(m.plain for m in replies)
    assert f"#{eid}" in text and "title.uk" in text
    # The preview shows the entry as Ukrainian readers will see it.
    assert "Росія розпочинає широкомасштабний наступ" in text
    assert "Брифінг описує російську кампанію" in text
    assert _uk(engine, eid)["title"] == "Росія розпочинає широкомасштабний наступ"
    assert _state(engine)[0] == revisions + 1
    assert _last_audit(engine, OWNER_ID).command.startswith(f"/edit {eid} | title.uk")
    # The index follows: the new word finds it, the replaced one no longer does.
    found = await harness.send("/search широкомасштабний", chat_id=USER_ID)
    assert f"#{eid}" in found[0].plain
    gone = await harness.send("/search повномасштабне", chat_id=USER_ID)
    assert f"#{eid}" not in gone[0].plain
    history = await harness.send(f"/history {eid}", chat_id=OWNER_ID)
    assert "title.uk" in history[0].plain and INVASION_UK in history[0].plain
    await harness.send(f"/undo {eid}", chat_id=OWNER_ID)
    assert _uk(engine, eid)["title"] == INVASION_UK
    assert _state(engine)[0] == revisions + 2


async def test_removing_a_translation_shows_the_original_marked(
    harness: BotHarness, engine: Engine
) -> None:
    eid = _entry_id(engine, "actor", "kyiv")
    replies = await harness.send(f"/edit {eid} | description.uk | -", chat_id=OWNER_ID)
    assert "description" not in _uk(engine, eid) and _uk(engine, eid)["name"] == "Київ"
    card = next(m for m in replies if "Київ" in m.plain)
    assert "Ukraine's capital (public record)." in card.plain and "[en]" in card.plain
    assert "<i>[en]</i>" in card.text


async def test_the_original_language_edits_the_curated_text(
    harness: BotHarness, engine: Engine
) -> None:
    eid = _entry_id(engine, "source", "public-record")
    await harness.send(f"/edit {eid} | name.en | Public record (curators)", chat_id=OWNER_ID)
    with session_scope(engine) as session:
        record = snapshot(session, session.get_one(Entry, eid))
    assert record["name"] == "Public record (curators)"
    assert record["uk"]["name"] == "Публічні відомості"


@pytest.mark.parametrize(
    ("slug", "field", "expected"),
    [
        ("event", "title.de", "“de” is not a language entries are translated into"),
        ("event", "status.uk", "events have no translated “status”; translated: title.uk"),
        ("actor", "summary.uk", "actors have no translated “summary”"),
        ("event", "colour", "translations: title.uk, summary.uk"),
    ],
)
async def test_an_unknown_language_or_field_is_refused_and_changes_nothing(
    harness: BotHarness, engine: Engine, slug: str, field: str, expected: str
) -> None:
    eid = _entry_id(engine, slug, "full-scale-invasion" if slug == "event" else "nato")
    before = _state(engine)
    replies = await harness.send(f"/edit {eid} | {field} | Текст", chat_id=OWNER_ID)
    assert len(replies) == 1
    assert expected in replies[0].plain and "Nothing was changed" in replies[0].plain
    assert _state(engine) == before
    assert _last_audit(engine, OWNER_ID).outcome.startswith("invalid:")


async def test_translating_is_for_moderators(fake_api: FakeBotAPI, engine: Engine) -> None:
    eid = _entry_id(engine, "event", "full-scale-invasion")
    with session_scope(engine) as session:
        session.add(Moderator(user_id=MODERATOR_ID, added_by=OWNER_ID, name="Mo"))
    before = _state(engine)
    async with BotHarness(fake_api, engine, admin_ids={OWNER_ID}) as bot:
        refused = await bot.send(f"/edit {eid} | title.uk | Зіпсовано", chat_id=USER_ID)
        assert [m.plain for m in refused] == ["This command is for moderators."]
        assert _state(engine) == before
        assert _last_audit(engine, USER_ID).outcome == "refused: not a moderator"
        done = await bot.send(f"/edit {eid} | summary.uk | Нове резюме.", chat_id=MODERATOR_ID)
        assert "Edited" in done[0].plain
    assert _uk(engine, eid) == {"title": INVASION_UK, "summary": "Нове резюме."}


async def test_under_review_a_translation_waits_for_approval(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    eid = _entry_id(engine, "event", "vilnius-summit-2023")
    with session_scope(engine) as session:
        session.add(Moderator(user_id=MODERATOR_ID, added_by=OWNER_ID, name="Mo"))
    original = _uk(engine, eid)
    async with BotHarness(fake_api, engine, admin_ids={OWNER_ID}, review_required=True) as bot:
        drafted = await bot.send(f"/edit {eid} | title.uk | Саміт у Вільнюсі", chat_id=OWNER_ID)
        match = re.search(r"draft (\d+)", drafted[0].plain)
        assert match, drafted[0].plain
        assert _uk(engine, eid) == original  # readers see nothing until it is approved
        # Meanwhile another field's translation changes: the draft must not undo it.
        with session_scope(engine) as session:
            update_entry(session, eid, {"summary.uk": "Інше резюме."}, author=IMPORTER)
        approved = await bot.send(f"/approve {match.group(1)}", chat_id=MODERATOR_ID)
        assert "approved" in approved[0].plain.lower()
    assert _uk(engine, eid) == {"title": "Саміт у Вільнюсі", "summary": "Інше резюме."}
