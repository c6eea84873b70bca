"""Hostile input gets a clear answer and changes nothing, the same on SQLite and PostgreSQL:
alias bombs in an import, NUL and other control characters, numbers out of any id's range."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, func
from sqlmodel import col, select

from knowledge.language.names import clean_input, strip_controls
from knowledge.models import AuditRecord, Draft, Entry, Revision, Source
from knowledge.storage.database import session_scope
from tests.conftest import OWNER_ID, USER_ID
from tests.harness import BotHarness

pytestmark = pytest.mark.usefixtures("backend")

ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "events:\n  - slug: *g\n    date: '2024'\n    title: Bomb\n    citations: [{source: x}]\n"
)


def _counts(engine: Engine) -> tuple[int, int, int]:
    with session_scope(engine) as session:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count()).select_from(model)).one()
            for model in (Entry, Revision, Draft)
        )


def _audit(engine: Engine, user_id: int) -> list[AuditRecord]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(AuditRecord).where(AuditRecord.user_id == user_id).order_by(col(AuditRecord.id))
        )
        return list(rows)


async def test_an_alias_bomb_is_refused_at_once_and_changes_nothing(
    harness: BotHarness, engine: Engine
) -> None:
    before = _counts(engine)
    document = harness.fake.add_file("bomb", ALIAS_BOMB.encode(), "bomb.yaml", "text/yaml")
    started = time.perf_counter()
    replies = await harness.send("/import", chat_id=OWNER_ID, document=document)
    assert time.perf_counter() - started < 5
    assert "aliases" in replies[0].plain and "Nothing was imported" in replies[0].plain
    assert _counts(engine) == before


@pytest.mark.parametrize(
    "command",
    ["/history 1\x00", "/audit 5\x00", "/add_source Nul Probe\x00 Wire | news_outlet | -"],
)
async def test_nul_is_handled_the_same_on_every_backend(
    harness: BotHarness, engine: Engine, command: str
) -> None:
    replies = await harness.send(command, chat_id=OWNER_ID)
    assert replies and "went wrong" not in replies[0].plain
    recorded = _audit(engine, OWNER_ID)
    assert recorded, "the action is in the audit trail"
    assert "\x00" not in recorded[-1].command


async def test_a_strangers_nul_is_refused_and_recorded(
    harness: BotHarness, engine: Engine
) -> None:
    replies = await harness.send("/mods \x00", chat_id=USER_ID)
    assert replies and "went wrong" not in replies[0].plain
    assert [r.outcome for r in _audit(engine, USER_ID)][-1].startswith("refused")


async def test_a_source_name_keeps_no_nul(harness: BotHarness, engine: Engine) -> None:
    await harness.send("/add_source Nul Probe\x00 Wire | news_outlet | -", chat_id=OWNER_ID)
    with session_scope(engine) as session:
        names = session.exec(select(Source.name)).all()
    assert "Nul Probe Wire" in names or "Nul Probe\x00 Wire" not in names
    assert not any("\x00" in name for name in names)


@pytest.mark.parametrize(
    "command",
    [
        "/channel remove -99999999999999999999",
        "/channel schedule -99999999999999999999 daily 08:00",
        "/history 99999999999999999999",
        "/event 99999999999999999999",
        "/sources 99999999999999999999",
    ],
)
async def test_numbers_out_of_range_name_nothing(harness: BotHarness, command: str) -> None:
    replies = await harness.send(command, chat_id=OWNER_ID)
    assert replies and "went wrong" not in replies[0].plain


@pytest.mark.parametrize(
    "data", ["tl:a99999999999999999999:0", "tl:a0:0", "sr:999999999:0", "mh:999999999:0"]
)
async def test_forged_buttons_out_of_range_are_out_of_date(harness: BotHarness, data: str) -> None:
    message = (await harness.send("/timeline", chat_id=OWNER_ID))[0]
    message.reply_markup = {"inline_keyboard": [[{"text": "x", "callback_data": data}]]}
    before = len(harness.fake.messages_to(OWNER_ID))
    await harness.press(message, data, user_id=OWNER_ID)
    sent = harness.fake.messages_to(OWNER_ID)[before:]
    assert all("went wrong" not in m.plain for m in sent)


def test_joiners_stay_and_controls_go() -> None:
    family = "👨\u200d👩\u200d👧"
    persian = "می\u200cخواهم"
    assert clean_input(f"{family} {persian}", 100) == f"{family} {persian}"
    assert strip_controls("a\x00b\x07c\u202ed\x85e") == "abcde"
    assert strip_controls("line one\nline two") == "line one\nline two"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("news outlet", "news_outlet"), ("News-Agency", "news_outlet"), ("tg channel",
     "telegram_channel"), ("Telegram Channel", "telegram_channel")],
)  # fmt: skip
async def test_a_kind_is_taken_as_people_type_it(
    harness: BotHarness, engine: Engine, typed: str, stored: str
) -> None:
    name = f"Wire {typed}"
    replies = await harness.send(f"/add_source {name} | {typed} | -", chat_id=OWNER_ID)
    assert "Nothing was changed" not in replies[0].plain
    with session_scope(engine) as session:
        kind = session.exec(select(Source.kind).where(Source.name == name)).one()
    assert kind == stored


async def test_an_unknown_kind_lists_the_kinds_in_words(harness: BotHarness) -> None:
    replies = await harness.send("/add_source Wire | wizardry | -", chat_id=OWNER_ID)
    assert "news outlet" in replies[0].plain and "telegram channel" in replies[0].plain
