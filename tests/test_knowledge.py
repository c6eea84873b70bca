"""Queries, importer and search on the bundled briefing — on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from knowledge.models import Entry, Revision
from knowledge.read.actors import find_actors
from knowledge.read.entries import actor_detail, event_detail, source_detail
from knowledge.read.search import search
from knowledge.read.sources import find_source, source_overview
from knowledge.read.timeline import (
    FilterError,
    TimelineFilter,
    decode_filter,
    resolve_timeline_filter,
    timeline_page,
)
from knowledge.storage.database import session_scope
from knowledge.write.curation import IMPORTER, retract_entry
from knowledge.write.importer import (
    BUNDLED_BRIEFING,
    BriefingError,
    export_briefing,
    import_briefing,
)

pytestmark = pytest.mark.usefixtures("backend")


def _id(engine: Engine, kind: str, slug: str) -> int:
    with session_scope(engine) as session:
        entry_id = session.exec(
            select(Entry.id).where(Entry.kind == kind, Entry.slug == slug)
        ).one()
    assert entry_id is not None
    return entry_id


def test_bundled_briefing_is_loaded_with_a_revision_per_entry(engine: Engine) -> None:
    with session_scope(engine) as session:
        entries = session.exec(select(Entry)).all()
        revisions = session.exec(select(Revision)).all()
    assert len(entries) >= 25
    assert {e.kind for e in entries} == {"event", "actor", "source"}
    assert len(revisions) == len(entries)
    assert all(r.action == "import" and r.before is None for r in revisions)


def test_timeline_is_oldest_first_and_pages_do_not_overlap(engine: Engine) -> None:
    with session_scope(engine) as session:
        flt = TimelineFilter()
        first = timeline_page(session=session, flt=flt, limit=5)
        second = timeline_page(session=session, flt=flt, offset=5, limit=5)
    ranks = [line.rank for line in first.items + second.items]
    assert ranks == sorted(ranks)
    assert not {x.id for x in first.items} & {x.id for x in second.items}
    assert first.total == second.total >= 11
    assert first.items[0].title.startswith("Yermak named head")


def test_timeline_filters(engine: Engine) -> None:
    with session_scope(engine) as session:
        flt = resolve_timeline_filter(session=session, text="2022-02..2022-12")
        lines = timeline_page(session=session, flt=flt).items
        assert lines
        assert all(date(2022, 2, 1) <= line.sort_date <= date(2022, 12, 31) for line in lines)

        by_actor = resolve_timeline_filter(session=session, text="Єрмак")
        assert by_actor.label == "Andriy Yermak"
        titles = [x.title for x in timeline_page(session=session, flt=by_actor).items]
        assert any("Yermak suggests" in t for t in titles)

        by_topic = resolve_timeline_filter(session=session, text="sanctions")
        assert by_topic.topic == "sanctions"
        assert timeline_page(session=session, flt=by_topic).total >= 1

        with pytest.raises(FilterError, match="30 days"):
            resolve_timeline_filter(session=session, text="2023-06-31")
        with pytest.raises(FilterError, match="starts after it ends"):
            resolve_timeline_filter(session=session, text="2023..2022")
        with pytest.raises(FilterError, match="no date, topic or actor"):
            resolve_timeline_filter(session=session, text="qwertyuiop")


def test_filter_codes_round_trip_within_callback_limits(engine: Engine) -> None:
    with session_scope(engine) as session:
        for text in ["", "2023", "2022-02..2023-07", "Yermak", "vilnius-summit"]:
            flt = resolve_timeline_filter(session=session, text=text)
            code = flt.code()
            assert len(f"tl:{code}:999990".encode()) <= 64
            decoded = decode_filter(session=session, code=code)
            assert decoded is not None
            assert (decoded.start, decoded.end, decoded.actor_id, decoded.topic) == (
                flt.start, flt.end, flt.actor_id, flt.topic
            )  # fmt: skip
        assert decode_filter(session=session, code="r2023x") is None
        assert decode_filter(session=session, code="a999999") is None


@pytest.mark.parametrize(
    "name", ["Yermak", "Єрмак", "Ермак", "yermack", "Andrii Yermak", "jermak", "Андрій Єрмак"]
)
def test_who_finds_yermak_by_alias_transliteration_and_typo(engine: Engine, name: str) -> None:
    with session_scope(engine) as session:
        matches = find_actors(session=session, query=name)
    assert matches
    assert matches[0].name == "Andriy Yermak"


def test_who_kiev_and_kyiv_are_one_place(engine: Engine) -> None:
    with session_scope(engine) as session:
        for name in ("Kyiv", "Kiev", "Київ", "Киев"):
            assert find_actors(session=session, query=name)[0].name == "Kyiv"
        assert find_actors(session=session, query="zzzzqqq") == []


def test_actor_detail_lists_events_and_sources(engine: Engine) -> None:
    with session_scope(engine) as session:
        yermak = find_actors(session=session, query="Yermak")[0]
        detail = actor_detail(session=session, actor_id=yermak.id)
    assert detail is not None
    assert detail.role == "Head of the Office of the President of Ukraine"
    assert "Єрмак" in detail.aliases
    assert detail.event_count >= 2
    assert {s.source_name for s in detail.sources} >= {"Klymenko Time"}


def test_sources_counts_and_lookup(engine: Engine) -> None:
    with session_scope(engine) as session:
        overview = source_overview(session=session)
        by_name = {s.name: s for s in overview}
        assert by_name["Klymenko Time"].citations >= 1
        found = find_source(session=session, name="klymenko time")
        assert found is not None and found.name == "Klymenko Time"
        typo = find_source(session=session, name="Klymenko Tme")
        assert typo is not None and typo.name == "Klymenko Time"
        detail = source_detail(session=session, source_id=found.id)
        assert detail is not None
        assert detail.backs_count == by_name["Klymenko Time"].citations


def test_full_text_search_ranks_and_handles_cyrillic(engine: Engine) -> None:
    with session_scope(engine) as session:
        page = search(session=session, text="Vilnius timetable")
        assert page.total >= 1
        assert any("timetable" in r.title.lower() for r in page.items)
        # A Cyrillic query finds the Latin entry through the indexed transliteration.
        assert search(session=session, text="Київ").items[0].title == "Kyiv"
        assert search(session=session, text="sanction").total >= 1  # prefix match
        assert search(session=session, text="xylophone").total == 0
        # Operators and quotes are words, never syntax.
        for nasty in ['"', "NEAR(", "a OR b AND", "*", "'; DROP TABLE entry; --", "&|!"]:
            search(session=session, text=nasty)


def test_search_pages(engine: Engine) -> None:
    with session_scope(engine) as session:
        total = search(session=session, text="nato").total
        assert total > 3
        a = search(session=session, text="nato", limit=3)
        b = search(session=session, text="nato", offset=3, limit=3)
    assert not {r.id for r in a.items} & {r.id for r in b.items}


def test_retracted_entries_leave_lists_but_answer_by_id(engine: Engine) -> None:
    event_id = _id(engine, "event", "no-near-term-acceleration-of-membership")
    with session_scope(engine) as session:
        retract_entry(session, event_id, "duplicate of another entry", author=IMPORTER)
    with session_scope(engine) as session:
        ids = [x.id for x in timeline_page(session=session, flt=TimelineFilter(),
                                                   limit=100).items]  # fmt: skip
        assert event_id not in ids
        assert event_id not in [r.id for r in search(session=session, text="membership",
                                                              limit=50).items]  # fmt: skip
        detail = event_detail(session=session, event_id=event_id)
        assert detail is not None and detail.retracted_reason == "duplicate of another entry"


def test_import_is_idempotent_and_export_round_trips(engine: Engine) -> None:
    text = BUNDLED_BRIEFING.read_text(encoding="utf-8")
    with session_scope(engine) as session:
        again = import_briefing(session, text)
    assert again.added == [] and again.updated == []
    with session_scope(engine) as session:
        exported = export_briefing(session)
    with session_scope(engine) as session:
        summary = import_briefing(session, exported, name="export.yaml")
    assert summary.added == [] and summary.updated == []
    assert len(summary.unchanged) == len(again.unchanged)


BROKEN = """\
sources:
  - slug: wire
    name: Wire
    kind: news_outlet
actors: []
events:
  - slug: good
    date: "2023-07-11"
    title: Fine
    status: reported
    citations: [{source: wire}]
  - slug: bad-source
    date: "2023-07"
    title: Cites nobody we know
    citations: [{source: nowhere}]
  - slug: bad-date
    date: "2023-02-30"
    title: An impossible day
    citations: [{source: wire}]
  - slug: good
    date: "2023"
    title: Duplicate slug
    citations: [{source: wire}]
"""


def test_importer_reports_every_error_with_its_line_and_changes_nothing(
    empty_engine: Engine,
) -> None:
    with pytest.raises(BriefingError) as caught, session_scope(empty_engine) as session:
        import_briefing(session, BROKEN, name="broken.yaml")
    assert caught.value.errors == ["broken.yaml:20: events[3]: duplicate slug “good”"]
    fixed = BROKEN.replace('  - slug: good\n    date: "2023"', '  - slug: other\n    date: "2023"')
    with pytest.raises(BriefingError) as caught, session_scope(empty_engine) as session:
        import_briefing(session, fixed, name="broken.yaml")
    errors = caught.value.errors
    assert "broken.yaml:12: events[1]: unknown source “nowhere”" in errors
    assert any(e.startswith("broken.yaml:16: events[2]: date:") and "28 days" in e for e in errors)
    with session_scope(empty_engine) as session:
        assert session.exec(select(Entry)).all() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("events: [1, 2]", "must be a list of mappings"),
        ("sources:\n  - slug: x\n    name: [unclosed", "broken.yaml:3"),
        ("just a string", "expected a mapping"),
        ("sources:\n  - slug: BAD SLUG\n    name: X\n    kind: official", "slug"),
        ("sources:\n  - slug: x\n    name: X\n    kind: blog", "kind “blog” is not one of"),
        ("wat: 1", "unknown top-level keys"),
    ],
)
def test_importer_rejects_malformed_files(empty_engine: Engine, text: str, message: str) -> None:
    with pytest.raises(BriefingError, match=message), session_scope(empty_engine) as session:
        import_briefing(session, text, name="broken.yaml")


def test_replicas_starting_together_load_the_briefing_once(backend: str, db_url: str) -> None:
    """Several processes preparing one empty database: one loads, the others find it loaded."""
    from concurrent.futures import ThreadPoolExecutor

    from knowledge.storage.database import make_engine
    from knowledge.write.importer import prepare_database

    engines = [make_engine(db_url) for _ in range(3)]
    prepare_database(engines[0], bundled=None)  # the schema exists; the knowledge base is empty
    with ThreadPoolExecutor(3) as pool:
        loaded = list(pool.map(prepare_database, engines))
    assert sorted(loaded) == [False, False, True]
    with session_scope(engines[0]) as session:
        revisions = session.exec(select(Revision)).all()
        entries = session.exec(select(Entry)).all()
    assert len(revisions) == len(entries) > 0
    for engine in engines:
        engine.dispose()
