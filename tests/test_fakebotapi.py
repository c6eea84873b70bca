"""Tests for the strict fake Telegram Bot API server (tests/fakebotapi/).

Every API test drives the fake with the real python-telegram-bot ``Bot``/``Application``
over HTTP on 127.0.0.1. Nothing sleeps: waiting is done with ``fake.wait_for``.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import re
import socket
import warnings
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager

import pytest
import pytest_asyncio
from aiohttp import ClientSession, web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

try:
    from tests.fakebotapi import (
        DEFAULT_CHANNEL_ID,
        NOT_MODIFIED,
        FakeBotAPI,
        TelegramHTMLError,
        make_callback_update,
        make_chat,
        make_inline_query_update,
        make_message_update,
        parse_telegram_html,
        utf16_len,
    )
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from fakebotapi import (  # type: ignore[no-redef]
        DEFAULT_CHANNEL_ID,
        NOT_MODIFIED,
        FakeBotAPI,
        TelegramHTMLError,
        make_callback_update,
        make_chat,
        make_inline_query_update,
        make_message_update,
        parse_telegram_html,
        utf16_len,
    )

TOKEN = "123456:TEST-TOKEN"
CHAT = 4242
OTHER_CHAT = 4343
GROUP = -1001234567890


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN, bot_username="briefing_test_bot") as server:
        yield server


@pytest_asyncio.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(
        TOKEN, base_url=f"{fake.url}/bot", base_file_url=f"{fake.url}/file/bot"
    ) as client:
        yield client


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB deprecates the int form of retry_after
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _bad_request(fragment: str) -> AbstractContextManager[pytest.ExceptionInfo[BadRequest]]:
    """PTB strips "Bad Request: " and lower-cases the rest, so match case-insensitively."""
    return pytest.raises(BadRequest, match=f"(?i){re.escape(fragment)}")


def _keyboard(callback_data: str = "more") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data=callback_data)]])


# --------------------------------------------------------------------------- parser


def test_parse_nested_tags_and_utf16_offsets() -> None:
    plain, entities = parse_telegram_html("😀 <b>bold <i>both</i></b> plain")
    assert plain == "😀 bold both plain"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 9},
        {"type": "italic", "offset": 8, "length": 4},
    ]


def test_parse_supported_character_references() -> None:
    plain, entities = parse_telegram_html("&lt;tag&gt; &amp; &quot;q&quot; &#65;&#x42;")
    assert plain == '<tag> & "q" AB'
    assert entities == []


@pytest.mark.parametrize("text", ["&foo;", "AT&T", "&amp", "&#;", "&#xZZ;"])
def test_parse_rejects_bad_ampersand(text: str) -> None:
    with pytest.raises(TelegramHTMLError, match='Character "&"') as info:
        parse_telegram_html(text)
    assert info.value.description.startswith("Bad Request: can't parse entities: ")


def test_parse_lenient_ampersand_mode_keeps_literal() -> None:
    assert parse_telegram_html("AT&T", strict_ampersand=False) == ("AT&T", [])


def test_parse_stray_less_than() -> None:
    with pytest.raises(TelegramHTMLError, match='Unsupported start tag "" at byte offset 2'):
        parse_telegram_html("1 < 2")
    with pytest.raises(TelegramHTMLError, match="Unclosed start tag at byte offset 4"):
        parse_telegram_html("1 2 <")


def test_parse_unsupported_tag_reports_byte_offset() -> None:
    with pytest.raises(TelegramHTMLError, match='Unsupported start tag "foo" at byte offset 2'):
        parse_telegram_html("é<foo>x</foo>")
    with pytest.raises(TelegramHTMLError, match='Unsupported start tag "br/" at byte offset 1'):
        parse_telegram_html("a<br/>b")


def test_parse_mismatched_and_unclosed_tags() -> None:
    with pytest.raises(
        TelegramHTMLError,
        match='Unmatched end tag at byte offset 7, expected "</i>", found "</b>"',
    ):
        parse_telegram_html("<b><i>x</b></i>")
    with pytest.raises(
        TelegramHTMLError, match='Can\'t find end tag corresponding to start tag "b"'
    ):
        parse_telegram_html("<b>x")
    with pytest.raises(TelegramHTMLError, match="Unexpected end tag at byte offset 1"):
        parse_telegram_html("x</b>")


def test_parse_links() -> None:
    plain, entities = parse_telegram_html(
        '<a href="https://example.com/?a=1&amp;b=2">link</a> and '
        "<a href='tg://user?id=42'>Bob</a>"
    )
    assert plain == "link and Bob"
    assert entities[0] == {
        "type": "text_link",
        "offset": 0,
        "length": 4,
        "url": "https://example.com/?a=1&b=2",
    }
    assert entities[1]["type"] == "text_mention"
    assert entities[1]["user"]["id"] == 42
    with pytest.raises(TelegramHTMLError, match='Tag "a" must have a non-empty "href"'):
        parse_telegram_html("<a>https://example.com</a>")


def test_parse_pre_code_spoiler_blockquote_emoji() -> None:
    plain, entities = parse_telegram_html(
        '<pre><code class="language-python">x = 1</code></pre>'
        '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>'
        "<blockquote expandable>q</blockquote><code>c</code>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    assert plain == "x = 1stqc👍"
    assert entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "spoiler", "offset": 5, "length": 1},
        {"type": "spoiler", "offset": 6, "length": 1},
        {"type": "expandable_blockquote", "offset": 7, "length": 1},
        {"type": "code", "offset": 8, "length": 1},
        {
            "type": "custom_emoji",
            "offset": 9,
            "length": 2,
            "custom_emoji_id": "5368324170671202286",
        },
    ]
    with pytest.raises(TelegramHTMLError, match='Tag "span" must have class "tg-spoiler"'):
        parse_telegram_html("<span>x</span>")
    with pytest.raises(TelegramHTMLError, match="Invalid custom emoji identifier"):
        parse_telegram_html('<tg-emoji emoji-id="abc">x</tg-emoji>')


def test_utf16_len_counts_surrogate_pairs() -> None:
    assert utf16_len("a😀é") == 4


# --------------------------------------------------------------------------- sending


async def test_get_me_shape(fake: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot
    assert me.username == "briefing_test_bot"
    assert me.first_name == "Briefing Bot"
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is True
    assert fake.calls_of("getme")[0].ok


async def test_send_valid_html(fake: FakeBotAPI, bot: Bot) -> None:
    message = await bot.send_message(
        CHAT,
        "  <b>Morning</b> &amp; <i>news</i>  ",
        parse_mode=ParseMode.HTML,
        reply_markup=_keyboard(),
    )
    assert message.text == "Morning & news"
    assert message.from_user is not None
    assert message.from_user.id == fake.bot_id
    assert message.chat.type == "private"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 7),
        ("italic", 10, 4),
    ]
    assert message.reply_markup == _keyboard()
    [sent] = fake.messages_to(CHAT)
    assert sent.plain == "Morning & news"
    assert sent.text == "  <b>Morning</b> &amp; <i>news</i>  "
    assert sent.parse_mode == "HTML"
    assert sent.kind == "text"
    assert sent.button("More")["callback_data"] == "more"
    call = fake.calls_of("sendMessage")[0]
    assert call.params["chat_id"] == CHAT  # form strings are normalised
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "More"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("1 < 2", 'Unsupported start tag ""'),
        ("Q&A", 'Character "&"'),
    ],
)
async def test_malformed_html_is_rejected(
    fake: FakeBotAPI, bot: Bot, text: str, fragment: str
) -> None:
    with _bad_request("can't parse entities") as info:
        await bot.send_message(CHAT, text, parse_mode=ParseMode.HTML)
    assert info.value.message.startswith("Can't parse entities")
    assert fake.sent == []
    call = fake.calls_of("sendMessage")[-1]
    assert call.status == 400
    assert call.description is not None
    assert call.description.startswith("Bad Request: can't parse entities: ")
    assert fragment in call.description


async def test_markdown_is_rejected(bot: Bot) -> None:
    with _bad_request("only implements HTML"):
        await bot.send_message(CHAT, "*x*", parse_mode=ParseMode.MARKDOWN_V2)


async def test_plain_text_needs_no_escaping(fake: FakeBotAPI, bot: Bot) -> None:
    message = await bot.send_message(CHAT, "1 < 2 & <b>")
    assert message.text == "1 < 2 & <b>"


async def test_length_limits_after_parsing(fake: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(CHAT, "a" * 4096)
    await bot.send_message(CHAT, "<b>" + "a" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    await bot.send_message(CHAT, "&amp;" * 4096, parse_mode=ParseMode.HTML)
    await bot.send_message(CHAT, "😀" * 2048)
    for too_long in ("a" * 4097, "😀" * 2049):
        with _bad_request("Message is too long"):
            await bot.send_message(CHAT, too_long)
    with _bad_request("Message is too long"):
        await bot.send_message(CHAT, "<b>" + "a" * 4097 + "</b>", parse_mode=ParseMode.HTML)
    assert len(fake.messages_to(CHAT)) == 4


async def test_empty_text_is_rejected(bot: Bot) -> None:
    with _bad_request("Message text is empty"):
        await bot.send_message(CHAT, "<b></b>", parse_mode=ParseMode.HTML)
    with _bad_request("Message text is empty"):
        await bot.send_message(CHAT, " \n ")


async def test_callback_data_limit_in_bytes(fake: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(CHAT, "ok", reply_markup=_keyboard("x" * 64))
    for data in ("x" * 65, "é" * 33):
        with _bad_request("Button_data_invalid"):
            await bot.send_message(CHAT, "too long", reply_markup=_keyboard(data))
    assert len(fake.sent) == 1


async def test_other_keyboard_validation(bot: Bot) -> None:
    bad_url = InlineKeyboardMarkup([[InlineKeyboardButton("Site", url="ftp://example.com")]])
    with _bad_request("Button_url_invalid"):
        await bot.send_message(CHAT, "x", reply_markup=bad_url)
    text_only = InlineKeyboardMarkup([[InlineKeyboardButton("Just text")]])
    with _bad_request("Text buttons are unallowed"):
        await bot.send_message(CHAT, "x", reply_markup=text_only)
    too_many = InlineKeyboardMarkup(
        [[InlineKeyboardButton(str(i), callback_data=str(i)) for i in range(101)]]
    )
    with _bad_request("Buttons_too_much"):
        await bot.send_message(CHAT, "x", reply_markup=too_many)
    fine = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Site", url="https://example.com")],
            [InlineKeyboardButton("Search", switch_inline_query_current_chat="")],
        ]
    )
    await bot.send_message(CHAT, "x", reply_markup=fine)


async def test_reply_to_unknown_message(fake: FakeBotAPI, bot: Bot) -> None:
    with _bad_request("Message to be replied not found"):
        await bot.send_message(CHAT, "x", reply_parameters=ReplyParameters(999))
    incoming = fake.make_message_update("question", chat_id=CHAT, user_id=CHAT)
    fake.push_update(incoming)
    message_id = incoming["message"]["message_id"]
    reply = await bot.send_message(CHAT, "answer", reply_parameters=ReplyParameters(message_id))
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "question"
    assert reply.message_id == message_id + 1  # ids are shared per chat, like Telegram


async def test_module_level_factories_work_without_pushing(fake: FakeBotAPI, bot: Bot) -> None:
    # Updates built by module-level factories can be fed to Application.process_update
    # directly; the fake still knows their messages and query ids.
    incoming = make_message_update("hi", chat_id=GROUP, user_id=5, chat_type="supergroup")
    parsed = Update.de_json(incoming, bot)
    assert parsed.message is not None
    reply = await parsed.message.reply_text("hello", do_quote=True)
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == parsed.message.message_id
    assert reply.chat.type == "supergroup"
    shown = await bot.send_message(GROUP, "pick", reply_markup=_keyboard())
    press = make_callback_update("more", fake.get_message(GROUP, shown.message_id), user_id=5)
    callback = Update.de_json(press, bot).callback_query
    assert callback is not None
    assert await callback.answer()
    with _bad_request("query is too old"):
        await callback.answer()
    inline = Update.de_json(make_inline_query_update("q"), bot).inline_query
    assert inline is not None
    assert await inline.answer([])
    assert fake.inline_answers[-1]["results"] == []
    assert fake.inline_answers[-1].inline_query_id == inline.id


async def test_push_update_keeps_ids_increasing(fake: FakeBotAPI, bot: Bot) -> None:
    first = fake.push_update({"message": make_message_update("a")["message"]})
    late = make_message_update("b")
    early = make_message_update("c")
    fake.push_update(early)
    fake.push_update(late)  # created first, pushed last: renumbered
    assert first["update_id"] < early["update_id"] < late["update_id"]
    assert [u.message.text for u in await bot.get_updates() if u.message] == ["a", "c", "b"]


# --------------------------------------------------------------------------- faults


async def test_injected_429_raises_retry_after(fake: FakeBotAPI, bot: Bot) -> None:
    fake.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(CHAT, "x")
    assert _retry_seconds(info.value) == 7
    assert fake.calls[-1].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    await bot.send_message(CHAT, "x")  # only the next call failed


async def test_injected_server_errors(fake: FakeBotAPI, bot: Bot) -> None:
    fake.fail_next("sendMessage", status=500)
    fake.fail_next("sendMessage", status=502)
    fake.fail_next("sendMessage", status=400, description="Bad Request: custom failure")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(CHAT, "x")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(CHAT, "x")
    with _bad_request("Custom failure"):
        await bot.send_message(CHAT, "x")
    fake.fail_next("*", status=429, retry_after=1, times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter):
            await bot.get_me()
    await bot.send_message(CHAT, "x")
    assert [c.status for c in fake.calls_of("sendMessage")] == [500, 502, 400, 200]


async def test_blocked_chat_raises_forbidden(fake: FakeBotAPI, bot: Bot) -> None:
    fake.blocked_chats.add(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "x")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(CHAT, "typing")
    await bot.send_message(OTHER_CHAT, "x")
    assert [m.chat_id for m in fake.sent] == [OTHER_CHAT]


async def test_migrated_chat_raises_chat_migrated(fake: FakeBotAPI, bot: Bot) -> None:
    fake.migrated_chats[-4001] = GROUP
    with pytest.raises(ChatMigrated) as info:
        await bot.send_message(-4001, "x")
    assert info.value.new_chat_id == GROUP
    message = await bot.send_message(GROUP, "x")
    assert message.chat.type == "supergroup"


async def test_flood_limit_per_chat(fake: FakeBotAPI, bot: Bot) -> None:
    fake.flood_limit_per_chat_per_second = 2
    await bot.send_message(CHAT, "1")
    await bot.send_message(CHAT, "2")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(CHAT, "3")
    assert _retry_seconds(info.value) >= 1
    await bot.send_message(OTHER_CHAT, "other chat is independent")


async def test_wrong_token_is_rejected(fake: FakeBotAPI) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=f"{fake.url}/bot"):
            pass
    call = fake.calls_of("getMe")[-1]
    assert call.response == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_unknown_method(fake: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendHologram", api_kwargs={"chat_id": CHAT})
    assert fake.calls[-1].response == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method not found",
    }


async def test_raw_json_requests(fake: FakeBotAPI) -> None:
    async with ClientSession() as session:
        async with session.post(
            f"{fake.url}/bot{TOKEN}/SENDMESSAGE",
            json={"chat_id": str(CHAT), "text": "<b>x</b>", "parse_mode": "html"},
        ) as response:
            body = await response.json()
        assert response.status == 200
        assert body["ok"] is True
        assert body["result"]["text"] == "x"
        assert body["result"]["entities"] == [{"type": "bold", "offset": 0, "length": 1}]
        assert body["result"]["from"]["is_bot"] is True
        assert isinstance(body["result"]["date"], int)
        async with session.post(f"{fake.url}/botWRONG/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with session.post(f"{fake.url}/bot{TOKEN}/nope", json={}) as response:
            assert response.status == 404
        async with session.post(f"{fake.url}/bot{TOKEN}/sendMessage", json={}) as response:
            assert (await response.json())["description"] == "Bad Request: chat_id is empty"
    assert fake.calls_of("sendmessage")[0].method == "sendMessage"


# --------------------------------------------------------------------------- edits & callbacks


async def test_edit_message_text(fake: FakeBotAPI, bot: Bot) -> None:
    message = await bot.send_message(
        CHAT, "<b>v1</b>", parse_mode=ParseMode.HTML, reply_markup=_keyboard()
    )
    with _bad_request("Message is not modified") as info:
        await bot.edit_message_text(
            "<strong>v1</strong>",
            CHAT,
            message.message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=_keyboard(),
        )
    assert fake.calls[-1].description == NOT_MODIFIED
    assert "exactly the same" in info.value.message
    edited = await bot.edit_message_text(
        "<b>v2</b>", CHAT, message.message_id, parse_mode=ParseMode.HTML, reply_markup=_keyboard()
    )
    assert isinstance(edited, type(message))
    assert edited.text == "v2"
    assert edited.edit_date is not None
    stored = fake.get_message(CHAT, message.message_id)
    assert stored.plain == "v2"
    assert stored.text == "<b>v2</b>"
    assert fake.edits[-1].previous_plain == "v1"
    # Omitting reply_markup removes the keyboard, like Telegram.
    await bot.edit_message_text("<b>v2</b>", CHAT, message.message_id, parse_mode="HTML")
    assert stored.reply_markup is None
    with _bad_request("Message is not modified"):
        await bot.edit_message_reply_markup(CHAT, message.message_id)
    await bot.edit_message_reply_markup(CHAT, message.message_id, reply_markup=_keyboard("x"))
    assert stored.button("More")["callback_data"] == "x"
    assert [e.method for e in fake.edits] == [
        "editMessageText",
        "editMessageText",
        "editMessageReplyMarkup",
    ]
    with _bad_request("Message to edit not found"):
        await bot.edit_message_text("x", CHAT, 999)
    with _bad_request("can't parse entities"):
        await bot.edit_message_text("<b>x", CHAT, message.message_id, parse_mode="HTML")


async def test_delete_message(fake: FakeBotAPI, bot: Bot) -> None:
    message = await bot.send_message(CHAT, "bye")
    assert await bot.delete_message(CHAT, message.message_id)
    assert fake.get_message(CHAT, message.message_id).deleted
    assert fake.messages_to(CHAT) == [fake.get_message(CHAT, message.message_id)]
    assert fake.messages_to(CHAT, include_deleted=False) == []
    assert fake.deleted_messages == [(CHAT, message.message_id)]
    with _bad_request("Message to delete not found"):
        await bot.delete_message(CHAT, message.message_id)


async def test_answer_callback_query(fake: FakeBotAPI, bot: Bot) -> None:
    with _bad_request("Query is too old"):
        await bot.answer_callback_query("unknown")
    message = await bot.send_message(CHAT, "pick", reply_markup=_keyboard())
    update = fake.make_callback_update("more", fake.last_message(CHAT), user_id=CHAT)
    query_id = update["callback_query"]["id"]
    parsed = Update.de_json(update, bot)
    assert parsed.callback_query is not None
    assert parsed.callback_query.message is not None
    assert parsed.callback_query.message.message_id == message.message_id
    with _bad_request("Message_too_long"):
        await bot.answer_callback_query(query_id, text="x" * 201)
    assert await bot.answer_callback_query(query_id, text="Done", show_alert=True)
    assert fake.callback_answers[0].text == "Done"
    assert fake.callback_answers[0].show_alert is True
    with _bad_request("Query is too old"):
        await bot.answer_callback_query(query_id)


async def test_answer_inline_query(fake: FakeBotAPI, bot: Bot) -> None:
    def article(result_id: str, text: str) -> InlineQueryResultArticle:
        return InlineQueryResultArticle(
            result_id, "Title", InputTextMessageContent(text, parse_mode=ParseMode.HTML)
        )

    query_id = fake.make_inline_query_update("news")["inline_query"]["id"]
    with _bad_request("can't parse entities"):
        await bot.answer_inline_query(query_id, [article("1", "<b>broken")])
    with _bad_request("Result_id_duplicate"):
        await bot.answer_inline_query(query_id, [article("1", "a"), article("1", "b")])
    assert await bot.answer_inline_query(query_id, [article("1", "<b>ok</b>")], cache_time=0)
    [answer] = fake.inline_answers
    assert answer.inline_query_id == query_id
    assert answer.results[0]["input_message_content"]["message_text"] == "<b>ok</b>"
    with _bad_request("Query is too old"):
        await bot.answer_inline_query(query_id, [])
    with _bad_request("Query is too old"):
        await bot.answer_inline_query("made-up", [])


# --------------------------------------------------------------------------- commands


async def test_set_my_commands(fake: FakeBotAPI, bot: Bot) -> None:
    for bad in ("Start", "bad-name", "x" * 33, ""):
        with _bad_request("Bot_command_invalid"):
            await bot.set_my_commands([BotCommand(bad, "Description")])
    with _bad_request("Bot_command_description_invalid"):
        await bot.set_my_commands([BotCommand("start", "")])
    await bot.set_my_commands([("start", "Start"), ("help", "Help")])
    assert fake.my_commands["default"] == [
        {"command": "start", "description": "Start"},
        {"command": "help", "description": "Help"},
    ]
    scope = BotCommandScopeChat(CHAT)
    await bot.set_my_commands([("admin", "Admin only")], scope=scope)
    assert fake.commands_for({"type": "chat", "chat_id": CHAT}) == [
        {"command": "admin", "description": "Admin only"}
    ]
    assert json.dumps({"chat_id": CHAT, "type": "chat"}, separators=(",", ":")) in fake.my_commands
    assert [c.command for c in await bot.get_my_commands(scope=scope)] == ["admin"]
    assert await bot.delete_my_commands(scope=scope)
    assert await bot.get_my_commands(scope=scope) == ()
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    await bot.set_my_description("Daily briefing")
    await bot.set_my_short_description("Briefings")
    assert fake.my_descriptions[""] == "Daily briefing"


# --------------------------------------------------------------------------- updates


async def test_get_updates_long_poll_returns_pushed_update(fake: FakeBotAPI, bot: Bot) -> None:
    task = asyncio.create_task(bot.get_updates(timeout=30))
    await fake.wait_for(lambda f: f.pending_long_polls == 1)
    pushed = fake.push_update(fake.make_message_update("hello", chat_id=CHAT, user_id=CHAT))
    updates = await asyncio.wait_for(task, 5)
    assert [u.update_id for u in updates] == [pushed["update_id"]]
    assert updates[0].message is not None
    assert updates[0].message.text == "hello"
    # Not confirmed yet: returned again; then confirmed via offset.
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [pushed["update_id"]]
    assert await bot.get_updates(offset=pushed["update_id"] + 1, timeout=0) == ()
    assert fake.pending_updates == []


async def test_get_updates_limit_and_allowed_updates(fake: FakeBotAPI, bot: Bot) -> None:
    for text in ("a", "b", "c"):
        fake.push_update(fake.make_message_update(text, chat_id=CHAT, user_id=CHAT))
    inline = fake.push_update(fake.make_inline_query_update("q"))
    assert [u.message.text for u in await bot.get_updates(limit=2) if u.message] == ["a", "b"]
    only_inline = await bot.get_updates(allowed_updates=["inline_query"])
    assert [u.update_id for u in only_inline] == [inline["update_id"]]
    assert fake.allowed_updates == ["inline_query"]


async def test_command_entity_added_by_factory() -> None:
    update = make_message_update("/start@briefing_test_bot now", chat_type="group")
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 24}]
    assert update["message"]["chat"]["type"] == "group"
    assert "entities" not in make_message_update("hello")["message"]


async def test_real_application_polling_roundtrip(fake: FakeBotAPI) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_html(
            "<b>Hello</b>, &lt;friend&gt;", reply_markup=_keyboard()
        )

    async def more(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("ok")
        await query.edit_message_text("<i>More</i>", parse_mode=ParseMode.HTML)

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{fake.url}/bot")
        .base_file_url(f"{fake.url}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(more))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0)
        await app.start()
        try:
            fake.push_update(fake.make_message_update("/start", chat_id=CHAT, user_id=CHAT))
            [greeting] = await fake.wait_for_messages(CHAT)
            assert greeting.plain == "Hello, <friend>"
            fake.push_update(fake.make_callback_update("more", greeting, user_id=CHAT))
            await fake.wait_for(lambda f: f.edits and f.callback_answers)
            assert greeting.plain == "More"
            assert greeting.reply_markup is None
            assert fake.callback_answers[0].text == "ok"
            fake.push_update(
                fake.make_message_update(
                    "/start@briefing_test_bot", chat_id=GROUP, chat_type="supergroup"
                )
            )
            [group_reply] = await fake.wait_for_messages(GROUP)
            assert group_reply.plain == "Hello, <friend>"
        finally:
            await app.updater.stop()
            await app.stop()
    assert fake.calls_of("deleteWebhook")
    assert all(c.ok for c in fake.calls if c.status is not None)


async def test_wait_for_messages_consumes(fake: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(CHAT, "one")
    await bot.send_message(CHAT, "two")
    assert [m.plain for m in await fake.wait_for_messages(CHAT, count=2)] == ["one", "two"]
    await bot.send_message(CHAT, "three")
    assert [m.plain for m in await fake.wait_for_messages(CHAT)] == ["three"]


async def test_wait_for_timeout_reports_calls(fake: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(CHAT, "only one")
    with pytest.raises(AssertionError, match="sendMessage -> 200"):
        await fake.wait_for(lambda f: len(f.sent) > 1, timeout=0.05)


# --------------------------------------------------------------------------- chats & files


async def test_chat_members_and_chat_info(fake: FakeBotAPI, bot: Bot) -> None:
    fake.chats[DEFAULT_CHANNEL_ID] = make_chat(DEFAULT_CHANNEL_ID, "channel", title="News")
    fake.chat_members[(DEFAULT_CHANNEL_ID, fake.bot_id)] = {
        "status": "administrator",
        "can_post_messages": False,
    }
    fake.chat_members[(DEFAULT_CHANNEL_ID, 7)] = "creator"
    fake.chat_members[(DEFAULT_CHANNEL_ID, 8)] = "left"
    me = await bot.get_chat_member(DEFAULT_CHANNEL_ID, fake.bot_id)
    assert isinstance(me, ChatMemberAdministrator)
    assert me.can_post_messages is False
    assert me.user.id == fake.bot_id
    assert isinstance(await bot.get_chat_member(DEFAULT_CHANNEL_ID, 7), ChatMemberOwner)
    assert isinstance(await bot.get_chat_member(DEFAULT_CHANNEL_ID, 8), ChatMemberLeft)
    assert isinstance(await bot.get_chat_member(DEFAULT_CHANNEL_ID, 9), ChatMemberMember)
    admins = await bot.get_chat_administrators(DEFAULT_CHANNEL_ID)
    assert {a.user.id for a in admins} == {fake.bot_id, 7}
    chat = await bot.get_chat(DEFAULT_CHANNEL_ID)
    assert chat.type == "channel"
    assert chat.title == "News"
    # A my_chat_member update (bot promoted) updates membership like Telegram would.
    fake.push_update(fake.make_my_chat_member_update(DEFAULT_CHANNEL_ID, "administrator"))
    promoted = await bot.get_chat_member(DEFAULT_CHANNEL_ID, fake.bot_id)
    assert isinstance(promoted, ChatMemberAdministrator)
    assert promoted.can_post_messages is True
    with _bad_request("no administrators in the private chat"):
        await bot.get_chat_administrators(CHAT)


async def test_send_document_multipart_and_download(fake: FakeBotAPI, bot: Bot) -> None:
    message = await bot.send_document(
        CHAT,
        document=b"report body",
        filename="report.txt",
        caption="<b>Daily</b> report",
        parse_mode=ParseMode.HTML,
        reply_markup=_keyboard(),
    )
    assert message.document is not None
    assert message.document.file_name == "report.txt"
    assert message.caption == "Daily report"
    sent = fake.last_message(CHAT)
    assert (sent.kind, sent.document, sent.filename) == ("document", b"report body", "report.txt")
    assert sent.plain == "Daily report"
    assert sent.reply_markup == _keyboard().to_dict()
    file = await bot.get_file(message.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"report body"
    with _bad_request("Message caption is too long"):
        await bot.send_document(CHAT, document=b"x", filename="x.txt", caption="c" * 1025)
    with _bad_request("there is no text in the message to edit"):
        await bot.edit_message_text("x", CHAT, message.message_id)


async def test_add_file_and_get_file(fake: FakeBotAPI, bot: Bot) -> None:
    document = fake.add_file("file-1", b"a,b\n1,2\n", "data.csv", "text/csv")
    update = fake.make_message_update("", chat_id=CHAT, user_id=CHAT, document=document)
    parsed = Update.de_json(update, bot)
    assert parsed.message is not None
    assert parsed.message.document is not None
    file = await bot.get_file(parsed.message.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"a,b\n1,2\n"
    with _bad_request("Invalid file_id"):
        await bot.get_file("missing")


# --------------------------------------------------------------------------- webhook


async def test_webhook_registration_and_delivery(fake: FakeBotAPI, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []

    async def hook(request: web.Request) -> web.Response:
        header = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((header, await request.json()))
        return web.Response(status=200 if header == "s3cret_-" else 403)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    hook_url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    try:
        with _bad_request("secret token"):
            await bot.set_webhook(hook_url, secret_token="not allowed!")
        assert await bot.set_webhook(
            hook_url, secret_token="s3cret_-", allowed_updates=["message"]
        )
        assert fake.webhook is not None
        assert fake.webhook["secret_token"] == "s3cret_-"
        assert (await bot.get_webhook_info()).url == hook_url
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        update = fake.make_message_update("via webhook", chat_id=CHAT, user_id=CHAT)
        assert await fake.post_update_to_webhook(update) == 200
        assert received[0][0] == "s3cret_-"
        assert received[0][1]["message"]["text"] == "via webhook"  # type: ignore[index]
        assert "update_id" in received[0][1]
        assert await fake.post_update_to_webhook(update, secret=None) == 403
        assert received[1][0] is None
        assert await bot.delete_webhook()
        assert fake.webhook is None
    finally:
        await runner.cleanup()


async def test_register_method_extends_the_fake(fake: FakeBotAPI, bot: Bot) -> None:
    pinned: list[dict[str, object]] = []

    def pin(params: dict[str, object]) -> bool:
        pinned.append(params)
        return True

    fake.register_method("pinChatMessage", pin)
    assert await bot.pin_chat_message(CHAT, 7)
    assert pinned[0]["chat_id"] == CHAT
    assert pinned[0]["message_id"] == 7
