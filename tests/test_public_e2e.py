"""Every subscriber command end to end: the real Application against the strict fake Bot API.

Each test talks HTTP to the fake, which refuses what Telegram would refuse (bad HTML, over-long
messages, callback data over 64 bytes...). A fixture checks after every test that no call was
refused and no handler failed, so "a clear answer that Telegram would accept" is checked
everywhere, not only where a test looks. Tests marked with `backend` run on PostgreSQL too.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bench.synthetic import grow
from knowledge.models import Entry, EntryKind
from knowledge.read.search import search
from knowledge.read.timeline import TimelineFilter, timeline_page
from knowledge.read.views import LAST_RANK, PageKey
from knowledge.storage import search_index
from knowledge.storage.database import session_scope
from knowledge.write.curation import IMPORTER, create_entry, retract_entry
from tests.conftest import USER_ID
from tests.fakebotapi import (
    DEFAULT_GROUP_ID,
    FakeBotAPI,
    SentMessage,
    make_callback_update,
    utf16_len,
)
from tests.harness import BotHarness

BOT = "briefing_test_bot"  # the fake's default bot username


pytestmark = pytest.mark.usefixtures("telegram_accepted_everything")


# --- helpers ----------------------------------------------------------------------------------


async def ask(harness: BotHarness, text: str, **kwargs: object) -> SentMessage:
    """Send a message and return the one reply."""
    replies = await harness.send(text, **kwargs)  # type: ignore[arg-type]
    assert len(replies) == 1, [r.plain for r in replies]
    return replies[0]


def data_of(message: SentMessage, label: str) -> str:
    return str(message.button(label)["callback_data"])


async def tap(harness: BotHarness, message: SentMessage, label: str) -> list[SentMessage]:
    """Press the button whose text is `label`; returns any new messages (edits are in place)."""
    return await harness.press(message, data_of(message, label))


def entry_id(engine: Engine, kind: str, slug: str) -> int:
    with session_scope(engine) as session:
        found = session.exec(select(Entry.id).where(Entry.kind == kind, Entry.slug == slug)).one()
    assert found is not None
    return found


def listed_ids(message: SentMessage) -> list[int]:
    """The entry ids a timeline or search page lists, in order (`#12` at the end of lines)."""
    return [int(m) for m in re.findall(r"#(\d+)$", message.plain, flags=re.MULTILINE)]


async def still_answers(harness: BotHarness, chat_id: int = USER_ID) -> None:
    reply = await ask(harness, "/timeline", chat_id=chat_id)
    assert "Timeline" in reply.plain


# --- /start and /help -------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["/start", "/help"])
async def test_start_and_help_say_what_the_bot_does(harness: BotHarness, command: str) -> None:
    reply = await ask(harness, command)
    for word in ["/timeline", "/event", "/who", "/sources", "/search", f"@{BOT}"]:
        assert word in reply.plain
    assert reply.parse_mode == "HTML"


async def test_start_deep_link_opens_the_entry(harness: BotHarness, engine: Engine) -> None:
    statement = entry_id(engine, "event", "yermak-says-nato-membership-would-help-end-war")
    reply = await ask(harness, f"/start event-{statement}")
    assert "Yermak suggests a NATO invitation" in reply.plain
    assert "Klymenko Time" in reply.plain

    missing = await ask(harness, "/start event-999999")
    assert "There is no entry #999999" in missing.plain
    plain_start = await ask(harness, "/start event-abc")
    assert "/timeline" in plain_start.plain


# --- /timeline --------------------------------------------------------------------------------


@pytest.mark.usefixtures("backend")
async def test_timeline_pages_in_place_with_the_buttons(
    harness: BotHarness, fake_api: FakeBotAPI
) -> None:
    page = await ask(harness, "/timeline")
    first_ids = listed_ids(page)
    assert "Timeline · 1–10 of 20" in page.plain
    assert len(first_ids) == 10
    assert "◀" not in [b["text"] for b in page.buttons]

    assert await tap(harness, page, "▶") == []  # edited in place, nothing new sent
    assert fake_api.edits[-1].method == "editMessageText"
    assert fake_api.edits[-1].message_id == page.message_id
    assert "11–20 of 20" in page.plain
    assert len(listed_ids(page)) == 10
    assert not set(listed_ids(page)) & set(first_ids)
    assert "▶" not in [b["text"] for b in page.buttons]

    assert await tap(harness, page, "◀") == []
    assert "1–10 of 20" in page.plain
    assert listed_ids(page) == first_ids
    assert len(fake_api.edits) == 2
    assert [c.method for c in fake_api.calls_of("sendMessage")] == ["sendMessage"]


@pytest.mark.usefixtures("backend")
async def test_timeline_buttons_walk_a_long_timeline_both_ways(
    harness: BotHarness, engine: Engine
) -> None:
    grow(engine, events=95, actors=10, sources=3)
    with session_scope(engine) as session:
        everything = timeline_page(session=session, flt=TimelineFilter(), limit=1000).items
    expected = [line.id for line in everything]
    assert [(x.rank, x.id) for x in everything] == sorted((x.rank, x.id) for x in everything)

    page = await ask(harness, "/timeline")
    pages = [listed_ids(page)]
    while "▶" in [b["text"] for b in page.buttons]:
        await tap(harness, page, "▶")
        pages.append(listed_ids(page))
    assert [i for ids in pages for i in ids] == expected
    assert f"{len(pages)}/{len(pages)}" in [b["text"] for b in page.buttons]

    back = [listed_ids(page)]
    while "◀" in [b["text"] for b in page.buttons]:
        await tap(harness, page, "◀")
        back.append(listed_ids(page))
    assert back[::-1] == pages


async def test_a_stale_page_button_past_the_end_shows_the_last_page(
    harness: BotHarness, fake_api: FakeBotAPI
) -> None:
    page = await ask(harness, "/timeline")
    past = PageKey(LAST_RANK, 5).code()  # after the last day any date may name
    await harness.process(make_callback_update(f"tl:-:990:{past}", page, user_id=USER_ID))
    assert "11–20 of 20" in page.plain


@pytest.mark.parametrize(
    ("argument", "label", "first", "last"),
    [
        ("2023", "2023", date(2023, 1, 1), date(2023, 12, 31)),
        ("2022-02..2023-07", "2022-02..2023-07", date(2022, 2, 1), date(2023, 7, 31)),
    ],
)
async def test_timeline_by_dates(
    harness: BotHarness, engine: Engine, argument: str, label: str, first: date, last: date
) -> None:
    reply = await ask(harness, f"/timeline {argument}")
    assert f"Timeline · {label}" in reply.plain
    ids = listed_ids(reply)
    assert ids
    with session_scope(engine) as session:
        for line in timeline_page(session=session, flt=TimelineFilter()).items:
            if line.id in ids:
                assert first <= line.sort_date <= last


@pytest.mark.parametrize(
    ("argument", "label", "expected"),
    [
        ("Yermak", "Andriy Yermak", "Yermak named head"),
        ("Єрмак", "Andriy Yermak", "Yermak suggests a NATO invitation"),
        ("sanctions", "sanctions", "impose sanctions on Russia"),
    ],
)
async def test_timeline_by_actor_or_topic(
    harness: BotHarness, argument: str, label: str, expected: str
) -> None:
    reply = await ask(harness, f"/timeline {argument}")
    assert f"Timeline · {label}" in reply.plain
    assert expected in reply.plain
    assert "Vilnius summit ends" not in reply.plain


@pytest.mark.parametrize(
    ("argument", "explanation"),
    [
        ("2023-02-30", "February 2023 has 28 days"),
        ("2023-13", "no month 13"),
        ("2023..2022", "starts after it ends"),
        ("1066", "outside"),
        ("qwertyuiop", "no date, topic or actor"),
    ],
)
async def test_timeline_explains_filters_it_cannot_read(
    harness: BotHarness, argument: str, explanation: str
) -> None:
    reply = await ask(harness, f"/timeline {argument}")
    assert explanation in reply.plain
    assert "/timeline 2023" in reply.plain  # and shows what would work
    await still_answers(harness)


# --- /event -----------------------------------------------------------------------------------


async def test_event_card_and_its_buttons(harness: BotHarness, engine: Engine) -> None:
    statement = entry_id(engine, "event", "yermak-says-nato-membership-would-help-end-war")
    yermak = entry_id(engine, "actor", "andriy-yermak")
    card = await ask(harness, f"/event {statement}")
    for text in ["Yermak suggests a NATO invitation", "Status: 💬 claimed", "Andriy Yermak",
                 "Klymenko Time", f"#{statement}"]:  # fmt: skip
        assert text in card.plain
    assert await ask(harness, f"/event #{statement}") is not None

    [actor] = await tap(harness, card, "Andriy Yermak")
    assert "Head of the Office of the President of Ukraine" in actor.plain
    assert data_of(actor, "Timeline") == f"tl:a{yermak}:0"
    assert await tap(harness, actor, "Timeline") == []
    assert "Timeline · Andriy Yermak" in actor.plain  # the card became his timeline

    [opened] = await harness.press(actor, f"ev:{statement}")
    assert "Yermak suggests a NATO invitation" in opened.plain


# --- /who -------------------------------------------------------------------------------------


async def test_who_without_a_name_groups_actors_by_kind(harness: BotHarness) -> None:
    reply = await ask(harness, "/who")
    headings = re.findall(r"^(People|Organisations|States|Groups of states|Media|Places) \(\d+\)$",
                          reply.plain, flags=re.MULTILINE)  # fmt: skip
    # Every kind the bundled briefing has an actor of (its one channel is a source, not an actor).
    expected = {"People", "Organisations", "States", "Groups of states", "Places"}
    assert sorted(headings) == sorted(expected)
    people = reply.plain.split("People")[1].split("\n")[1]
    assert "Andriy Yermak" in people
    assert "NATO" in reply.plain.split("Organisations")[1]


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    "name", ["Yermak", "Єрмак", "yermack", "Ермак", "andrii yermak", "YERMAK", "jermak"]
)
async def test_who_finds_yermak_by_any_spelling(harness: BotHarness, name: str) -> None:
    reply = await ask(harness, f"/who {name}")
    assert reply.plain.startswith("Andriy Yermak · person")
    assert "Head of the Office of the President of Ukraine" in reply.plain
    assert "Yermak suggests a NATO invitation" in reply.plain  # his events


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    ("name", "found"),
    [("Klymenko", "Klymenko Time · telegram channel"),
     ("klymenk", "Klymenko Time · telegram channel"),
     ("Kiev", "Kyiv · place"), ("Зеленський", "Volodymyr Zelensky · person")],
)  # fmt: skip
async def test_who_finds_by_part_of_a_name_and_other_spellings(
    harness: BotHarness, name: str, found: str
) -> None:
    reply = await ask(harness, f"/who {name}")
    assert reply.plain.startswith(found)


async def test_who_offers_a_choice_when_several_match(harness: BotHarness, engine: Engine) -> None:
    with session_scope(engine) as session:
        for first in ("Oleh", "Iryna"):
            create_entry(session, "actor", {
                "kind": "person", "name": f"{first} Kovalenko", "role": f"{first}'s role",
                "aliases": ["Kovalenko"], "sources": ["public-record"],
            }, author=IMPORTER)  # fmt: skip
    choice = await ask(harness, "/who kovalenko")
    assert "Several entries match “kovalenko”" in choice.plain
    assert {b["text"] for b in choice.buttons} == {"Oleh Kovalenko", "Iryna Kovalenko"}

    [card] = await tap(harness, choice, "Iryna Kovalenko")
    assert card.plain.startswith("Iryna Kovalenko · person")
    assert "Iryna's role" in card.plain


async def test_who_says_when_it_knows_nobody(harness: BotHarness) -> None:
    reply = await ask(harness, "/who Xqzwv Plomb")
    assert "I know nobody called “Xqzwv Plomb”" in reply.plain
    assert "/who" in reply.plain


# --- /sources ---------------------------------------------------------------------------------


async def test_sources_list_every_source_with_its_count(harness: BotHarness) -> None:
    reply = await ask(harness, "/sources")
    assert re.search(r"Klymenko Time \(telegram channel\) — \d+ entries #\d+", reply.plain)
    assert "Media reports (unnamed outlets)" in reply.plain
    [card] = await tap(harness, reply, "Klymenko Time")
    assert card.plain.startswith("Klymenko Time · telegram channel")


async def test_sources_of_an_entry_and_what_a_source_backs(
    harness: BotHarness, engine: Engine
) -> None:
    statement = entry_id(engine, "event", "yermak-says-nato-membership-would-help-end-war")
    cited = await ask(harness, f"/sources {statement}")
    assert f"Sources for #{statement}" in cited.plain
    assert "Klymenko Time — Yermak's remarks" in cited.plain

    for name in ["Klymenko Time", "klymenko time", "Klymenko"]:
        backs = await ask(harness, f"/sources {name}")
        assert backs.plain.startswith("Klymenko Time · telegram channel")
        assert (
            "Yermak suggests a NATO invitation for Ukraine could play a part in addressing the "
            f"conflict (via Klymenko Time) #{statement}"
        ) in backs.plain
    [opened] = await harness.press(backs, f"open:{statement}")
    assert "Status: 💬 claimed" in opened.plain

    unknown = await ask(harness, "/sources Völkischer Zzyzx")
    assert "No source is called" in unknown.plain
    missing = await ask(harness, "/sources 999999")
    assert "There is no entry #999999" in missing.plain


# --- /search ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("backend")
async def test_search_ranks_and_pages_in_place(harness: BotHarness, fake_api: FakeBotAPI) -> None:
    page = await ask(harness, "/search nato")
    total = int(re.search(r"1–8 of (\d+)", page.plain).group(1))  # type: ignore[union-attr]
    assert total > 8
    first = listed_ids(page)
    assert "NATO" in page.plain.split("\n")[1]  # the best hit names it

    assert await tap(harness, page, "▶") == []
    assert f"9–{min(16, total)} of {total}" in page.plain
    assert not set(listed_ids(page)) & set(first)
    assert await tap(harness, page, "◀") == []
    assert listed_ids(page) == first

    [opened] = await harness.press(page, f"open:{first[0]}")
    assert f"#{first[0]}" in opened.plain


@pytest.mark.usefixtures("backend")
async def test_search_ranks_the_newest_matches_when_there_are_too_many(
    harness: BotHarness, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(engine) as session:
        everything = search(session=session, text="nato", limit=100).items
    newest = sorted((r.id for r in everything), reverse=True)[:5]
    monkeypatch.setattr(search_index, "RANK_WINDOW", 5)  # a small knowledge base's "too many"

    page = await ask(harness, "/search nato")
    assert "Search “nato” · 1–5 of 5+" in page.plain
    assert "add a word to narrow it down" in page.plain
    assert sorted(listed_ids(page)) == sorted(newest)
    assert "▶" not in [b["text"] for b in page.buttons]
    narrower = await ask(harness, "/search nato klymenko")  # within the window: exact
    assert re.search(r"Search “nato klymenko” · 1–\d of \d\n", narrower.plain)
    assert "narrow it down" not in narrower.plain


async def test_search_without_a_hit_suggests_the_timeline(harness: BotHarness) -> None:
    reply = await ask(harness, "/search zzqxv wobble")
    assert "Nothing matches “zzqxv wobble”" in reply.plain
    assert "/timeline" in reply.plain
    empty = await ask(harness, "/search")
    assert "What should I look for?" in empty.plain


# --- answers follow every change at once ------------------------------------------------------


@pytest.mark.usefixtures("backend")
async def test_answers_change_as_soon_as_the_knowledge_base_does(
    harness: BotHarness, engine: Engine
) -> None:
    statement = entry_id(engine, "event", "yermak-says-nato-membership-would-help-end-war")
    page = await ask(harness, "/timeline")  # remembered, with its count, /search's and /sources'
    assert "1–10 of 20" in page.plain
    searched = await ask(harness, "/search nato")
    sources = await ask(harness, "/sources")
    with session_scope(engine) as session:
        retract_entry(session, statement, "withdrawn by the channel", author=IMPORTER)

    assert "1–10 of 19" in (await ask(harness, "/timeline")).plain
    assert f"#{statement}" not in (await ask(harness, "/timeline Yermak")).plain
    total = int(re.search(r"of (\d+)", searched.plain).group(1))  # type: ignore[union-attr]
    assert f"of {total - 1}" in (await ask(harness, "/search nato")).plain
    assert (await ask(harness, "/sources")).plain != sources.plain
    # The ▶ under the first answer still works: it shows what follows the last event seen.
    assert await tap(harness, page, "▶") == []
    assert "10–19 of 19" in page.plain
    with session_scope(engine) as session:
        tail = timeline_page(session=session, flt=TimelineFilter(), offset=9, limit=10).items
    assert [b["text"] for b in page.buttons] == [*(f"#{x.id}" for x in tail), "◀", "2/2"]


def test_a_rolled_back_write_leaves_nothing_cached(engine: Engine) -> None:
    everything = TimelineFilter()
    with session_scope(engine) as session:
        assert timeline_page(session=session, flt=everything).total == 20
    session = session_scope(engine)
    with pytest.raises(RuntimeError), session as writing:  # noqa: PT012
        create_entry(writing, "event", {
            "date": "2024", "title": "Never committed", "citations": ["public-record"],
        }, author=IMPORTER)  # fmt: skip
        assert timeline_page(session=writing, flt=everything).total == 21
        raise RuntimeError("roll back")
    with session_scope(engine) as session:
        assert timeline_page(session=session, flt=everything).total == 20
        assert search(session=session, text="never committed").total == 0


# --- inline mode ------------------------------------------------------------------------------


@pytest.mark.usefixtures("backend")
async def test_inline_query_offers_cards_to_share(harness: BotHarness) -> None:
    results = await harness.inline("yermak")
    assert results
    assert all(r["type"] == "article" for r in results)
    assert "Andriy Yermak" in [r["title"] for r in results]
    for result in results:  # the fake parsed each as Telegram HTML and accepted it
        content = result["input_message_content"]
        assert content["parse_mode"] == "HTML"
        assert content["message_text"]
    recent = await harness.inline("")
    assert len(recent) == 10
    assert await harness.inline("<b>&amp; zzqxv") == []


# --- groups, unknown commands and plain text --------------------------------------------------


async def test_groups_answer_commands_addressed_to_the_bot(harness: BotHarness) -> None:
    group = {"chat_id": DEFAULT_GROUP_ID, "user_id": USER_ID, "chat_type": "group"}
    page = await ask(harness, f"/timeline@{BOT}", **group)
    assert "Timeline · 1–10 of 20" in page.plain
    assert await tap(harness, page, "▶") == []
    assert "11–20 of 20" in page.plain
    assert "Andriy Yermak" in (await ask(harness, f"/who@{BOT} Yermak", **group)).plain
    assert "Timeline" in (await ask(harness, "/timeline", **group)).plain

    for ignored in [
        "/timeline@otherbot",
        "/start@otherbot",
        "hello everyone",
        "/foo",
        "/foo@x_bot",
    ]:
        assert await harness.send(ignored, **group) == []  # type: ignore[arg-type]
    addressed = await ask(harness, f"/foo@{BOT}", **group)
    assert "/help" in addressed.plain


async def test_unknown_commands_get_a_hint_and_plain_text_is_a_question(
    harness: BotHarness,
) -> None:
    unknown = await ask(harness, "/frobnicate now")
    assert "I don't know /frobnicate" in unknown.plain
    text = await ask(harness, "what happened in Vilnius?")
    assert text.plain.startswith("NATO Vilnius summit ends without a formal accession timetable")


# --- bad input --------------------------------------------------------------------------------

LONG = "Я" * 5000

BAD_INPUT = [
    ("/who <b>x</b>", "I know nobody called “<b>x</b>”"),
    ("/search <script>alert(1)</script>", "“<script>alert(1)</script>”"),
    ("/who &amp; &lt;", "I know nobody called “&amp; &lt;”"),
    ("/search qq & zz <i", "Nothing matches “qq & zz <i”"),
    (f"/who {LONG}", "longer than I can look up"),
    (f"/search {LONG}", "longer than I can look up"),
    (f"/timeline {LONG}", "longer than I can look up"),
    (f"/sources {LONG}", "longer than I can look up"),
    (f"/event {LONG}", "longer than I can look up"),
    ("/who \x00\x07Yer\u200bmak\x1b\u202e", "Andriy Yermak · person"),
    ("/search \x00\x01\x02", "What should I look for?"),
    ("/event 999999", "There is no entry #999999"),
    ("/event abc", "Send an entry number"),
    ("/event -5", "Send an entry number"),
    ("/event 99999999999999999999", "Send an entry number"),
    ("/timeline 2023-02-30", "February 2023 has 28 days"),
    ("/timeline 2023-13", "no month 13"),
]


@pytest.mark.parametrize(("text", "answer"), BAD_INPUT, ids=[t[:24] for t, _ in BAD_INPUT])
async def test_bad_input_gets_a_clear_answer_and_the_bot_keeps_running(
    harness: BotHarness, text: str, answer: str
) -> None:
    reply = await ask(harness, text)
    assert answer in reply.plain
    await still_answers(harness)


@pytest.mark.usefixtures("backend")
async def test_bad_input_on_every_backend(harness: BotHarness) -> None:
    for text, answer in BAD_INPUT:
        assert answer in (await ask(harness, text)).plain
    await still_answers(harness)


FORGED = [
    ("tl:zz:abc", "out of date"),
    ("tl:", "out of date"),
    ("tl:-", "out of date"),
    ("tl:-:5:zzz", "out of date"),
    ("tl:-:5:a20231399.1", "out of date"),
    ("tl:a999999:0", "out of date"),
    ("tl:r20231399-:0", "out of date"),
    ("tl:t0:0", "out of date"),
    ("tl:-:99999999999", "out of date"),
    ("sr:", "out of date"),
    ("sr:999:0", "out of date"),
    ("sr:1:x", "out of date"),
    ("who:abc", "no longer works"),
    ("x" * 64, "no longer works"),
    ("\x00\u202e☃", "no longer works"),
]


@pytest.mark.parametrize(("data", "notice"), FORGED, ids=[d[:16] for d, _ in FORGED])
async def test_forged_or_stale_buttons_are_answered_and_change_nothing(
    harness: BotHarness, fake_api: FakeBotAPI, data: str, notice: str
) -> None:
    page = await ask(harness, "/timeline")
    before = page.plain
    await harness.process(make_callback_update(data, page, user_id=USER_ID))
    assert notice in (fake_api.callback_answers[-1].text or "")
    assert page.plain == before
    await still_answers(harness)


@pytest.mark.parametrize("data", ["ev:999999", "who:999999", "src:999999", "open:999999999"])
async def test_buttons_for_missing_entries_say_so(
    harness: BotHarness, fake_api: FakeBotAPI, data: str
) -> None:
    page = await ask(harness, "/timeline")
    before = len(fake_api.callback_answers)
    await harness.process(make_callback_update(data, page, user_id=USER_ID))
    assert len(fake_api.callback_answers) == before + 1
    assert "There is no entry" in fake_api.last_message(USER_ID).plain
    await still_answers(harness)


# --- long answers -----------------------------------------------------------------------------


async def test_a_long_entry_is_split_into_parts_telegram_accepts(
    harness: BotHarness, engine: Engine, fake_api: FakeBotAPI
) -> None:
    note = "A long curator's note <with> markup-like & characters, repeated. " * 15
    with session_scope(engine) as session:
        sources = []
        for n in range(40):
            source, _ = create_entry(session, "source", {
                "name": f"Analyst desk {n}", "kind": "analysis", "reliability": "varies",
            }, author=IMPORTER)  # fmt: skip
            sources.append(source.slug)
        event, _ = create_entry(session, EntryKind.EVENT, {
            "date": "2023-07-11", "title": "An event with forty sources",
            "summary": "Cited very widely.",
            "citations": [{"source": slug, "note": note[:1000]} for slug in sources],
        }, author=IMPORTER)  # fmt: skip
    parts = await harness.send(f"/event {event.id}")
    assert len(parts) >= 3
    assert [p.plain.split("\n")[0] for p in parts] == [
        f"part {i}/{len(parts)}" for i in range(1, len(parts) + 1)
    ]
    assert all(utf16_len(p.plain) <= 4096 for p in parts)
    text = "\n".join(p.plain for p in parts)
    assert all(f"Analyst desk {n} — A long curator's note <with>" in text for n in range(40))
    assert sum(1 for c in fake_api.calls_of("sendMessage") if c.ok) >= len(parts)
