"""Moderators read the bot in their own language too, end to end through the strict fake Bot
API: a moderator whose Telegram app is in Ukrainian gets Ukrainian curation replies, errors,
history, review buttons and command menu; the audit trail stays English; every reply is valid
Telegram HTML within 4,096 characters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine

from knowledge.models import Moderator
from knowledge.storage.database import session_scope
from tests.conftest import MODERATOR_ID, OWNER_ID, USER_ID
from tests.fakebotapi import FakeBotAPI, SentMessage, utf16_len
from tests.harness import BotHarness
from tests.test_moderation import audit_of, counts, event_id, text_of
from tests.test_propose_e2e import ENGLISH, SOURCE

UK = {"language_code": "uk"}


pytestmark = pytest.mark.usefixtures("telegram_accepted_everything")


@pytest.fixture
async def bot(fake_api: FakeBotAPI, engine: Engine) -> AsyncIterator[BotHarness]:
    """One owner and one moderator, whose app is in Ukrainian in these tests."""
    with session_scope(engine) as session:
        session.add(Moderator(user_id=MODERATOR_ID, added_by=OWNER_ID, name="Mo"))
    async with BotHarness(fake_api, engine, admin_ids={OWNER_ID}) as harness:
        yield harness


async def mod(bot: BotHarness, text: str, **kwargs: object) -> list[SentMessage]:
    """The Ukrainian-speaking moderator says something in their private chat."""
    return await bot.send(text, chat_id=MODERATOR_ID, **UK, **kwargs)  # type: ignore[arg-type]


async def test_curation_answers_a_ukrainian_moderator_in_ukrainian(
    bot: BotHarness, engine: Engine
) -> None:
    help_text = text_of(await mod(bot, "/modhelp"))
    assert help_text.startswith("<b>Команди модератора</b>")
    assert "Moderator commands" not in help_text

    eid = event_id(engine, "vilnius-summit-2023")
    edited = text_of(await mod(bot, f"/edit {eid} | summary | Переписаний підсумок."))
    assert edited.startswith(f"✅ Змінено <b>#{eid}</b>: summary.")

    retracted = text_of(await mod(bot, f"/retract {eid} | дубль"))
    assert retracted.startswith(f"✅ Відкликано <b>#{eid}</b>.")
    again = (await mod(bot, f"/retract {eid} | ще раз"))[0]
    assert again.plain == f"⚠️ #{eid} уже відкликано. Нічого не змінено."

    history = (await mod(bot, f"/history {eid}"))[0].plain
    assert history.startswith(f"Історія #{eid} · ")
    assert "3 редакції" in history  # created, edited, retracted: Ukrainian's "few" form
    assert " UTC · відкликання · Tester (1002)" in history
    assert " UTC · редагування · Tester (1002)" in history

    unknown = (await mod(bot, "/edit 999999 | title | X"))[0]
    assert unknown.plain == "⚠️ Запису #999999 немає. Нічого не змінено."
    usage = (await mod(bot, f"/edit {eid} | title"))[0]
    assert usage.plain.startswith(
        "⚠️ Очікувалося частин, розділених |: 3, а отримано 2. Нічого не змінено.\n"
        "Як користуватися: /edit"
    )
    # The audit trail is a record for owners, not a message: it stays English.
    assert audit_of(engine, MODERATOR_ID)[-1].outcome.startswith("invalid: expected 3 parts")


async def test_refusals_and_the_english_moderator_are_unchanged(
    bot: BotHarness, engine: Engine
) -> None:
    eid = event_id(engine, "vilnius-summit-2023")
    before = counts(engine)
    refused = await bot.send(f"/retract {eid} | ні", chat_id=USER_ID, **UK)
    assert [m.plain for m in refused] == ["Ця команда — для модераторів."]
    owners = await bot.send("/audit", chat_id=MODERATOR_ID, **UK)
    assert [m.plain for m in owners] == ["Ця команда — для власників."]
    assert counts(engine) == before
    english = await bot.send(f"/history {eid}", chat_id=OWNER_ID)
    assert english[0].plain.startswith(f"History of #{eid} · ")


async def test_gaps_and_an_import_error_in_ukrainian(bot: BotHarness, engine: Engine) -> None:
    await bot.send("Яка погода в Києві?", chat_id=USER_ID, **UK)
    (gaps,) = await mod(bot, "/gaps")
    assert gaps.plain.startswith("Питання, на які бот не відповів (за останні 90 днів")
    assert "1× яка погода в києві" in gaps.plain

    broken = (
        "sources:\n"
        "  - slug: wire\n    name: Wire\n    kind: news_outlet\n"
        "events:\n"
        "  - slug: bad\n    date: '2024-02-30'\n    title: Bad\n    citations: [{source: wire}]\n"
    )
    before = counts(engine)
    document = bot.fake.add_file("broken", broken.encode(), "broken.yaml", "text/yaml")
    (error,) = await mod(bot, "/import", document=document)
    assert error.plain.startswith("⚠️ Нічого не імпортовано: у файлі 1 проблема.")
    assert "broken.yaml:" in error.plain  # the file's own diagnostics name the line
    assert counts(engine) == before
    (usage,) = await mod(bot, "/import")
    assert usage.plain.startswith("Надішліть файл YAML")


async def test_proposals_are_reviewed_with_ukrainian_buttons(bot: BotHarness) -> None:
    replies = await mod(bot, f"/propose source: {SOURCE}\n{ENGLISH}")
    summary = replies[0]
    assert "запропонован" in summary.plain and "Кожна картка" in summary.plain
    assert [b["text"] for b in summary.buttons] == ["✅ Схвалити всі"]
    cards = [m for m in replies if m.plain.startswith("Пропозиція ")]
    assert cards
    card = next(c for c in cards if "Дата: " in c.plain and "у тексті без дати" not in c.plain)
    assert "Назва: " in card.plain and "Дійові особи: " in card.plain
    assert [b["text"] for b in card.buttons] == ["✅ Схвалити", "✏️ Змінити", "✖ Відхилити"]
    number = card.plain.split()[1]
    fields = await bot.press(card, f"pp:e:{number}", user_id=MODERATOR_ID, language_code="uk")
    assert fields[-1].plain.endswith(f"Яке поле пропозиції {number} ви хочете змінити?")
    rejected = await bot.press(card, f"pp:r:{number}", user_id=MODERATOR_ID, language_code="uk")
    assert rejected[-1].plain == f"✖ Пропозицію {number} відхилено."


async def test_a_long_ukrainian_history_pages_within_telegrams_limit(
    bot: BotHarness, engine: Engine
) -> None:
    eid = event_id(engine, "vilnius-summit-2023")
    for n in range(12):
        await mod(
            bot, f"/edit {eid} | summary | {'Довгий підсумок із багатьма словами. ' * 50}{n}"
        )
    pages = await mod(bot, f"/history {eid}")
    assert "13 редакцій" in pages[0].plain  # and the "many" form
    assert all(utf16_len(page.plain) <= 4096 for page in pages)
    last = pages[-1]
    assert [b["callback_data"] for b in last.buttons] == ["noop", f"mh:{eid}:10"]
    await bot.press(last, f"mh:{eid}:10", user_id=MODERATOR_ID, language_code="uk")
    shown = bot.fake.get_message(MODERATOR_ID, last.message_id).plain
    assert shown.startswith(f"Історія #{eid} · ") and " UTC · редагування · " in shown
    assert "частина" not in shown  # one message, edited in place


async def test_the_moderators_menu_is_published_in_their_language(
    bot: BotHarness, fake_api: FakeBotAPI
) -> None:
    scope = {"type": "chat", "chat_id": MODERATOR_ID}

    def descriptions(language_code: str = "") -> dict[str, str]:
        commands = fake_api.commands_for(scope, language_code) or []
        return {c["command"]: c["description"] for c in commands}

    assert descriptions()["add"] == "Add an entry step by step"
    assert descriptions("uk")["add"] == "Додати запис крок за кроком"
    assert descriptions("uk")["timeline"] != descriptions()["timeline"]
    # Choosing a language in the private chat moves every variant of the menu to it.
    await bot.send("/language en", chat_id=MODERATOR_ID, language_code="uk")
    assert descriptions("uk")["add"] == "Add an entry step by step"
    await bot.send("/language uk", chat_id=MODERATOR_ID)
    assert descriptions()["modhelp"] == "Усі команди модератора"


async def test_the_guided_add_asks_in_ukrainian(bot: BotHarness, engine: Engine) -> None:
    before = counts(engine)
    (start,) = await mod(bot, "/add")
    assert start.plain.startswith("Що ви хочете додати?")
    assert [b["text"] for b in start.buttons] == ["🗓 Подія", "👤 Дійова особа", "📚 Джерело",
                                                  "✖ Скасувати"]  # fmt: skip
    asked = await bot.press(start, "add:k:event", user_id=MODERATOR_ID, language_code="uk")
    assert asked[-1].plain == "1/5 Дата: YYYY, YYYY-MM або YYYY-MM-DD"
    (retry,) = await mod(bot, "2024-02-30")
    assert retry.plain.startswith("⚠️ Дата: лютий 2024 має 29 дн., а не 30. Спробуйте ще раз.")
    assert retry.plain.endswith("Спробуйте ще раз.\n1/5 Дата: YYYY, YYYY-MM або YYYY-MM-DD")
    (title,) = await mod(bot, "2024-02-10")
    assert title.plain == "2/5 Назва (до 200 символів)"
    (cancelled,) = await mod(bot, "/cancel")
    assert cancelled.plain == "Скасовано. Нічого не збережено."
    assert counts(engine) == before


async def test_digest_preview_channels_and_translation_errors_in_ukrainian(
    bot: BotHarness, engine: Engine
) -> None:
    eid = event_id(engine, "vilnius-summit-2023")
    await mod(bot, f"/edit {eid} | summary | Переписано для перегляду.")
    intro, *digest = await mod(bot, "/digest preview")
    assert intro.plain == ("У вас немає підписки, тож тут зміни за останні 7 днів, без фільтра.")
    assert "📰 Попередній перегляд дайджесту\n" in digest[0].plain
    assert all(utf16_len(part.plain) <= 4096 for part in digest)
    (usage,) = await mod(bot, "/digest")
    assert usage.plain.startswith("/digest preview — що міститиме ваш наступний дайджест")
    (channels,) = await mod(bot, "/channels")
    assert channels.plain.startswith("Жоден канал не отримує дайджестів.")
    (not_one,) = await mod(bot, "/channel remove -100123")
    assert not_one.plain == "Канал -100123 не отримує дайджестів. /channels — перелік каналів."
    (wrong,) = await mod(bot, f"/edit {eid} | title.fr | Titre")
    assert wrong.plain.startswith(f"⚠️ #{eid} — подія: «fr» — не мова, якою перекладають записи")
    assert wrong.plain.endswith("Нічого не змінено.")


async def test_review_in_ukrainian_and_the_authors_notice_in_their_language(
    fake_api: FakeBotAPI, engine: Engine
) -> None:
    with session_scope(engine) as session:
        session.add(Moderator(user_id=MODERATOR_ID, added_by=OWNER_ID, name="Mo"))
    async with BotHarness(fake_api, engine, admin_ids={OWNER_ID}, review_required=True) as bot:
        await mod(bot, "/language uk")  # remembered: the notice below has no update to read
        (draft,) = await mod(bot, "/add_event 2024-04-04 | Чернетка | S | Public record")
        assert draft.plain.startswith("📝 Збережено як чернетку ")
        number = draft.plain.split()[4]
        (own,) = await mod(bot, f"/approve {number}")
        assert own.plain.startswith("⚠️ Не можна схвалити власну чернетку")
        (pending,) = await mod(bot, "/pending")
        assert pending.plain.startswith("Чернетки, що чекають на перевірку · 1")
        assert f"чернетка {number} · додати: подія «Чернетка»" in pending.plain
        approved = await bot.send(f"/approve {number}", chat_id=OWNER_ID)
        assert f"(draft {number} approved)" in approved[0].plain  # the owner's app: English
        notice = fake_api.messages_to(MODERATOR_ID)[-1]
        assert notice.plain.startswith(f"✅ Вашу чернетку {number} схвалив(ла) ")
