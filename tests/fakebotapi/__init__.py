"""A strict fake of the Telegram Bot API HTTP server, for tests.

``FakeBotAPI`` is an :mod:`aiohttp.web` server bound to ``127.0.0.1`` on a random free
port. It runs in the test's own asyncio loop, so the real python-telegram-bot ``Bot`` /
``Application`` can talk to it over HTTP::

    async with FakeBotAPI() as fake:
        app = (
            ApplicationBuilder()
            .token(fake.token)
            .base_url(f"{fake.url}/bot")
            .base_file_url(f"{fake.url}/file/bot")
            .build()
        )

Requests arrive as ``POST {url}/bot{TOKEN}/{method}`` (method names are case-insensitive)
with a JSON, urlencoded or multipart body (PTB sends form data: every value is a string
and structured values such as ``reply_markup`` are JSON strings). Responses are shaped
like Telegram's: ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": N, "description": "...", "parameters": {...}}``.

The fake is deliberately *strict*: it validates what real Telegram validates (HTML
entities, text lengths in UTF-16 code units, inline keyboards, callback data size, command
names, ...) and answers with Telegram's own error descriptions where they are known, so
bugs that would only show up in production fail the tests instead. Every call is checked
against the Bot API schema (``schema.py``, ``tests/data/botapi/schema.json``): an unknown
method is a 404, a missing or ill-typed parameter a 400, and a parameter Telegram does not
know fails the test when the fake stops. Telegram's sending limits are enforced
(``limits.py``): a bot-wide sliding second counting every message, per-chat windows and
random 429s, adjustable while running, on a clock a test may replace.

The package, by job: ``html`` (Telegram's HTML parse mode), ``factories`` (updates),
``records`` (what is recorded and answered), ``params``, ``schema``, ``limits``, ``server``
(lifecycle and HTTP), and the method groups ``inspection``, ``updates``, ``validation``,
``messages``, ``methods``.

Updates can be queued for long polling (:meth:`FakeBotAPI.push_update`), POSTed to a
webhook (:meth:`FakeBotAPI.post_update_to_webhook`) or built with the ``make_*_update``
factories and handed straight to ``Application.process_update``: whatever the
module-level factories create (messages, chats, callback/inline query ids) is known to
every fake, so replies, edits and answers to those updates validate like on Telegram.

Only ``parse_mode="HTML"`` is implemented (the project uses HTML only); ``Markdown`` and
``MarkdownV2`` are rejected with a 400 that says so.

Known deliberate deviations from Telegram (all stricter, to catch escaping bugs):

* a bare ``&`` in text that does not start one of ``&lt; &gt; &amp; &quot; &#NNN; &#xHH;``
  (semicolon required) is rejected; Telegram silently keeps it as a literal ``&``.
  Attribute values (``href``) are parsed leniently, as Telegram does.
* ``<a>`` must have a non-empty ``href``.
* webhooks may use plain ``http://`` URLs and any port (set ``require_https_webhook``).
"""

from __future__ import annotations

from tests.fakebotapi.constants import (
    DEFAULT_BOT_USERNAME,
    DEFAULT_CHANNEL_ID,
    DEFAULT_CHAT_ID,
    DEFAULT_GROUP_ID,
    DEFAULT_SUPERGROUP_ID,
    DEFAULT_TOKEN,
    DEFAULT_USER_ID,
    MAX_MESSAGE_LENGTH,
    NOT_MODIFIED,
    JSONDict,
)
from tests.fakebotapi.factories import (
    bot_command_entities,
    make_callback_update,
    make_channel_post_update,
    make_chat,
    make_chat_member,
    make_inline_query_update,
    make_message_update,
    make_my_chat_member_update,
    make_user,
)
from tests.fakebotapi.html import TelegramHTMLError, parse_telegram_html, utf16_len
from tests.fakebotapi.records import (
    BotAPIError,
    Call,
    CallbackAnswer,
    Edit,
    InlineAnswer,
    SentMessage,
    StoredFile,
    UploadedFile,
)
from tests.fakebotapi.server import FakeBotAPI

__all__ = [
    "DEFAULT_BOT_USERNAME",
    "DEFAULT_CHANNEL_ID",
    "DEFAULT_CHAT_ID",
    "DEFAULT_GROUP_ID",
    "DEFAULT_SUPERGROUP_ID",
    "DEFAULT_TOKEN",
    "DEFAULT_USER_ID",
    "MAX_MESSAGE_LENGTH",
    "NOT_MODIFIED",
    "BotAPIError",
    "Call",
    "CallbackAnswer",
    "Edit",
    "FakeBotAPI",
    "InlineAnswer",
    "JSONDict",
    "SentMessage",
    "StoredFile",
    "TelegramHTMLError",
    "UploadedFile",
    "bot_command_entities",
    "make_callback_update",
    "make_channel_post_update",
    "make_chat",
    "make_chat_member",
    "make_inline_query_update",
    "make_message_update",
    "make_my_chat_member_update",
    "make_user",
    "parse_telegram_html",
    "utf16_len",
]
