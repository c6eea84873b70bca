"""The whole bot in the reader's language, end to end through the strict fake Bot API: a
Ukrainian app gets Ukrainian replies, /language switches, a group's admins choose its
language, the command menu is published in both languages."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bench.synthetic import grow
from bot.language import CACHE_KEY
from tests.conftest import OWNER_ID, USER_ID
from tests.fakebotapi import DEFAULT_GROUP_ID, FakeBotAPI, SentMessage, utf16_len
from tests.harness import BotHarness

UK = {"language_code": "uk"}


pytestmark = pytest.mark.usefixtures("telegram_accepted_everything")


async def one(harness: BotHarness, text: str, **kwargs: object) -> SentMessage:
    replies = await harness.send(text, **kwargs)  # type: ignore[arg-type]
    assert len(replies) == 1, [r.plain for r in replies]
    return replies[0]


async def test_a_ukrainian_app_gets_the_bot_in_ukrainian(harness: BotHarness) -> None:
    start = "\n".join(r.plain for r in await harness.send("/start", **UK))
    assert "Містить: " in start and "подій" in start
    assert "Нещодавно змінено: " in start and "Briefing: watch" not in start  # titles too
    assert "/timeline — події з датами, від найдавніших" in start
    help_text = (await one(harness, "/help", **UK)).plain
    assert "Кожен факт має джерело" in help_text and "Every fact" not in help_text

    timeline = await one(harness, "/timeline", **UK)
    assert timeline.plain.startswith("Хронологія · 1–10 з ")
    assert "лютого 2022" in timeline.plain  # dates in Ukrainian: 24 лютого 2022
    assert "торкніться номера" in timeline.plain

    card = (await harness.press(timeline, "ev:" + _first_id(timeline), language_code="uk"))[0]
    assert "Статус: " in card.plain and "Status:" not in card.plain
    assert "Джерела" in card.plain

    error = await one(harness, "/event 999999", **UK)
    assert error.plain == "Запису #999999 немає. /timeline перелічує події."
    unknown = await one(harness, "/frobnicate", **UK)
    assert unknown.plain.startswith("Я не знаю команди /frobnicate")
    assert (await one(harness, "/cancel", **UK)).plain == "Скасовувати нічого."
    assert (await one(harness, "/add_event x", **UK)).plain == "Ця команда — для модераторів."
    bad_date = await one(harness, "/timeline 2023-13", **UK)
    assert bad_date.plain.startswith("місяця 13 немає; місяці — від 01 до 12.\nСпробуйте")


async def test_english_stays_english(harness: BotHarness) -> None:
    timeline = await one(harness, "/timeline")
    assert timeline.plain.startswith("Timeline · 1–10 of ")
    assert "Feb 2022" in timeline.plain
    other = await one(harness, "/timeline", language_code="de")  # not spoken: the default
    assert other.plain == timeline.plain


async def test_language_switches_and_is_remembered(harness: BotHarness) -> None:
    menu = await one(harness, "/language", **UK)
    assert "Мова: Українська" in menu.plain
    assert [b["callback_data"] for b in menu.reply_markup["inline_keyboard"][0]] == [
        "lang:en",
        "lang:uk",
    ]
    done = await one(harness, "/language en", **UK)
    assert done.plain == "Done: your language is now English, digests included."
    # The app is still in Ukrainian; the choice wins, and outlives the process's memory.
    assert (await one(harness, "/timeline", **UK)).plain.startswith("Timeline")
    harness.app.bot_data.pop(CACHE_KEY, None)
    assert (await one(harness, "/event 999999", **UK)).plain.startswith("There is no entry")

    pressed = await harness.press(menu, "lang:uk", language_code="uk")
    assert pressed[-1].plain == "Готово: ваша мова тепер — Українська, разом із дайджестами."
    assert (await one(harness, "/timeline")).plain.startswith("Хронологія")

    refused = await one(harness, "/language klingon")
    assert refused.plain.startswith("Я не розмовляю мовою «klingon»")


async def test_a_group_gets_the_language_its_admin_chose(
    harness: BotHarness, fake_api: FakeBotAPI
) -> None:
    group = {"chat_id": DEFAULT_GROUP_ID, "chat_type": "group"}
    admin, member = USER_ID, USER_ID + 1
    fake_api.chat_members[(DEFAULT_GROUP_ID, admin)] = "administrator"

    refused = await one(harness, "/language uk", user_id=member, **group)
    assert refused.plain == "Only this group's admins can change its language."
    assert (await one(harness, "/timeline", user_id=member, **group)).plain.startswith("Timeline")

    chosen = await one(harness, "/language uk", user_id=admin, **group)
    assert chosen.plain.startswith("Готово: мова цього чату тепер — Українська")
    # Everyone in the group now reads Ukrainian, whatever their app's language.
    reply = await one(harness, "/timeline", user_id=member, **group)
    assert reply.plain.startswith("Хронологія")
    # A member's tap on the buttons is refused too, politely, and changes nothing.
    menu = await one(harness, "/language", user_id=member, **group)
    await harness.press(menu, "lang:en", user_id=member)
    assert (
        fake_api.callback_answers[-1].text
        == "Змінити мову цієї групи можуть лише її адміністратори."
    )
    assert (await one(harness, "/timeline", user_id=member, **group)).plain.startswith(
        "Хронологія"
    )


async def test_a_moderator_may_choose_a_groups_language(harness: BotHarness) -> None:
    group = {"chat_id": DEFAULT_GROUP_ID, "chat_type": "group"}
    chosen = await one(harness, "/language uk", user_id=OWNER_ID, **group)
    assert chosen.plain.startswith("Готово")


async def test_the_menu_is_published_in_both_languages(
    harness: BotHarness, fake_api: FakeBotAPI
) -> None:
    default = {c["command"]: c["description"] for c in fake_api.my_commands["default"]}
    ukrainian = {c["command"]: c["description"] for c in fake_api.my_commands["default:uk"]}
    assert default.keys() == ukrainian.keys()
    assert "language" in default
    assert default["timeline"] == "Dated events, oldest first"
    assert ukrainian["timeline"] == "Події з датами, від найдавніших"


async def test_long_ukrainian_replies_are_split_within_the_limit(
    harness: BotHarness, engine: Engine
) -> None:
    grow(engine, events=300, actors=400, sources=120)
    for command in ("/who", "/sources", "/who Actor", "/search event", "/event 7"):
        replies = await harness.send(command, **UK)
        assert replies, command
        # Valid HTML within the limit is checked on every call by the fake (and above).
        assert all(utf16_len(r.plain) <= 4096 for r in replies), command
    many = await harness.send("/who", **UK)
    assert "… і ще" in many[-1].plain or len(many) > 1


def _first_id(message: SentMessage) -> str:
    first = message.reply_markup["inline_keyboard"][0][0]["callback_data"]
    return str(first).partition(":")[2]
