"""What a newcomer sees first: /about and /start say what the knowledge base is."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import Engine, func
from sqlmodel import select

from knowledge.models import Briefing, Entry, EntryKind
from knowledge.storage.database import session_scope
from knowledge.write.importer import BUNDLED_BRIEFING, BriefingError, import_briefing
from tests.harness import BotHarness

pytestmark = pytest.mark.usefixtures("backend")


def _bundled_header() -> dict[str, str]:
    return yaml.safe_load(BUNDLED_BRIEFING.read_text(encoding="utf-8"))["briefing"]


async def test_about_names_the_briefing_and_what_it_holds(
    harness: BotHarness, engine: Engine
) -> None:
    header = _bundled_header()
    with session_scope(engine) as session:
        events = session.exec(
            select(func.count()).select_from(Entry).where(Entry.kind == EntryKind.EVENT)
        ).one()
    reply = (await harness.send("/about"))[0]
    assert header["title"] in reply.plain
    assert f"{events} events" in reply.plain
    assert "Last updated" in reply.plain and "Changed lately" in reply.plain
    start = (await harness.send("/start"))[0]
    assert header["title"] in start.plain and "/timeline" in start.plain


def test_the_briefing_block_is_kept_and_updated_by_an_import(engine: Engine) -> None:
    with session_scope(engine) as session:
        kept = session.exec(select(Briefing)).one()
        assert kept.title == _bundled_header()["title"]
        import_briefing(
            session, f"briefing:\n  slug: {kept.slug}\n  title: Renamed\n", name="header.yaml"
        )
    with session_scope(engine) as session:
        assert session.exec(select(Briefing.title)).all() == ["Renamed"]


def test_a_briefing_block_without_a_title_is_refused(engine: Engine) -> None:
    with session_scope(engine) as session, pytest.raises(BriefingError, match="title"):
        import_briefing(session, "briefing:\n  slug: x\n", name="header.yaml")
