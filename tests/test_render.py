"""Renderers: escaping, Telegram's limits and the callback data of every button.

Rendered HTML is checked with the strict fake's own Telegram HTML parser, so "valid" here
means what the end-to-end tests and Telegram mean by it.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import pytest

from bot.presenters.digest import digest
from bot.presenters.entries import (
    CURATORS_MARK,
    actor_card,
    event_card,
    source_card,
    timeline_page,
)
from bot.presenters.html import MESSAGE_LIMIT, Reply, button, clip, esc, numbered, split_blocks
from bot.presenters.search import search_page
from knowledge.digests.feed import ChangeFeed, EntryChange
from knowledge.language.dates import timeline_rank
from knowledge.read.views import (
    ActorDetail,
    CitationView,
    EventDetail,
    EventLine,
    Page,
    PageKey,
    Ref,
    SearchResult,
    SourceDetail,
)
from tests.fakebotapi import parse_telegram_html, utf16_len

HOSTILE = ['<b>bold</b>', "a & b", "&amp;", "</i>", '"quoted" \'single\'', "<script>x</script>",
           "tab\there", "😀" * 3, "&#0;", "<a href='x'>"]  # fmt: skip


def plain(html: str) -> str:
    return parse_telegram_html(html)[0]


def callback_data(reply: Reply) -> list[str]:
    assert reply.keyboard is not None
    return [str(b.callback_data) for row in reply.keyboard.inline_keyboard for b in row]


RANK = timeline_rank(date(2023, 7, 11), "day")


def lines(n: int, *, start: int = 1) -> list[EventLine]:
    return [
        EventLine(i, "11 Jul 2023", f"Event {i}", "reported", date(2023, 7, 11), RANK)
        for i in range(start, start + n)
    ]


# --- escaping and limits ----------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_escaped_values_come_out_exactly_as_typed(value: str) -> None:
    assert plain(f"<b>{esc(value)}</b>") == value.strip()


def test_clip_cuts_plain_text_before_escaping() -> None:
    assert clip("short", 10) == "short"
    clipped = clip("a&b " * 20, 10)
    assert clipped == "a&b a&b a…" and len(clipped) == 10
    assert plain(esc(clip("&" * 50, 7))) == "&" * 6 + "…"


def test_split_blocks_keeps_blocks_whole_and_parts_within_the_limit() -> None:
    blocks = [f"<b>Block {i}</b>\n" + "😀 word " * 100 for i in range(30)]
    parts = split_blocks(blocks)
    assert len(parts) > 1
    assert all(utf16_len(p) <= MESSAGE_LIMIT for p in parts)
    assert "\n".join(parts) == "\n".join(blocks)  # nothing lost, no block cut
    for part in parts:
        parse_telegram_html(part)


def test_split_blocks_cuts_an_oversized_block_at_lines_and_a_huge_line_anywhere() -> None:
    block = "\n".join(f"<i>line {i}</i> " + "x" * 300 for i in range(40))
    parts = split_blocks([block, "y" * 10_000])
    assert all(utf16_len(p) <= MESSAGE_LIMIT for p in parts)
    assert "".join(parts).replace("\n", "") == (block + "y" * 10_000).replace("\n", "")
    for part in parts:
        parse_telegram_html(part)
    assert split_blocks([]) == ["…"]


def test_numbered_labels_parts_only_when_there_are_several() -> None:
    assert numbered(["one"]) == ["one"]
    assert [plain(p).split("\n")[0] for p in numbered(["a", "b", "c"])] == [
        "part 1/3", "part 2/3", "part 3/3"]  # fmt: skip


@pytest.mark.parametrize("data", ["", "x" * 65, "я" * 33, "😀" * 17])
def test_buttons_refuse_callback_data_telegram_would_reject(data: str) -> None:
    with pytest.raises(ValueError, match="1-64 bytes"):
        button("label", data)
    assert button("ok", "я" * 32).callback_data == "я" * 32


# --- timeline and search pages ----------------------------------------------------------------


def test_timeline_buttons_carry_the_page_edge_keys() -> None:
    first = timeline_page(Page(lines(10), 35, 0, 10), "", "-")
    assert callback_data(first)[-2:] == ["noop", f"tl:-:10:a{RANK}.10"]

    second = timeline_page(Page(lines(10, start=11), 35, 10, 10), "", "-")
    assert callback_data(second)[-3:] == ["tl:-:0", "noop", f"tl:-:20:a{RANK}.20"]

    third = timeline_page(Page(lines(10, start=21), 35, 20, 10), "", "-")
    assert callback_data(third)[-3:] == [f"tl:-:10:b{RANK}.21", "noop", f"tl:-:30:a{RANK}.30"]

    last = timeline_page(Page(lines(5, start=31), 35, 30, 10), "", "-")
    assert callback_data(last)[-2:] == [f"tl:-:20:b{RANK}.31", "noop"]
    assert last.keyboard is not None
    assert [b.text for b in last.keyboard.inline_keyboard[-1]] == ["◀", "4/4"]
    assert "31–35 of 35" in plain(last.parts[0])


def test_page_keys_round_trip_and_reject_impossible_dates() -> None:
    key = PageKey(7389170, 25, before=True)
    assert PageKey.parse(key.code()) == key
    assert PageKey.parse("a1234567890.1") is None
    assert PageKey.parse("c7389170.1") is None
    assert PageKey.parse("a20230711.1") is None  # a date, as buttons before ranks carried


def test_the_longest_timeline_callback_data_fits_in_64_bytes() -> None:
    LAST = timeline_rank(date(2100, 12, 31), "approximate")
    page = Page(
        [EventLine(999_999_999, "31 Dec 2099", "x", "claimed", date(2099, 12, 31), LAST)] * 10,
        9_999_999,
        9_999_980,
        10,
    )
    reply = timeline_page(page, "a label", "r20220201-20231231")
    data = callback_data(reply)
    assert max(len(d.encode()) for d in data) <= 64
    assert f"tl:r20220201-20231231:9999990:a{LAST}.999999999" in data


def test_timeline_page_without_events_explains_itself() -> None:
    nothing = timeline_page(Page([], 0, 0, 10), "<2099>", "-")
    assert "No events match “<2099>”" in plain(nothing.parts[0])
    assert "empty" in plain(timeline_page(Page([], 0, 0, 10), "", "-").parts[0])


def test_a_line_nobody_said_comes_from_the_briefing_claims_only_the_curators() -> None:
    """Trust: a view built without saying where it comes from makes the weaker claim."""
    line = EventLine(1, "11 Jul 2023", "Event", "reported", date(2023, 7, 11), RANK)
    assert CURATORS_MARK in plain(timeline_page(Page([line], 1, 0, 10), "", "-").parts[0])
    backed = replace(line, from_briefing=True)
    assert CURATORS_MARK not in plain(timeline_page(Page([backed], 1, 0, 10), "", "-").parts[0])
    result = SearchResult(1, "event", "Title", "11 Jul 2023")
    assert CURATORS_MARK in plain(search_page("q", 1, Page([result], 1, 0, 8)).parts[0])
    change = EntryChange(1, "event", "Event", {"title": "Event"}, revision_id=2)
    assert CURATORS_MARK in plain(digest(ChangeFeed(since=1, upto=2, new=[change]))[0])


def test_search_page_escapes_the_query_and_pages_by_saved_id() -> None:
    results = [SearchResult(i, "event", f"<Title {i}>", "& more") for i in range(1, 9)]
    reply = search_page("<b>nato</b> & co", 42, Page(results, 20, 8, 8))
    text = plain(reply.parts[0])
    assert text.startswith("Search “<b>nato</b> & co” · 9–16 of 20")
    assert "<Title 1> — & more #1" in text
    assert callback_data(reply)[-3:] == ["sr:42:0", "noop", "sr:42:16"]
    capped = search_page("nato", 42, Page(results, 500, 0, 8, more=True))
    text = plain(capped.parts[0])
    assert text.startswith("Search “nato” · 1–8 of 500+")
    assert text.endswith("add a word to narrow it down.")
    assert capped.keyboard is not None
    assert [b.text for b in capped.keyboard.inline_keyboard[-1]] == ["1/63+", "▶"]
    empty = search_page("<x>", 1, Page([], 0, 0, 8))
    assert "Nothing matches “<x>”" in plain(empty.parts[0])
    assert "/timeline" in plain(empty.parts[0])


# --- cards with hostile values ----------------------------------------------------------------


def test_cards_survive_hostile_values() -> None:
    rng = random.Random(7)
    for _ in range(50):
        word = lambda: "".join(rng.choice(HOSTILE) for _ in range(3))  # noqa: E731
        citation = CitationView(1, word(), "analysis", rng.choice([None, 'https://x.org/?a=1&b="2"']),
                                word())  # fmt: skip
        event = EventDetail(5, word(), word(), word(), "claimed", rng.choice([None, word()]),
                            ["topic"], [Ref(7, word())], [citation] * 3)  # fmt: skip
        actor = ActorDetail(7, word(), "person", word(), word(), [word()], None, [citation],
                            lines(3), 12)  # fmt: skip
        source = SourceDetail(1, word(), "analysis", citation.url, word(), None,
                              [Ref(5, word())], 30)  # fmt: skip
        for reply in (event_card(event), actor_card(actor),
                      source_card(source)):  # fmt: skip
            for part in reply.parts:
                assert utf16_len(part) <= MESSAGE_LIMIT
                parse_telegram_html(part)
            if reply.keyboard is not None:
                assert all(len(d.encode()) <= 64 for d in callback_data(reply))
        shown = plain(event_card(event).parts[0])
        assert " ".join(event.title.split())[:20] in shown  # clip() folds whitespace
