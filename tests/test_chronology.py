"""The timeline's order is one a historian would accept: an imprecise date lists after the
precise ones it may include, an event said to follow another lists after it, and a date
filter holds only events whose whole date lies inside it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from knowledge.models import Entry
from knowledge.read.timeline import TimelineFilter, resolve_timeline_filter, timeline_page
from knowledge.storage.database import session_scope
from knowledge.write.curation import IMPORTER, update_entry

pytestmark = pytest.mark.usefixtures("backend")

# The bundled briefing's events, in the order the timeline must list them.
BUNDLED_ORDER = [
    "yermak-appointed-head-of-presidential-office",
    "full-scale-invasion",
    "western-sanctions-on-russia",  # "Feb 2022", a response to the 24 Feb invasion
    "no-nato-consensus-on-ukraine-accession",  # estimated June 2023: before the summit
    "push-for-membership-timetable-at-vilnius",
    "ukraine-nato-council-option-discussed",
    "vilnius-summit-2023",
    "nato-ukraine-council-inaugural-meeting",
    "no-near-term-acceleration-of-membership",  # "after the Vilnius summit"
    "yermak-says-nato-membership-would-help-end-war",  # c. 2023: after everything dated 2023
]


def _slugs(engine: Engine, flt: TimelineFilter) -> list[str]:
    with session_scope(engine) as session:
        slug_of = dict(session.exec(select(Entry.id, Entry.slug)).all())
        return [slug_of[x.id] for x in timeline_page(session=session, flt=flt, limit=100).items]


def test_the_bundled_briefing_lists_in_a_defined_order(engine: Engine) -> None:
    listed = _slugs(engine, TimelineFilter())
    assert [s for s in listed if s in BUNDLED_ORDER] == BUNDLED_ORDER
    assert set(listed[len(BUNDLED_ORDER) :]).isdisjoint(BUNDLED_ORDER)


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("2022-02-24", "full-scale-invasion", "western-sanctions-on-russia"),
        ("2022-02", "western-sanctions-on-russia", "yermak-appointed-head-of-presidential-office"),
        ("2023-07", "vilnius-summit-2023", "yermak-says-nato-membership-would-help-end-war"),
        ("2023", "yermak-says-nato-membership-would-help-end-war", "full-scale-invasion"),
    ],
)
def test_a_date_filter_holds_what_lies_wholly_inside_it(
    engine: Engine, text: str, inside: str, outside: str
) -> None:
    with session_scope(engine) as session:
        flt = resolve_timeline_filter(session=session, text=text)
    listed = _slugs(engine, flt)
    assert inside in listed and outside not in listed


def test_an_event_stays_after_the_one_it_follows_when_that_one_moves(engine: Engine) -> None:
    with session_scope(engine) as session:
        invasion = session.exec(select(Entry.id).where(Entry.slug == "full-scale-invasion")).one()
        update_entry(session, invasion, {"date": "2022-03-15"}, author=IMPORTER)
    listed = _slugs(engine, TimelineFilter())
    assert listed.index("western-sanctions-on-russia") > listed.index("full-scale-invasion")
