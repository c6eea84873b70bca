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
bugs that would only show up in production fail the tests instead.

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

import asyncio
import contextlib
import copy
import hashlib
import itertools
import json
import logging
import math
import re
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import EllipsisType
from typing import Any, NoReturn
from urllib.parse import urlsplit

from aiohttp import BodyPartReader, ClientSession, ClientTimeout, web

__all__ = [
    "DEFAULT_BOT_USERNAME",
    "DEFAULT_CHAT_ID",
    "DEFAULT_TOKEN",
    "DEFAULT_USER_ID",
    "BotAPIError",
    "Call",
    "CallbackAnswer",
    "Edit",
    "FakeBotAPI",
    "InlineAnswer",
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

JSONDict = dict[str, Any]
MethodHandler = Callable[[JSONDict], Any | Awaitable[Any]]

logger = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456:TEST-TOKEN"
DEFAULT_BOT_USERNAME = "briefing_test_bot"
DEFAULT_BOT_FIRST_NAME = "Briefing Bot"
DEFAULT_USER_ID = 1001
DEFAULT_CHAT_ID = DEFAULT_USER_ID
DEFAULT_GROUP_ID = -4001
DEFAULT_SUPERGROUP_ID = -1001000000001
DEFAULT_CHANNEL_ID = -1001000000002

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100
MAX_CALLBACK_ANSWER_TEXT = 200
MAX_INLINE_RESULTS = 50
MAX_COMMANDS = 100

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
UPDATE_TYPES_EXCLUDED_BY_DEFAULT = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_MESSAGE_UPDATE_KEYS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
)


def _now() -> int:
    """Current unix time as an int (timezone-aware source)."""
    return int(datetime.now(UTC).timestamp())


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram uses for limits/offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# --------------------------------------------------------------------------------------
# Strict Telegram HTML parser
# --------------------------------------------------------------------------------------


class TelegramHTMLError(ValueError):
    """Raised by :func:`parse_telegram_html` for text Telegram would refuse.

    ``message`` is the parser message (e.g. ``Unsupported start tag "foo" at byte offset
    0``); ``description`` is the full Bot API description
    (``Bad Request: can't parse entities: ...``).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def description(self) -> str:
        """The Bot API error description for this parse error."""
        return f"Bad Request: can't parse entities: {self.message}"


_HTML_SPACE = frozenset(" \t\r\n\v\f\0")
_ALLOWED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_SIMPLE_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_DEC_DIGITS = frozenset("0123456789")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _decode_html_entity(text: str, pos: int, *, require_semicolon: bool) -> tuple[str, int] | None:
    """Decode the character reference starting at ``text[pos] == "&"``.

    Returns ``(character, index after the reference)`` or ``None`` if it is not one of the
    references Telegram understands (``&lt; &gt; &amp; &quot; &#NNN; &#xHH;``).
    """
    n = len(text)
    j = pos + 1
    if j < n and text[j] == "#":
        j += 1
        is_hex = j < n and text[j] == "x"
        if is_hex:
            j += 1
        start = j
        digits = _HEX_DIGITS if is_hex else _DEC_DIGITS
        while j < n and text[j] in digits:
            j += 1
        if j == start or j - start > 8:
            return None
        code = int(text[start:j], 16 if is_hex else 10)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        start = j
        while j < n and text[j].isascii() and text[j].isalpha():
            j += 1
        named = _NAMED_ENTITIES.get(text[start:j])
        if named is None:
            return None
        char = named
    if j < n and text[j] == ";":
        return char, j + 1
    if require_semicolon:
        return None
    return char, j


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_start: int


class _TelegramHTMLParser:
    """Port of TDLib's ``parse_html`` (what the Bot API uses), made slightly stricter."""

    def __init__(self, text: str, *, strict_ampersand: bool) -> None:
        self.text = text
        self.n = len(text)
        self.strict_ampersand = strict_ampersand
        self.out: list[str] = []
        self.u16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[JSONDict] = []

    def byte_offset(self, index: int) -> int:
        return len(self.text[:index].encode("utf-8", "surrogatepass"))

    @staticmethod
    def fail(message: str) -> NoReturn:
        raise TelegramHTMLError(message)

    def emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.u16 += utf16_len(chunk)

    def parse(self) -> tuple[str, list[JSONDict]]:
        text, n = self.text, self.n
        i = 0
        while i < n:
            ch = text[i]
            if ch == "&":
                decoded = _decode_html_entity(text, i, require_semicolon=self.strict_ampersand)
                if decoded is None:
                    if self.strict_ampersand:
                        self.fail(
                            f'Character "&" at byte offset {self.byte_offset(i)} does not start '
                            "a supported HTML entity (&lt; &gt; &amp; &quot; &#N; &#xH;); "
                            'escape it as "&amp;"'
                        )
                    self.emit("&")
                    i += 1
                    continue
                self.emit(decoded[0])
                i = decoded[1]
                continue
            if ch != "<":
                # The whole run up to the next tag or reference at once (per character, a
                # long message took milliseconds).
                found = (text.find("<", i), text.find("&", i))
                stop = min((p for p in found if p != -1), default=n)
                self.emit(text[i:stop])
                i = stop
                continue
            is_end_tag = i + 1 < n and text[i + 1] == "/"
            i = self.end_tag(i) if is_end_tag else self.start_tag(i)
        if self.stack:
            self.fail(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"')
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def skip_spaces(self, i: int) -> int:
        while i < self.n and self.text[i] in _HTML_SPACE:
            i += 1
        return i

    def start_tag(self, begin: int) -> int:
        text, n = self.text, self.n
        offset = self.byte_offset(begin)
        i = begin + 1
        while i < n and text[i] not in _HTML_SPACE and text[i] != ">":
            i += 1
        if i >= n:
            self.fail(f"Unclosed start tag at byte offset {offset}")
        name = text[begin + 1 : i].lower()
        if name not in _ALLOWED_TAGS:
            self.fail(f'Unsupported start tag "{name}" at byte offset {offset}')
        argument = ""
        while True:
            i = self.skip_spaces(i)
            if i >= n:
                self.fail(f'Unclosed start tag "{name}" at byte offset {offset}')
            if text[i] == ">":
                i += 1
                break
            attr_start = i
            while i < n and text[i] not in _HTML_SPACE and text[i] not in "=>":
                i += 1
            attr = text[attr_start:i]
            if not attr:
                self.fail(f'Empty attribute name in the tag "{name}" at byte offset {offset}')
            i = self.skip_spaces(i)
            if i >= n or text[i] != "=":
                if name == "blockquote" and attr == "expandable":
                    argument = "1"
                    continue
                self.fail(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{name}" at byte offset {offset}'
                )
            i = self.skip_spaces(i + 1)
            if i >= n:
                self.fail(f'Unclosed start tag "{name}" at byte offset {offset}')
            if text[i] in "'\"":
                quote = text[i]
                i += 1
                buf: list[str] = []
                while i < n and text[i] != quote:
                    if text[i] == "&":
                        decoded = _decode_html_entity(text, i, require_semicolon=False)
                        if decoded is not None:
                            buf.append(decoded[0])
                            i = decoded[1]
                            continue
                    buf.append(text[i])
                    i += 1
                if i >= n:
                    self.fail(f"Unclosed start tag at byte offset {offset}")
                i += 1
                value = "".join(buf)
            else:
                token_start = i
                while i < n and ((text[i].isascii() and text[i].isalnum()) or text[i] in ".-"):
                    i += 1
                value = text[token_start:i].lower()
                if i >= n or (text[i] not in _HTML_SPACE and text[i] != ">"):
                    self.fail(
                        "Unexpected end of name token at byte offset "
                        f"{self.byte_offset(token_start)}"
                    )
            if name == "a" and attr == "href":
                argument = value
            elif name == "code" and attr == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif name == "span" and attr == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif name == "tg-emoji" and attr == "emoji-id":
                argument = value
            elif name == "blockquote" and attr == "expandable":
                argument = "1"
        if name == "span" and argument != "spoiler":
            self.fail(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
        if name == "a" and not argument.strip():
            self.fail(f'Tag "a" must have a non-empty "href" attribute at byte offset {offset}')
        self.stack.append(_OpenTag(name, argument, self.u16))
        return i

    def end_tag(self, begin: int) -> int:
        text, n = self.text, self.n
        offset = self.byte_offset(begin)
        if not self.stack:
            self.fail(f"Unexpected end tag at byte offset {offset}")
        i = begin + 2
        while i < n and text[i] not in _HTML_SPACE and text[i] != ">":
            i += 1
        end_name = text[begin + 2 : i].lower()
        i = self.skip_spaces(i)
        if i >= n or text[i] != ">":
            self.fail(f"Unclosed end tag at byte offset {offset}")
        top = self.stack[-1]
        if end_name and end_name != top.name:
            self.fail(
                f'Unmatched end tag at byte offset {offset}, expected "</{top.name}>", '
                f'found "</{end_name}>"'
            )
        self.stack.pop()
        self.close(top)
        return i + 1

    def close(self, tag: _OpenTag) -> None:
        if tag.name == "tg-emoji" and (not tag.argument.isdigit() or int(tag.argument) == 0):
            self.fail("Invalid custom emoji identifier specified")
        length = self.u16 - tag.utf16_start
        if length <= 0:
            return
        offset = tag.utf16_start
        entity: JSONDict = {"type": "", "offset": offset, "length": length}
        last = self.entities[-1] if self.entities else None
        same_range = last is not None and last["offset"] == offset and last["length"] == length
        if tag.name in _SIMPLE_TAG_TYPES:
            entity["type"] = _SIMPLE_TAG_TYPES[tag.name]
        elif tag.name == "a":
            mention = re.fullmatch(r"tg://user\?id=(\d+)", tag.argument)
            if mention:
                entity["type"] = "text_mention"
                entity["user"] = {"id": int(mention.group(1)), "is_bot": False, "first_name": ""}
            else:
                entity["type"] = "text_link"
                entity["url"] = tag.argument
        elif tag.name == "code":
            if last is not None and same_range and last["type"] == "pre":
                if tag.argument:
                    last["language"] = tag.argument
                return
            entity["type"] = "code"
            if tag.argument:
                entity["language"] = tag.argument
        elif tag.name == "pre":
            if last is not None and same_range and last["type"] == "code":
                last["type"] = "pre"
                return
            entity["type"] = "pre"
        elif tag.name == "tg-emoji":
            entity["type"] = "custom_emoji"
            entity["custom_emoji_id"] = tag.argument
        elif tag.name == "blockquote":
            entity["type"] = "expandable_blockquote" if tag.argument else "blockquote"
        self.entities.append(entity)


def parse_telegram_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML exactly as strictly as the Bot API (a bit stricter).

    Returns ``(plain_text, entities)`` where entity offsets/lengths are in UTF-16 code units
    and ``plain_text`` has tags removed and character references decoded. The text is *not*
    trimmed (the server trims leading/trailing whitespace afterwards, like Telegram).

    Supported tags: ``b strong i em u ins s strike del span(class="tg-spoiler") tg-spoiler
    a(href) code(class="language-x") pre blockquote(expandable) tg-emoji(emoji-id)``.
    Supported references: ``&lt; &gt; &amp; &quot; &#NNN; &#xHH;``.

    Raises :class:`TelegramHTMLError` with TDLib's message (e.g. ``Unsupported start tag
    "foo" at byte offset 3``, ``Can't find end tag corresponding to start tag "b"``,
    ``Unmatched end tag at byte offset N, expected "</b>", found "</i>"``). With
    ``strict_ampersand`` (default) a bare ``&`` is an error, unlike real Telegram.
    """
    return _TelegramHTMLParser(text, strict_ampersand=strict_ampersand).parse()


_TRIM_CHARS = " \t\r\n\v\f"


def _trim_formatted(plain: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Strip leading/trailing whitespace like Telegram does, shifting/clipping entities."""
    left = plain.lstrip(_TRIM_CHARS)
    lead = utf16_len(plain[: len(plain) - len(left)])
    result = left.rstrip(_TRIM_CHARS)
    total = utf16_len(result)
    trimmed: list[JSONDict] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            trimmed.append({**entity, "offset": start, "length": end - start})
    return result, trimmed


# --------------------------------------------------------------------------------------
# Update / object factories
# --------------------------------------------------------------------------------------

_update_ids = itertools.count(1)
_message_ids = itertools.count(1_000_001)
_query_ids = itertools.count(1)


class _FactoryWorld:
    """Everything the module-level ``make_*`` factories created.

    Every :class:`FakeBotAPI` treats these chats, users, messages and callback/inline query
    ids as known, so updates fed straight into ``Application.process_update`` (bypassing
    the fake) can still be replied to, edited or answered.
    """

    def __init__(self) -> None:
        self.chats: dict[int, JSONDict] = {}
        self.users: dict[int, JSONDict] = {}
        self.messages: dict[tuple[int, int], JSONDict] = {}
        self.callback_query_ids: set[str] = set()
        self.inline_query_ids: set[str] = set()

    def register(self, update: Mapping[str, Any]) -> None:
        for key in _MESSAGE_UPDATE_KEYS:
            message = update.get(key)
            if isinstance(message, Mapping) and isinstance(message.get("chat"), Mapping):
                chat = message["chat"]
                self.chats.setdefault(chat["id"], {}).update(chat)
                self._user(message.get("from"))
                self.messages[(chat["id"], message["message_id"])] = copy.deepcopy(dict(message))
        callback = update.get("callback_query")
        if isinstance(callback, Mapping):
            self.callback_query_ids.add(str(callback["id"]))
            self._user(callback.get("from"))
        inline = update.get("inline_query")
        if isinstance(inline, Mapping):
            self.inline_query_ids.add(str(inline["id"]))
            self._user(inline.get("from"))
        for key in ("my_chat_member", "chat_member"):
            change = update.get(key)
            if isinstance(change, Mapping):
                self.chats.setdefault(change["chat"]["id"], {}).update(change["chat"])

    def _user(self, user: Any) -> None:
        if isinstance(user, Mapping) and not user.get("is_bot"):
            self.users.setdefault(user["id"], {}).update(user)


_WORLD = _FactoryWorld()


def _finish_update(payload: JSONDict, *, world: bool) -> JSONDict:
    update = {"update_id": next(_update_ids), **payload}
    if world:
        _WORLD.register(update)
    return update


_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,64})?")


def bot_command_entities(text: str) -> list[JSONDict]:
    """Entities Telegram adds to an incoming ``text``: a ``bot_command`` at offset 0 if the
    text starts with a command (``/cmd`` or ``/cmd@botname``), else ``[]``."""
    match = _COMMAND_RE.match(text)
    if not match:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))}]


def make_user(
    user_id: int = DEFAULT_USER_ID,
    *,
    username: str | None = "tester",
    first_name: str = "Tester",
    is_bot: bool = False,
    language_code: str | None = "en",
) -> JSONDict:
    """A Telegram ``User`` dict."""
    user: JSONDict = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if username:
        user["username"] = username
    if language_code and not is_bot:
        user["language_code"] = language_code
    return user


def _default_chat_id(chat_type: str, user_id: int) -> int:
    return {
        "private": user_id,
        "group": DEFAULT_GROUP_ID,
        "supergroup": DEFAULT_SUPERGROUP_ID,
        "channel": DEFAULT_CHANNEL_ID,
    }.get(chat_type, user_id)


def make_chat(
    chat_id: int,
    chat_type: str = "private",
    *,
    title: str | None = None,
    username: str | None = None,
    first_name: str | None = None,
) -> JSONDict:
    """A Telegram ``Chat`` dict (``first_name`` for private chats, ``title`` otherwise)."""
    if chat_type not in {"private", "group", "supergroup", "channel"}:
        raise ValueError(f"unknown chat type {chat_type!r}")
    chat: JSONDict = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = first_name or f"User {chat_id}"
    else:
        chat["title"] = title or f"Test {chat_type.capitalize()} {chat_id}"
    if username:
        chat["username"] = username
    return chat


def _message_ref(reply_to: Any, chat: JSONDict) -> JSONDict | None:
    if reply_to is None:
        return None
    if isinstance(reply_to, SentMessage):
        return reply_to.to_message_dict()
    if isinstance(reply_to, Mapping):
        return copy.deepcopy(dict(reply_to))
    if isinstance(reply_to, int):
        return {"message_id": reply_to, "date": _now(), "chat": dict(chat)}
    raise TypeError(f"reply_to must be SentMessage, dict or int, not {type(reply_to)!r}")


def make_message_update(
    text: str,
    chat_id: int | None = None,
    user_id: int = DEFAULT_USER_ID,
    chat_type: str = "private",
    username: str | None = "tester",
    first_name: str = "Tester",
    reply_to: SentMessage | Mapping[str, Any] | int | None = None,
    document: Mapping[str, Any] | None = None,
    *,
    message_id: int | None = None,
    chat_title: str | None = None,
    chat_username: str | None = None,
    message_thread_id: int | None = None,
    date: int | None = None,
    _world: bool = True,
) -> JSONDict:
    """An update (with a fresh ``update_id``) holding a ``message`` from a user.

    ``chat_id`` defaults to ``user_id`` for private chats and to fixed negative ids for
    groups/supergroups/channels. Text starting with ``/`` gets a ``bot_command`` entity
    (PTB's ``CommandHandler`` needs it). With ``document`` (a Document dict, e.g. from
    :meth:`FakeBotAPI.add_file`) ``text`` becomes the caption. ``reply_to`` may be a
    :class:`SentMessage`, a message dict or a message id. ``message_id`` defaults to a
    process-wide counter starting at 1000001.

    Messages, chats and users created by the module-level factories are known to every
    :class:`FakeBotAPI` (replies to them / deleting them work) even when the update is
    passed straight to ``Application.process_update``. :meth:`FakeBotAPI.push_update`
    renumbers ``update_id`` if needed so ids keep increasing.
    """
    cid = chat_id if chat_id is not None else _default_chat_id(chat_type, user_id)
    chat = make_chat(
        cid,
        chat_type,
        title=chat_title,
        username=chat_username if chat_type != "private" else username,
        first_name=first_name if chat_type == "private" else None,
    )
    message: JSONDict = {
        "message_id": message_id if message_id is not None else next(_message_ids),
        "date": date if date is not None else _now(),
        "chat": chat,
    }
    if chat_type == "channel":
        message["sender_chat"] = dict(chat)
    else:
        message["from"] = make_user(user_id, username=username, first_name=first_name)
    if message_thread_id is not None:
        message["message_thread_id"] = message_thread_id
    replied = _message_ref(reply_to, chat)
    if replied is not None:
        message["reply_to_message"] = replied
    entities = bot_command_entities(text)
    if document is not None:
        message["document"] = dict(document)
        if text:
            message["caption"] = text
            if entities:
                message["caption_entities"] = entities
    else:
        message["text"] = text
        if entities:
            message["entities"] = entities
    key = "channel_post" if chat_type == "channel" else "message"
    return _finish_update({key: message}, world=_world)


def make_channel_post_update(
    text: str,
    chat_id: int = DEFAULT_CHANNEL_ID,
    *,
    title: str | None = None,
    username: str | None = None,
    message_id: int | None = None,
    _world: bool = True,
) -> JSONDict:
    """An update with a ``channel_post`` (``sender_chat`` = the channel, no ``from``)."""
    return make_message_update(
        text,
        chat_id=chat_id,
        chat_type="channel",
        message_id=message_id,
        chat_title=title,
        chat_username=username,
        _world=_world,
    )


def make_callback_update(
    data: str,
    message: SentMessage | Mapping[str, Any],
    user_id: int = DEFAULT_USER_ID,
    *,
    username: str | None = "tester",
    first_name: str = "Tester",
    query_id: str | None = None,
    chat_instance: str | None = None,
    _world: bool = True,
) -> JSONDict:
    """An update with a ``callback_query`` pressed on ``message`` (a bot message).

    ``message`` is embedded as the full Message dict (chat, message_id, text,
    reply_markup). The generated query id is answerable on any fake, exactly once.
    """
    msg = message.to_message_dict() if isinstance(message, SentMessage) else dict(message)
    chat_id = msg.get("chat", {}).get("id", 0)
    return _finish_update(
        {
            "callback_query": {
                "id": query_id or f"cbq-{next(_query_ids)}",
                "from": make_user(user_id, username=username, first_name=first_name),
                "message": copy.deepcopy(msg),
                "chat_instance": chat_instance or str(abs(chat_id) * 7 + 13),
                "data": data,
            }
        },
        world=_world,
    )


def make_inline_query_update(
    query: str,
    user_id: int = DEFAULT_USER_ID,
    *,
    offset: str = "",
    chat_type: str | None = "sender",
    username: str | None = "tester",
    first_name: str = "Tester",
    query_id: str | None = None,
    _world: bool = True,
) -> JSONDict:
    """An update with an ``inline_query`` (answerable once via ``answerInlineQuery``)."""
    inline_query: JSONDict = {
        "id": query_id or f"iq-{next(_query_ids)}",
        "from": make_user(user_id, username=username, first_name=first_name),
        "query": query,
        "offset": offset,
    }
    if chat_type is not None:
        inline_query["chat_type"] = chat_type
    return _finish_update({"inline_query": inline_query}, world=_world)


_ADMIN_DEFAULTS: JSONDict = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}
_RESTRICTED_DEFAULTS: JSONDict = {
    "is_member": True,
    "can_change_info": False,
    "can_invite_users": False,
    "can_pin_messages": False,
    "can_send_messages": False,
    "can_send_polls": False,
    "can_send_other_messages": False,
    "can_add_web_page_previews": False,
    "can_manage_topics": False,
    "until_date": 0,
    "can_send_audios": False,
    "can_send_documents": False,
    "can_send_photos": False,
    "can_send_videos": False,
    "can_send_video_notes": False,
    "can_send_voice_notes": False,
    "can_edit_tag": False,
}


def make_chat_member(
    user: Mapping[str, Any],
    status: str = "member",
    *,
    chat_type: str = "private",
    **fields: Any,
) -> JSONDict:
    """A full ``ChatMember`` dict for ``status`` (creator, administrator, member, restricted,
    left, kicked) with every field PTB requires; ``fields`` override the defaults.

    Administrators of channels default to ``can_post_messages``/``can_edit_messages`` True.
    """
    member: JSONDict = {"user": dict(user), "status": status}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(_ADMIN_DEFAULTS)
        if chat_type == "channel":
            member.update(can_post_messages=True, can_edit_messages=True)
        else:
            member["can_pin_messages"] = True
    elif status == "restricted":
        member.update(_RESTRICTED_DEFAULTS)
    elif status == "kicked":
        member["until_date"] = 0
    elif status not in {"member", "left"}:
        raise ValueError(f"unknown chat member status {status!r}")
    member.update(fields)
    return member


def make_my_chat_member_update(
    chat_id: int = DEFAULT_CHANNEL_ID,
    new_status: str = "administrator",
    old_status: str = "left",
    *,
    bot_id: int,
    bot_username: str = DEFAULT_BOT_USERNAME,
    bot_first_name: str = DEFAULT_BOT_FIRST_NAME,
    chat_type: str = "channel",
    title: str | None = None,
    from_user_id: int = DEFAULT_USER_ID,
    **new_member_fields: Any,
) -> JSONDict:
    """An update with ``my_chat_member``: the bot's status in ``chat_id`` changed."""
    bot = make_user(bot_id, username=bot_username, first_name=bot_first_name, is_bot=True)
    return _finish_update(
        {
            "my_chat_member": {
                "chat": make_chat(chat_id, chat_type, title=title),
                "from": make_user(from_user_id),
                "date": _now(),
                "old_chat_member": make_chat_member(bot, old_status, chat_type=chat_type),
                "new_chat_member": make_chat_member(
                    bot, new_status, chat_type=chat_type, **new_member_fields
                ),
            }
        },
        world=True,
    )


def _update_type(update: Mapping[str, Any]) -> str | None:
    for key in update:
        if key != "update_id":
            return key
    return None


# --------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------


class BotAPIError(Exception):
    """Raise from a method handler to produce a Telegram error response."""

    def __init__(
        self, status: int, description: str, parameters: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = dict(parameters) if parameters else None

    def body(self) -> JSONDict:
        """The JSON body Telegram would return."""
        body: JSONDict = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body


def _bad(description: str, parameters: Mapping[str, Any] | None = None) -> BotAPIError:
    return BotAPIError(400, description, parameters)


@dataclass
class UploadedFile:
    """A file part of a multipart request (appears in ``Call.params``)."""

    filename: str | None
    content: bytes
    content_type: str | None = None


@dataclass
class Call:
    """One HTTP request to a Bot API method, recorded on arrival (even if it fails).

    ``params`` are normalised: ints/bools/JSON values decoded from form strings.
    ``status``/``response`` are filled in when the request completes (``None`` while a
    long poll is pending).
    """

    method: str
    params: JSONDict
    at: float
    status: int | None = None
    response: JSONDict | None = None

    @property
    def ok(self) -> bool:
        """Whether the request succeeded."""
        return self.status == 200

    @property
    def description(self) -> str | None:
        """Error description of a failed call."""
        return None if self.response is None else self.response.get("description")


@dataclass
class SentMessage:
    """A message the fake accepted (sendMessage / sendDocument), mutated in place by edits.

    ``text`` is the raw text (or caption for documents) as sent, e.g. with HTML tags;
    ``plain`` is what users see (tags removed, references decoded, trimmed) and
    ``entities`` its entities.
    """

    chat_id: int
    message_id: int
    text: str
    parse_mode: str | None = None
    reply_markup: JSONDict | None = None
    plain: str = ""
    entities: list[JSONDict] = field(default_factory=list)
    kind: str = "text"
    document: bytes | None = None
    filename: str | None = None
    file_id: str | None = None
    file_unique_id: str | None = None
    mime_type: str | None = None
    date: int = field(default_factory=_now)
    edit_date: int | None = None
    edit_count: int = 0
    deleted: bool = False
    message_thread_id: int | None = None
    reply_to_message: JSONDict | None = None
    chat: JSONDict = field(default_factory=dict)
    sender: JSONDict = field(default_factory=dict)
    params: JSONDict = field(default_factory=dict)

    @property
    def caption(self) -> str | None:
        """Raw caption of a document message."""
        return self.text if self.kind == "document" else None

    @property
    def reply_to_message_id(self) -> int | None:
        """Id of the message this one replies to."""
        return None if self.reply_to_message is None else self.reply_to_message["message_id"]

    @property
    def buttons(self) -> list[JSONDict]:
        """All inline keyboard buttons, flattened."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]

    def button(self, text: str) -> JSONDict:
        """The inline button whose text is (or contains) ``text``."""
        for button in self.buttons:
            if button["text"] == text:
                return button
        for button in self.buttons:
            if text in button["text"]:
                return button
        raise KeyError(f"no button {text!r} in {[b['text'] for b in self.buttons]}")

    def document_dict(self) -> JSONDict | None:
        """Telegram ``Document`` dict for document messages."""
        if self.kind != "document":
            return None
        doc: JSONDict = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.filename:
            doc["file_name"] = self.filename
        if self.mime_type:
            doc["mime_type"] = self.mime_type
        if self.document is not None:
            doc["file_size"] = len(self.document)
        return doc

    def to_message_dict(self) -> JSONDict:
        """This message as a full Telegram ``Message`` dict (as returned by the API)."""
        message: JSONDict = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": dict(self.chat),
        }
        if self.sender:
            message["from"] = dict(self.sender)
        if self.chat.get("type") == "channel":
            message["sender_chat"] = dict(self.chat)
        if self.message_thread_id is not None:
            message["message_thread_id"] = self.message_thread_id
        if self.reply_to_message is not None:
            message["reply_to_message"] = copy.deepcopy(self.reply_to_message)
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        if self.kind == "document":
            message["document"] = self.document_dict()
            if self.plain:
                message["caption"] = self.plain
                if self.entities:
                    message["caption_entities"] = copy.deepcopy(self.entities)
        else:
            message["text"] = self.plain
            if self.entities:
                message["entities"] = copy.deepcopy(self.entities)
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            message["reply_markup"] = copy.deepcopy(self.reply_markup)
        return message


@dataclass
class Edit:
    """One successful edit (editMessageText / editMessageReplyMarkup / editMessageCaption)."""

    method: str
    chat_id: int | None
    message_id: int | None
    inline_message_id: str | None
    text: str | None
    plain: str | None
    parse_mode: str | None
    reply_markup: JSONDict | None
    previous_plain: str | None
    previous_reply_markup: JSONDict | None
    at: float


@dataclass
class CallbackAnswer:
    """A successful answerCallbackQuery."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    at: float


class InlineAnswer(dict[str, Any]):
    """A successful answerInlineQuery, as a dict with keys ``inline_query_id``,
    ``results`` (list of result dicts), ``cache_time``, ``is_personal``, ``next_offset``,
    ``button``, ``params`` (all request params) and ``at``; the main keys are also
    attributes."""

    @property
    def inline_query_id(self) -> str:
        """The answered query id."""
        return str(self["inline_query_id"])

    @property
    def results(self) -> list[JSONDict]:
        """The results as sent (JSON dicts)."""
        return list(self["results"])

    @property
    def params(self) -> JSONDict:
        """All request parameters."""
        return dict(self["params"])

    @property
    def at(self) -> float:
        """When it was answered (unix time)."""
        return float(self["at"])


@dataclass
class StoredFile:
    """A file known to the fake (``add_file`` or uploaded with ``sendDocument``)."""

    file_id: str
    file_unique_id: str
    content: bytes | None
    file_name: str | None
    mime_type: str | None
    file_path: str

    def document_dict(self) -> JSONDict:
        """Telegram ``Document`` dict."""
        doc: JSONDict = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.file_name:
            doc["file_name"] = self.file_name
        if self.mime_type:
            doc["mime_type"] = self.mime_type
        if self.content is not None:
            doc["file_size"] = len(self.content)
        return doc


@dataclass
class _Injected:
    status: int
    description: str
    parameters: JSONDict | None


# --------------------------------------------------------------------------------------
# Parameter normalisation
# --------------------------------------------------------------------------------------

_INT_KEYS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "message_thread_id",
        "user_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
        "max_connections",
        "reply_to_message_id",
        "until_date",
    }
)
_BOOL_KEYS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "disable_content_type_detection",
        "show_alert",
        "is_personal",
        "drop_pending_updates",
        "only_if_banned",
        "allow_paid_broadcast",
        "revoke_messages",
    }
)
_JSON_KEYS = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "commands",
        "scope",
        "results",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
        "button",
        "media",
        "message_ids",
        "menu_button",
        "rights",
    }
)
_INT_RE = re.compile(r"-?\d+")


def _normalise_params(raw: Mapping[str, Any]) -> JSONDict:
    """Decode form-encoded strings into ints/bools/JSON for well-known keys."""
    params: JSONDict = {}
    for key, value in raw.items():
        if isinstance(value, str):
            if key in _INT_KEYS and _INT_RE.fullmatch(value):
                value = int(value)
            elif key in _BOOL_KEYS and value.lower() in {"true", "false", "1", "0"}:
                value = value.lower() in {"true", "1"}
            elif key in _JSON_KEYS:
                # on failure the value stays a str and the method reports the error
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
        params[key] = value
    return params


def _opt_int(params: Mapping[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"Bad Request: invalid {key} specified")
    return value


def _opt_str(params: Mapping[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        raise _bad(f'Bad Request: field "{key}" must be of type String')
    return value


def _opt_bool(params: Mapping[str, Any], key: str) -> bool:
    value = params.get(key)
    if isinstance(value, str):
        return value.lower() in {"true", "1"}
    return bool(value)


def _json_param(params: Mapping[str, Any], key: str, kind: type) -> Any:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, kind):
        raise _bad(f"Bad Request: can't parse {key} JSON object")
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, UploadedFile):
        return {"filename": value.filename, "size": len(value.content)}
    return value


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------

_BUTTON_KINDS = (
    "callback_data",
    "url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "web_app",
    "login_url",
    "callback_game",
    "pay",
)
_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_METHOD_NAMES = (
    "getMe",
    "logOut",
    "close",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "sendDocument",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "deleteMessage",
    "sendChatAction",
    "answerCallbackQuery",
    "answerInlineQuery",
    "setMyCommands",
    "deleteMyCommands",
    "getMyCommands",
    "setMyDescription",
    "getMyDescription",
    "setMyShortDescription",
    "getMyShortDescription",
    "getChat",
    "getChatMember",
    "getChatAdministrators",
    "getFile",
)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class FakeBotAPI:
    """Strict in-process fake of ``https://api.telegram.org`` (see the module docstring).

    Use as ``async with FakeBotAPI() as fake:`` (or ``await fake.start()`` /
    ``await fake.stop()``) and point PTB at ``f"{fake.url}/bot"`` /
    ``f"{fake.url}/file/bot"``.

    Inspection: :attr:`calls`, :meth:`calls_of`, :attr:`sent`, :meth:`messages_to`,
    :attr:`edits`, :attr:`callback_answers`, :attr:`inline_answers`, :attr:`my_commands`,
    :attr:`webhook`, :attr:`chat_actions`, :attr:`deleted_messages`.

    Waiting (no sleeps): :meth:`wait_for`, :meth:`wait_for_messages`, :meth:`wait_for_call`.

    Input: :meth:`push_update` plus ``make_*_update`` factories,
    :meth:`post_update_to_webhook`, :meth:`add_file`, :attr:`chat_members`, :attr:`chats`.

    Faults: :attr:`blocked_chats`, :attr:`migrated_chats`, :attr:`chat_failures`,
    :meth:`fail_next`, :attr:`flood_limit_per_chat_per_second`.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = DEFAULT_BOT_USERNAME,
        *,
        bot_first_name: str = DEFAULT_BOT_FIRST_NAME,
        strict_ampersand: bool = True,
    ) -> None:
        """Create (not start) the fake for ``token``; the bot id is the token's prefix."""
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.strict_ampersand = strict_ampersand
        self.url = ""
        self.port = 0

        self.calls: list[Call] = []
        self.sent: list[SentMessage] = []
        self.edits: list[Edit] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.inline_answers: list[InlineAnswer] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.deleted_messages: list[tuple[int, int]] = []
        self.file_downloads: list[str] = []
        self.webhook_deliveries: list[tuple[str, int]] = []
        self.server_errors: list[BaseException] = []

        #: commands by scope key: "default" or json.dumps(scope, sort_keys=True);
        #: ``":<language_code>"`` is appended when a language code was given.
        self.my_commands: dict[str, list[JSONDict]] = {}
        self.my_descriptions: dict[str, str] = {}
        self.my_short_descriptions: dict[str, str] = {}
        #: webhook settings from setWebhook (``url``, ``secret_token``, ...) or None.
        self.webhook: JSONDict | None = None
        #: remembered ``allowed_updates`` (None = Telegram's default set).
        self.allowed_updates: list[str] | None = None
        self.require_https_webhook = False

        #: known chats by id (Chat dicts; extra keys are returned by getChat).
        self.chats: dict[int, JSONDict] = {}
        #: known users by id (User dicts).
        self.users: dict[int, JSONDict] = {}
        #: (chat_id, user_id) -> status string or dict of ChatMember fields.
        self.chat_members: dict[tuple[int, int], str | JSONDict] = {}
        #: reject unknown numeric chat ids with "Bad Request: chat not found".
        self.strict_unknown_chats = False

        #: chats whose sends/edits/chat actions fail with 403 "bot was blocked by the user".
        self.blocked_chats: set[int] = set()
        #: old chat id -> new supergroup id; sends fail with 400 + migrate_to_chat_id.
        self.migrated_chats: dict[int, int] = {}
        #: chat_id -> (status, description) returned for any send/edit to that chat.
        self.chat_failures: dict[int, tuple[int, str]] = {}
        #: max accepted sends/edits per chat per second (sliding window) or None;
        #: exceeding it returns 429 with ``retry_after``.
        self.flood_limit_per_chat_per_second: float | None = None

        self.files: dict[str, StoredFile] = {}
        self.pending_long_polls = 0

        self._messages: dict[tuple[int, int], SentMessage] = {}
        self._incoming: dict[tuple[int, int], JSONDict] = {}
        self._next_message_ids: dict[int, int] = {}
        self._updates: list[JSONDict] = []
        self._next_update_id = 1
        self._max_pushed_id = 0
        self._deleted_incoming: set[tuple[int, int]] = set()
        self._callback_queries: dict[str, bool] = {}
        self._inline_queries: dict[str, bool] = {}
        self._injected: dict[str, deque[_Injected]] = {}
        self._flood: dict[int, deque[float]] = {}
        self._consumed: dict[int, int] = {}
        self._custom_methods: dict[str, tuple[str, MethodHandler]] = {}
        self._file_counter = itertools.count(1)
        self._update_event = asyncio.Event()
        self._cond = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._background: set[asyncio.Task[None]] = set()

        self._methods: dict[str, tuple[str, Callable[[JSONDict], Awaitable[Any]]]] = {
            name.lower(): (name, getattr(self, f"_m_{_snake(name)}")) for name in _METHOD_NAMES
        }

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeBotAPI:
        """Start the server."""
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the server."""
        await self.stop()

    async def start(self) -> FakeBotAPI:
        """Start listening on 127.0.0.1 (random free port); sets :attr:`url`."""
        if self._runner is not None:
            return self
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def stop(self) -> None:
        """Wake pending long polls and shut the server down."""
        if self._runner is None:
            return
        self._closing = True
        self._wake_pollers()
        runner, self._runner = self._runner, None
        await runner.cleanup()
        for task in list(self._background):
            task.cancel()

    @property
    def bot_user(self) -> JSONDict:
        """The bot's ``User`` dict (as in ``from`` of its messages)."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    # ------------------------------------------------------------------ inspection

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of ``method`` (case-insensitive)."""
        wanted = method.lower()
        return [call for call in self.calls if call.method.lower() == wanted]

    def messages_to(self, chat_id: int, *, include_deleted: bool = True) -> list[SentMessage]:
        """Messages the fake accepted for ``chat_id``, oldest first (append-only, so slicing
        by a previous length is safe; deleted ones have ``deleted=True``)."""
        return [
            msg
            for msg in self.sent
            if msg.chat_id == chat_id and (include_deleted or not msg.deleted)
        ]

    def last_message(self, chat_id: int | None = None) -> SentMessage:
        """The most recent accepted message (optionally in ``chat_id``)."""
        candidates = self.sent if chat_id is None else self.messages_to(chat_id)
        if not candidates:
            raise AssertionError(f"no messages sent{'' if chat_id is None else f' to {chat_id}'}")
        return candidates[-1]

    def get_message(self, chat_id: int, message_id: int) -> SentMessage:
        """A stored bot message by id (KeyError if unknown)."""
        return self._messages[(chat_id, message_id)]

    def commands_for(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[JSONDict] | None:
        """Commands set for ``scope``/``language_code`` (None if never set)."""
        return self.my_commands.get(self._commands_key(scope, language_code))

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates pushed but not yet confirmed by a getUpdates offset."""
        return list(self._updates)

    def next_message_id(self, chat_id: int) -> int:
        """Allocate the next message id of ``chat_id`` (shared by bot and user messages)."""
        message_id = self._next_message_ids.get(chat_id, 1)
        self._next_message_ids[chat_id] = message_id + 1
        return message_id

    def summary(self, last: int = 20) -> str:
        """Human-readable list of the last ``last`` calls (used in timeout errors)."""
        lines = []
        for call in self.calls[-last:]:
            params = {k: _jsonable(v) for k, v in call.params.items()}
            shown = json.dumps(params, ensure_ascii=False, default=str)
            if len(shown) > 200:
                shown = shown[:197] + "..."
            outcome = "pending" if call.status is None else str(call.status)
            if call.status not in (None, 200):
                outcome += f" {call.description}"
            lines.append(f"  {call.method} -> {outcome} {shown}")
        return "\n".join(lines) or "  (no calls)"

    # ------------------------------------------------------------------ waiting

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    def _notify_soon(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._notify())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_for(
        self,
        predicate: Callable[[FakeBotAPI], Any],
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public API
    ) -> Any:
        """Wait until ``predicate(fake)`` is truthy and return its value.

        Re-evaluated whenever a call is recorded/completed or an update is pushed (an
        ``asyncio.Condition``); raises ``AssertionError`` with recent calls on timeout.
        """

        async def _wait() -> Any:
            async with self._cond:
                return await self._cond.wait_for(lambda: predicate(self))

        try:
            return await asyncio.wait_for(_wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"FakeBotAPI.wait_for timed out after {timeout}s; recent calls:\n{self.summary()}"
            ) from None

    async def wait_for_call(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public API
        *,
        completed: bool = True,
    ) -> Call:
        """Wait until ``method`` was called ``count`` times in total; return the last call."""

        def _ready(fake: FakeBotAPI) -> bool:
            calls = fake.calls_of(method)
            if completed:
                calls = [c for c in calls if c.status is not None]
            return len(calls) >= count

        await self.wait_for(_ready, timeout)
        return self.calls_of(method)[count - 1]

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public API
    ) -> list[SentMessage]:
        """Wait for ``count`` new messages to ``chat_id`` and return all new ones.

        "New" means after the last message returned by a previous call for that chat.
        """
        start = self._consumed.get(chat_id, 0)

        def _ready(fake: FakeBotAPI) -> bool:
            return len(fake.messages_to(chat_id, include_deleted=True)) >= start + count

        try:
            await self.wait_for(_ready, timeout)
        except AssertionError as exc:
            got = self.messages_to(chat_id, include_deleted=True)[start:]
            raise AssertionError(
                f"expected {count} new message(s) to chat {chat_id}, got {len(got)}: "
                f"{[m.plain for m in got]}\n{exc}"
            ) from None
        new = self.messages_to(chat_id, include_deleted=True)[start:]
        self._consumed[chat_id] = start + len(new)
        return new

    # ------------------------------------------------------------------ configuration

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 3,
        times: int = 1,
        *,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (``"*"`` = any method) fail.

        429 -> ``Too Many Requests: retry after N`` with ``parameters.retry_after``;
        500 -> ``Internal Server Error``; 502 -> ``Bad Gateway``; 400/403/409 use
        ``description`` (or a generic text). Checked before any validation.
        """
        params = dict(parameters) if parameters else None
        if status == 429:
            desc = description or f"Too Many Requests: retry after {retry_after}"
            params = {"retry_after": retry_after, **(params or {})}
        else:
            defaults = {
                400: "Bad Request: injected failure",
                401: "Unauthorized",
                403: "Forbidden: injected failure",
                404: "Not Found",
                409: "Conflict: injected failure",
                500: "Internal Server Error",
                502: "Bad Gateway",
                503: "Service Unavailable",
                504: "Gateway Timeout",
            }
            desc = description or defaults.get(status, f"Error {status}")
        queue = self._injected.setdefault(method.lower(), deque())
        for _ in range(times):
            queue.append(_Injected(status, desc, params))

    def add_file(
        self,
        file_id: str,
        content: bytes,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> JSONDict:
        """Register a downloadable file; returns its ``Document`` dict (for updates)."""
        number = next(self._file_counter)
        suffix = ""
        if file_name and "." in file_name:
            suffix = "." + file_name.rsplit(".", 1)[1]
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=hashlib.sha1(file_id.encode()).hexdigest()[:16],
            content=content,
            file_name=file_name,
            mime_type=mime_type,
            file_path=f"documents/file_{number}{suffix}",
        )
        self.files[file_id] = stored
        return stored.document_dict()

    def register_method(self, name: str, handler: MethodHandler) -> None:
        """Support an extra Bot API method: ``handler(params)`` (sync or async) returns the
        result or raises :class:`BotAPIError`."""
        self._custom_methods[name.lower()] = (name, handler)

    # ------------------------------------------------------------------ updates

    def register_update(self, update: Mapping[str, Any]) -> None:
        """Learn chats, users, message ids, callback/inline query ids from an update.

        Done automatically by :meth:`push_update`, :meth:`post_update_to_webhook` and the
        ``fake.make_*_update`` methods.
        """
        for key in _MESSAGE_UPDATE_KEYS:
            message = update.get(key)
            if isinstance(message, Mapping):
                self._register_message(message)
        callback = update.get("callback_query")
        if isinstance(callback, Mapping):
            self._callback_queries.setdefault(str(callback["id"]), False)
            self._register_user(callback.get("from"))
        inline = update.get("inline_query")
        if isinstance(inline, Mapping):
            self._inline_queries.setdefault(str(inline["id"]), False)
            self._register_user(inline.get("from"))
        for key in ("my_chat_member", "chat_member"):
            change = update.get(key)
            if isinstance(change, Mapping):
                chat = change["chat"]
                self._register_chat(chat)
                self._register_user(change.get("from"))
                new_member = change["new_chat_member"]
                self._register_user(new_member.get("user"))
                self.chat_members[(chat["id"], new_member["user"]["id"])] = dict(new_member)

    def _register_message(self, message: Mapping[str, Any]) -> None:
        chat = message.get("chat")
        if not isinstance(chat, Mapping):
            return
        self._register_chat(chat)
        self._register_user(message.get("from"))
        chat_id, message_id = chat["id"], message.get("message_id")
        if isinstance(message_id, int):
            if (chat_id, message_id) not in self._messages:
                self._incoming[(chat_id, message_id)] = copy.deepcopy(dict(message))
            if message_id >= self._next_message_ids.get(chat_id, 1):
                self._next_message_ids[chat_id] = message_id + 1
        replied = message.get("reply_to_message")
        if isinstance(replied, Mapping) and replied.get("chat"):
            self._register_message(replied)

    def _register_chat(self, chat: Mapping[str, Any]) -> None:
        known = self.chats.setdefault(chat["id"], {})
        known.update(chat)

    def _register_user(self, user: Any) -> None:
        if isinstance(user, Mapping) and user.get("id") != self.bot_id:
            self.users.setdefault(user["id"], {}).update(user)

    def _prepare_update(self, update: JSONDict) -> JSONDict:
        update_id = update.get("update_id")
        if not isinstance(update_id, int) or update_id <= self._max_pushed_id:
            # Missing, or not newer than what was already queued/delivered: renumber, as
            # Telegram ids only increase and a poller's offset would silently drop it.
            update["update_id"] = max(self._next_update_id, self._max_pushed_id + 1)
        self._max_pushed_id = update["update_id"]
        self._next_update_id = update["update_id"] + 1
        self.register_update(update)
        return update

    def push_update(self, update: JSONDict) -> JSONDict:
        """Queue ``update`` for getUpdates and return it.

        ``update_id`` is assigned if missing, or renumbered if not greater than the last
        pushed one (Telegram ids only increase).
        """
        self._prepare_update(update)
        self._updates.append(update)
        self._updates.sort(key=lambda u: u["update_id"])
        self._wake_pollers()
        self._notify_soon()
        return update

    def _wake_pollers(self) -> None:
        self._update_event.set()
        self._update_event = asyncio.Event()

    def make_message_update(
        self,
        text: str,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        chat_type: str = "private",
        username: str | None = "tester",
        first_name: str = "Tester",
        reply_to: SentMessage | Mapping[str, Any] | int | None = None,
        document: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> JSONDict:
        """Like module-level :func:`make_message_update`, with a per-chat message id and
        ``reply_to`` ids resolved against messages known to this fake. Known to this fake
        only (not the process-wide registry); not pushed."""
        cid = chat_id if chat_id is not None else _default_chat_id(chat_type, user_id)
        if isinstance(reply_to, int):
            reply_to = self._known_message_dict(cid, reply_to) or reply_to
        kwargs.setdefault("message_id", self.next_message_id(cid))
        kwargs["_world"] = False
        update = make_message_update(
            text, cid, user_id, chat_type, username, first_name, reply_to, document, **kwargs
        )
        self.register_update(update)
        return update

    def make_channel_post_update(
        self, text: str, chat_id: int = DEFAULT_CHANNEL_ID, **kwargs: Any
    ) -> JSONDict:
        """Like :func:`make_channel_post_update` with a per-chat message id. Known to this
        fake; not pushed."""
        kwargs.setdefault("message_id", self.next_message_id(chat_id))
        kwargs["_world"] = False
        update = make_channel_post_update(text, chat_id, **kwargs)
        self.register_update(update)
        return update

    def make_callback_update(
        self,
        data: str,
        message: SentMessage | Mapping[str, Any],
        user_id: int = DEFAULT_USER_ID,
        **kwargs: Any,
    ) -> JSONDict:
        """Like :func:`make_callback_update`; the query id is known to this fake only
        (answerable even if the update is never pushed)."""
        update = make_callback_update(data, message, user_id, _world=False, **kwargs)
        self.register_update(update)
        return update

    def make_inline_query_update(
        self, query: str, user_id: int = DEFAULT_USER_ID, **kwargs: Any
    ) -> JSONDict:
        """Like :func:`make_inline_query_update`; the query id is known to this fake only
        (answerable even if the update is never pushed)."""
        update = make_inline_query_update(query, user_id, _world=False, **kwargs)
        self.register_update(update)
        return update

    def make_my_chat_member_update(
        self,
        chat_id: int = DEFAULT_CHANNEL_ID,
        new_status: str = "administrator",
        old_status: str = "left",
        **kwargs: Any,
    ) -> JSONDict:
        """Like :func:`make_my_chat_member_update` for this bot. Membership in
        :attr:`chat_members` changes when it is pushed/delivered (or ``register_update``)."""
        kwargs.setdefault("bot_id", self.bot_id)
        kwargs.setdefault("bot_username", self.bot_username)
        kwargs.setdefault("bot_first_name", self.bot_first_name)
        update = make_my_chat_member_update(chat_id, new_status, old_status, **kwargs)
        return update

    async def post_update_to_webhook(
        self,
        update: JSONDict,
        url: str | None = None,
        secret: str | EllipsisType | None = ...,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - HTTP client timeout
    ) -> int:
        """POST ``update`` as JSON to the webhook and return the HTTP status.

        ``url`` defaults to the URL registered with setWebhook; ``secret`` defaults to the
        registered ``secret_token`` and is sent as ``X-Telegram-Bot-Api-Secret-Token``
        (``None`` omits the header). Only loopback URLs are allowed.
        """
        target = url or (self.webhook or {}).get("url")
        if not target:
            raise RuntimeError("no webhook registered and no url given")
        host = urlsplit(target).hostname or ""
        if host not in _LOOPBACK_HOSTS:
            raise ValueError(f"refusing to deliver to non-loopback webhook {target!r}")
        if secret is ...:
            secret = (self.webhook or {}).get("secret_token")
        self._prepare_update(update)
        headers = {"Content-Type": "application/json"}
        if isinstance(secret, str):
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        async with (
            ClientSession(timeout=ClientTimeout(total=timeout)) as session,
            session.post(target, data=json.dumps(update), headers=headers) as response,
        ):
            await response.read()
            status = response.status
        self.webhook_deliveries.append((target, status))
        await self._notify()
        return status

    # ------------------------------------------------------------------ HTTP layer

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            return await self._handle_file(request)
        match = re.fullmatch(r"/bot([^/]*)/([^/]+)/?", path)
        if match is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        token, method = match.groups()
        known = self._methods.get(method.lower()) or self._custom_methods.get(method.lower())
        name = known[0] if known else method
        read_error: BotAPIError | None = None
        try:
            params = await self._read_params(request)
        except BotAPIError as exc:
            params, read_error = {}, exc
        call = Call(method=name, params=params, at=time.time())
        self.calls.append(call)
        await self._notify()
        try:
            if token != self.token:
                raise BotAPIError(401, "Unauthorized")
            if known is None:
                raise BotAPIError(404, "Not Found: method not found")
            if read_error is not None:
                raise read_error
            self._raise_injected(name)
            result = known[1](params)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
            status, body = 200, {"ok": True, "result": result}
        except BotAPIError as exc:
            status, body = exc.status, exc.body()
        except Exception as exc:  # a bug in the fake (or a custom handler)
            logger.exception("FakeBotAPI crashed handling %s", name)
            self.server_errors.append(exc)
            status = 500
            body = {
                "ok": False,
                "error_code": 500,
                "description": f"Internal Server Error: FakeBotAPI bug: {exc!r}",
            }
        call.status, call.response = status, body
        await self._notify()
        return web.json_response(body, status=status)

    async def _read_params(self, request: web.Request) -> JSONDict:
        raw: JSONDict = dict(request.query)
        if not request.body_exists:
            return _normalise_params(raw)
        content_type = request.content_type
        if content_type == "application/json":
            try:
                data = await request.json()
            except ValueError:
                raise _bad("Bad Request: can't parse JSON request body") from None
            if not isinstance(data, dict):
                raise _bad("Bad Request: request body must be a JSON object")
            raw.update(data)
        elif content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                content = await part.read()
                if part.filename is not None:
                    raw[part.name] = UploadedFile(
                        part.filename, bytes(content), part.headers.get("Content-Type")
                    )
                else:
                    raw[part.name] = bytes(content).decode("utf-8")
        elif content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            raw.update({key: str(value) for key, value in form.items()})
        return _normalise_params(raw)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        prefix = f"/file/bot{self.token}/"
        path = request.path
        self.file_downloads.append(path)
        await self._notify()
        if not path.startswith(prefix):
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        file_path = path[len(prefix) :]
        for stored in self.files.values():
            if stored.file_path == file_path and stored.content is not None:
                return web.Response(body=stored.content, content_type="application/octet-stream")
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    def _raise_injected(self, method: str) -> None:
        for key in (method.lower(), "*"):
            queue = self._injected.get(key)
            if queue:
                failure = queue.popleft()
                raise BotAPIError(failure.status, failure.description, failure.parameters)

    # ------------------------------------------------------------------ shared validation

    def _chat_id(self, params: Mapping[str, Any]) -> int:
        value = params.get("chat_id")
        if value is None or value == "":
            raise _bad("Bad Request: chat_id is empty")
        chat_id: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            chat_id = value
        elif isinstance(value, str) and _INT_RE.fullmatch(value):
            chat_id = int(value)
        elif isinstance(value, str) and value.startswith("@"):
            for known_id, chat in itertools.chain(self.chats.items(), _WORLD.chats.items()):
                if str(chat.get("username", "")).lower() == value[1:].lower():
                    chat_id = known_id
                    break
        if chat_id is None or chat_id == 0:
            raise _bad("Bad Request: chat not found")
        if self.strict_unknown_chats and chat_id not in self.chats | _WORLD.chats:
            raise _bad("Bad Request: chat not found")
        return chat_id

    def _chat_dict(self, chat_id: int) -> JSONDict:
        known = self.chats.get(chat_id)
        if known is None and chat_id in _WORLD.chats:
            known = self.chats[chat_id] = dict(_WORLD.chats[chat_id])
        if known is None:
            if chat_id > 0:
                chat_type = "private"
            elif chat_id < -1_000_000_000_000:
                chat_type = "supergroup"
            else:
                chat_type = "group"
            known = make_chat(chat_id, chat_type)
            self.chats[chat_id] = known
        basic_keys = ("id", "type", "title", "username", "first_name", "last_name", "is_forum")
        return {key: known[key] for key in basic_keys if key in known}

    def _user_dict(self, user_id: int) -> JSONDict:
        if user_id == self.bot_id:
            return self.bot_user
        return dict(
            self.users.get(user_id)
            or _WORLD.users.get(user_id)
            or make_user(user_id, username=None, first_name=f"User {user_id}")
        )

    def _check_chat_writable(self, chat_id: int) -> None:
        if chat_id in self.migrated_chats:
            raise _bad(
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated_chats[chat_id]},
            )
        if chat_id in self.chat_failures:
            status, description = self.chat_failures[chat_id]
            raise BotAPIError(status, description)
        if chat_id in self.blocked_chats:
            raise BotAPIError(403, "Forbidden: bot was blocked by the user")

    def _check_flood(self, chat_id: int) -> None:
        limit = self.flood_limit_per_chat_per_second
        if not limit:
            return
        now = time.monotonic()
        window = max(1.0, 1.0 / limit)
        allowed = max(1, int(limit * window + 1e-9))
        stamps = self._flood.setdefault(chat_id, deque())
        while stamps and stamps[0] <= now - window:
            stamps.popleft()
        if len(stamps) >= allowed:
            retry = max(1, math.ceil(stamps[0] + window - now))
            raise BotAPIError(
                429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}
            )
        stamps.append(now)

    def _format_text(
        self,
        text: Any,
        parse_mode: Any,
        entities: Any,
        *,
        limit: int,
        empty_error: str | None,
        too_long_error: str,
    ) -> tuple[str, list[JSONDict]]:
        """Parse + validate a text/caption; returns the visible text and its entities."""
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise _bad("Bad Request: text must be a string")
        mode = parse_mode.lower() if isinstance(parse_mode, str) else None
        if entities is not None:
            if not isinstance(entities, list) or not all(
                isinstance(e, dict) and {"type", "offset", "length"} <= e.keys() for e in entities
            ):
                raise _bad("Bad Request: can't parse entities JSON object")
            plain, parsed = text, copy.deepcopy(entities)
        elif not mode:
            plain, parsed = text, []
        elif mode == "html":
            try:
                plain, parsed = parse_telegram_html(text, strict_ampersand=self.strict_ampersand)
            except TelegramHTMLError as exc:
                raise _bad(exc.description) from None
        elif mode in {"markdown", "markdownv2"}:
            raise _bad(
                f'Bad Request: unsupported parse_mode "{parse_mode}": FakeBotAPI only '
                "implements HTML (the project uses HTML only)"
            )
        else:
            raise _bad("Bad Request: unsupported parse_mode")
        plain, parsed = _trim_formatted(plain, parsed)
        if not plain and empty_error:
            raise _bad(empty_error)
        if utf16_len(plain) > limit:
            raise _bad(too_long_error)
        return plain, parsed

    def _format_message_text(self, params: Mapping[str, Any]) -> tuple[str, list[JSONDict]]:
        return self._format_text(
            _opt_str(params, "text"),
            params.get("parse_mode"),
            _json_param(params, "entities", list),
            limit=MAX_MESSAGE_LENGTH,
            empty_error="Bad Request: message text is empty",
            too_long_error="Bad Request: message is too long",
        )

    def _format_caption(self, params: Mapping[str, Any]) -> tuple[str, list[JSONDict]]:
        return self._format_text(
            _opt_str(params, "caption"),
            params.get("parse_mode"),
            _json_param(params, "caption_entities", list),
            limit=MAX_CAPTION_LENGTH,
            empty_error=None,
            too_long_error="Bad Request: message caption is too long",
        )

    def _validate_reply_markup(self, markup: Any, *, inline_only: bool) -> JSONDict | None:
        """Validate reply_markup; returns it (None for absent/empty inline keyboards)."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad(
                    'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup should '
                    "be an Array of Arrays"
                )
            if sum(len(row) for row in rows) > MAX_INLINE_BUTTONS:
                raise _bad("Bad Request: BUTTONS_TOO_MUCH")
            for row in rows:
                for button in row:
                    self._validate_inline_button(button)
            if not any(rows):
                return None
            return copy.deepcopy(markup)
        if inline_only:
            raise _bad("Bad Request: inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad(
                    'Bad Request: field "keyboard" of the ReplyKeyboardMarkup should be an '
                    "Array of Arrays"
                )
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str) or not text:
                        raise _bad("Bad Request: keyboard button text must be non-empty")
            return copy.deepcopy(markup)
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return copy.deepcopy(markup)
        raise _bad("Bad Request: can't parse reply keyboard markup JSON object")

    @staticmethod
    def _validate_inline_button(button: Any) -> None:
        prefix = "Bad Request: can't parse inline keyboard button: "
        if not isinstance(button, dict):
            raise _bad(prefix + "InlineKeyboardButton must be an Object")
        text = button.get("text")
        if not isinstance(text, str):
            raise _bad(prefix + 'Field "text" must be of type String')
        if not text.strip():
            raise _bad("Bad Request: BUTTON_TEXT_INVALID")
        kinds = [kind for kind in _BUTTON_KINDS if button.get(kind) is not None]
        if not kinds:
            raise _bad(prefix + "Text buttons are unallowed in the inline keyboard")
        if len(kinds) > 1:
            raise _bad(prefix + f"exactly one of the optional fields must be used, got {kinds}")
        kind = kinds[0]
        value = button[kind]
        if kind == "callback_data":
            if not isinstance(value, str) or not 1 <= len(value.encode("utf-8")) <= 64:
                raise _bad("Bad Request: BUTTON_DATA_INVALID")
        elif kind == "url":
            if not isinstance(value, str) or not re.match(r"(?i)(https?|tg)://\S", value):
                raise _bad("Bad Request: BUTTON_URL_INVALID")
        elif kind in {"switch_inline_query", "switch_inline_query_current_chat"}:
            if not isinstance(value, str):
                raise _bad(prefix + f'Field "{kind}" must be of type String')
        elif kind == "copy_text":
            copied = value.get("text") if isinstance(value, dict) else None
            if not isinstance(copied, str) or not 1 <= len(copied) <= 256:
                raise _bad("Bad Request: COPY_TEXT_INVALID")
        elif not isinstance(value, dict):
            raise _bad(prefix + f'Field "{kind}" must be an Object')

    def _reply_to(self, params: Mapping[str, Any], chat_id: int) -> JSONDict | None:
        reply_parameters = _json_param(params, "reply_parameters", dict)
        message_id = _opt_int(params, "reply_to_message_id")
        allow_missing = _opt_bool(params, "allow_sending_without_reply")
        if reply_parameters is not None:
            message_id = _opt_int(reply_parameters, "message_id")
            if message_id is None:
                raise _bad("Bad Request: message to be replied not found")
            allow_missing = allow_missing or _opt_bool(
                reply_parameters, "allow_sending_without_reply"
            )
            chat_id = _opt_int(reply_parameters, "chat_id") or chat_id
        if message_id is None:
            return None
        replied = self._known_message_dict(chat_id, message_id)
        if replied is None and not allow_missing:
            raise _bad("Bad Request: message to be replied not found")
        return replied

    def _known_message_dict(self, chat_id: int, message_id: int) -> JSONDict | None:
        sent = self._messages.get((chat_id, message_id))
        if sent is not None and not sent.deleted:
            return sent.to_message_dict()
        incoming = self._incoming_message(chat_id, message_id)
        return copy.deepcopy(incoming) if incoming is not None else None

    def _incoming_message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """A (not deleted) user message known from an update or a module-level factory."""
        key = (chat_id, message_id)
        if key in self._deleted_incoming:
            return None
        return self._incoming.get(key) or _WORLD.messages.get(key)

    def _store_message(self, params: JSONDict, chat_id: int, **fields: Any) -> SentMessage:
        message = SentMessage(
            chat_id=chat_id,
            message_id=self.next_message_id(chat_id),
            chat=self._chat_dict(chat_id),
            sender=self.bot_user,
            params=params,
            message_thread_id=_opt_int(params, "message_thread_id"),
            **fields,
        )
        self.sent.append(message)
        self._messages[(chat_id, message.message_id)] = message
        return message

    def _editable_message(self, params: Mapping[str, Any], chat_id: int) -> SentMessage:
        message_id = _opt_int(params, "message_id")
        if message_id is None:
            raise _bad("Bad Request: message identifier is not specified")
        message = self._messages.get((chat_id, message_id))
        if message is None or message.deleted:
            if self._incoming_message(chat_id, message_id) is not None:
                raise _bad("Bad Request: message can't be edited")
            raise _bad("Bad Request: message to edit not found")
        return message

    @staticmethod
    def _commands_key(scope: Mapping[str, Any] | None, language_code: str | None) -> str:
        if not scope or scope.get("type") == "default":
            key = "default"
        else:
            key = json.dumps(dict(scope), sort_keys=True, separators=(",", ":"))
        return f"{key}:{language_code}" if language_code else key

    def _scope(self, params: Mapping[str, Any]) -> JSONDict | None:
        scope = _json_param(params, "scope", dict)
        if scope is None:
            return None
        scope_type = scope.get("type")
        if scope_type not in _SCOPE_TYPES:
            raise _bad("Bad Request: unsupported bot command scope type")
        normalised = dict(scope)
        if scope_type in {"chat", "chat_administrators", "chat_member"}:
            normalised["chat_id"] = self._chat_id(scope)
        if scope_type == "chat_member":
            user_id = _opt_int(scope, "user_id")
            if user_id is None:
                raise _bad("Bad Request: invalid user_id specified")
            normalised["user_id"] = user_id
        return normalised

    def _language_code(self, params: Mapping[str, Any]) -> str:
        code = _opt_str(params, "language_code") or ""
        if code and not re.fullmatch(r"[a-z]{2}", code):
            raise _bad("Bad Request: invalid language code specified")
        return code

    # ------------------------------------------------------------------ methods

    async def _m_get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
        }

    async def _m_log_out(self, params: JSONDict) -> bool:
        return True

    async def _m_close(self, params: JSONDict) -> bool:
        return True

    def _select_updates(self, limit: int) -> list[JSONDict]:
        allowed = self.allowed_updates
        selected = []
        for update in self._updates:
            update_type = _update_type(update)
            if allowed:
                if update_type not in allowed:
                    continue
            elif update_type in UPDATE_TYPES_EXCLUDED_BY_DEFAULT:
                continue
            selected.append(copy.deepcopy(update))
            if len(selected) >= limit:
                break
        return selected

    async def _m_get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook and self.webhook.get("url"):
            raise BotAPIError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = _opt_int(params, "offset")
        limit = min(max(_opt_int(params, "limit") or 100, 1), 100)
        timeout = max(_opt_int(params, "timeout") or 0, 0)
        allowed = params.get("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise _bad("Bad Request: can't parse allowed_updates JSON object")
            self.allowed_updates = list(allowed)
        if offset is not None:
            if offset < 0:
                self._updates = self._updates[offset:]
            else:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.pending_long_polls += 1
        await self._notify()
        try:
            while True:
                selected = self._select_updates(limit)
                remaining = deadline - loop.time()
                if selected or self._closing or remaining <= 0:
                    return selected
                event = self._update_event
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except TimeoutError:
                    return self._select_updates(limit)
        finally:
            self.pending_long_polls -= 1

    async def _m_set_webhook(self, params: JSONDict) -> bool:
        url = _opt_str(params, "url") or ""
        if not url:
            self.webhook = None
            return True
        scheme = urlsplit(url).scheme
        if scheme not in {"http", "https"} or (self.require_https_webhook and scheme != "https"):
            raise _bad("Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = _opt_str(params, "secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(secret):
            raise _bad("Bad Request: bad webhook: secret token contains unallowed characters")
        max_connections = _opt_int(params, "max_connections")
        if max_connections is not None and not 1 <= max_connections <= 100:
            raise _bad("Bad Request: bad webhook: max_connections must be between 1 and 100")
        allowed = params.get("allowed_updates")
        if allowed is not None and not isinstance(allowed, list):
            raise _bad("Bad Request: can't parse allowed_updates JSON object")
        if allowed is not None:
            self.allowed_updates = list(allowed)
        if _opt_bool(params, "drop_pending_updates"):
            self._updates.clear()
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": allowed,
            "max_connections": max_connections,
            "ip_address": _opt_str(params, "ip_address"),
            "has_custom_certificate": isinstance(params.get("certificate"), UploadedFile),
        }
        return True

    async def _m_delete_webhook(self, params: JSONDict) -> bool:
        self.webhook = None
        if _opt_bool(params, "drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_get_webhook_info(self, params: JSONDict) -> JSONDict:
        webhook = self.webhook or {}
        info: JSONDict = {
            "url": webhook.get("url", ""),
            "has_custom_certificate": bool(webhook.get("has_custom_certificate")),
            "pending_update_count": len(self._updates),
        }
        if webhook.get("max_connections"):
            info["max_connections"] = webhook["max_connections"]
        if webhook.get("allowed_updates") is not None:
            info["allowed_updates"] = webhook["allowed_updates"]
        if webhook.get("ip_address"):
            info["ip_address"] = webhook["ip_address"]
        return info

    async def _m_send_message(self, params: JSONDict) -> JSONDict:
        chat_id = self._chat_id(params)
        plain, entities = self._format_message_text(params)
        markup = self._validate_reply_markup(params.get("reply_markup"), inline_only=False)
        self._check_chat_writable(chat_id)
        replied = self._reply_to(params, chat_id)
        self._check_flood(chat_id)
        message = self._store_message(
            params,
            chat_id,
            text=_opt_str(params, "text") or "",
            parse_mode=_opt_str(params, "parse_mode"),
            reply_markup=markup,
            plain=plain,
            entities=entities,
            reply_to_message=replied,
        )
        return message.to_message_dict()

    async def _m_send_document(self, params: JSONDict) -> JSONDict:
        chat_id = self._chat_id(params)
        document = params.get("document")
        content: bytes | None
        if isinstance(document, UploadedFile):
            if not document.content:
                raise _bad("Bad Request: file must be non-empty")
            file_id = f"BQAC-fake-{next(self._file_counter)}"
            stored_doc = self.add_file(
                file_id, document.content, document.filename, document.content_type
            )
            content, filename = document.content, document.filename
        elif isinstance(document, str) and document in self.files:
            stored = self.files[document]
            file_id, content, filename = stored.file_id, stored.content, stored.file_name
            stored_doc = stored.document_dict()
        elif isinstance(document, str) and re.match(r"https?://", document):
            file_id = f"BQAC-fake-{next(self._file_counter)}"
            filename = document.rstrip("/").rsplit("/", 1)[-1] or None
            stored_doc = self.add_file(file_id, b"", filename)
            self.files[file_id].content = None
            content = None
        elif document is None or document == "":
            raise _bad("Bad Request: there is no document in the request")
        else:
            raise _bad("Bad Request: wrong file identifier/HTTP URL specified")
        plain, entities = self._format_caption(params)
        markup = self._validate_reply_markup(params.get("reply_markup"), inline_only=False)
        self._check_chat_writable(chat_id)
        replied = self._reply_to(params, chat_id)
        self._check_flood(chat_id)
        message = self._store_message(
            params,
            chat_id,
            text=_opt_str(params, "caption") or "",
            parse_mode=_opt_str(params, "parse_mode"),
            reply_markup=markup,
            plain=plain,
            entities=entities,
            kind="document",
            document=content,
            filename=filename,
            file_id=file_id,
            file_unique_id=stored_doc["file_unique_id"],
            mime_type=stored_doc.get("mime_type"),
            reply_to_message=replied,
        )
        return message.to_message_dict()

    def _record_edit(
        self,
        method: str,
        params: JSONDict,
        message: SentMessage | None,
        *,
        plain: str | None,
        markup: JSONDict | None,
    ) -> None:
        self.edits.append(
            Edit(
                method=method,
                chat_id=None if message is None else message.chat_id,
                message_id=None if message is None else message.message_id,
                inline_message_id=_opt_str(params, "inline_message_id"),
                text=_opt_str(params, "text") if method == "editMessageText" else None,
                plain=plain,
                parse_mode=_opt_str(params, "parse_mode"),
                reply_markup=markup,
                previous_plain=None if message is None else message.plain,
                previous_reply_markup=None if message is None else message.reply_markup,
                at=time.time(),
            )
        )

    def _apply_edit(self, message: SentMessage) -> None:
        message.edit_date = _now()
        message.edit_count += 1

    async def _m_edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        plain, entities = self._format_message_text(params)
        markup = self._validate_reply_markup(params.get("reply_markup"), inline_only=True)
        if _opt_str(params, "inline_message_id"):
            self._record_edit("editMessageText", params, None, plain=plain, markup=markup)
            return True
        chat_id = self._chat_id(params)
        self._check_chat_writable(chat_id)
        message = self._editable_message(params, chat_id)
        if message.kind != "text":
            raise _bad("Bad Request: there is no text in the message to edit")
        if (message.plain, message.entities, message.reply_markup) == (plain, entities, markup):
            raise _bad(NOT_MODIFIED)
        self._check_flood(chat_id)
        self._record_edit("editMessageText", params, message, plain=plain, markup=markup)
        message.text = _opt_str(params, "text") or ""
        message.parse_mode = _opt_str(params, "parse_mode")
        message.plain, message.entities, message.reply_markup = plain, entities, markup
        self._apply_edit(message)
        return message.to_message_dict()

    async def _m_edit_message_caption(self, params: JSONDict) -> JSONDict | bool:
        plain, entities = self._format_caption(params)
        markup = self._validate_reply_markup(params.get("reply_markup"), inline_only=True)
        if _opt_str(params, "inline_message_id"):
            self._record_edit("editMessageCaption", params, None, plain=plain, markup=markup)
            return True
        chat_id = self._chat_id(params)
        self._check_chat_writable(chat_id)
        message = self._editable_message(params, chat_id)
        if message.kind == "text":
            raise _bad("Bad Request: there is no caption in the message to edit")
        if (message.plain, message.entities, message.reply_markup) == (plain, entities, markup):
            raise _bad(NOT_MODIFIED)
        self._check_flood(chat_id)
        self._record_edit("editMessageCaption", params, message, plain=plain, markup=markup)
        message.text = _opt_str(params, "caption") or ""
        message.parse_mode = _opt_str(params, "parse_mode")
        message.plain, message.entities, message.reply_markup = plain, entities, markup
        self._apply_edit(message)
        return message.to_message_dict()

    async def _m_edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        markup = self._validate_reply_markup(params.get("reply_markup"), inline_only=True)
        if _opt_str(params, "inline_message_id"):
            self._record_edit("editMessageReplyMarkup", params, None, plain=None, markup=markup)
            return True
        chat_id = self._chat_id(params)
        self._check_chat_writable(chat_id)
        message = self._editable_message(params, chat_id)
        if message.reply_markup == markup:
            raise _bad(NOT_MODIFIED)
        self._check_flood(chat_id)
        self._record_edit(
            "editMessageReplyMarkup", params, message, plain=message.plain, markup=markup
        )
        message.reply_markup = markup
        self._apply_edit(message)
        return message.to_message_dict()

    async def _m_delete_message(self, params: JSONDict) -> bool:
        chat_id = self._chat_id(params)
        message_id = _opt_int(params, "message_id")
        if message_id is None:
            raise _bad("Bad Request: message identifier is not specified")
        message = self._messages.get((chat_id, message_id))
        if message is not None and not message.deleted:
            message.deleted = True
        elif self._incoming_message(chat_id, message_id) is not None:
            self._deleted_incoming.add((chat_id, message_id))
        else:
            raise _bad("Bad Request: message to delete not found")
        self.deleted_messages.append((chat_id, message_id))
        return True

    async def _m_send_chat_action(self, params: JSONDict) -> bool:
        chat_id = self._chat_id(params)
        action = _opt_str(params, "action")
        if action not in CHAT_ACTIONS:
            raise _bad("Bad Request: wrong parameter action in request")
        self._check_chat_writable(chat_id)
        self.chat_actions.append((chat_id, action))
        return True

    async def _m_answer_callback_query(self, params: JSONDict) -> bool:
        query_id = _opt_str(params, "callback_query_id")
        known = query_id in self._callback_queries or query_id in _WORLD.callback_query_ids
        if not query_id or not known or self._callback_queries.get(query_id, False):
            raise _bad(QUERY_TOO_OLD)
        text = _opt_str(params, "text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_TEXT:
            raise _bad("Bad Request: MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = True
        self.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                text=text,
                show_alert=_opt_bool(params, "show_alert"),
                url=_opt_str(params, "url"),
                cache_time=_opt_int(params, "cache_time"),
                at=time.time(),
            )
        )
        return True

    def _validate_inline_result(self, result: Any) -> None:
        if not isinstance(result, dict):
            raise _bad("Bad Request: can't parse InlineQueryResult JSON object")
        if not isinstance(result.get("type"), str) or not result["type"]:
            raise _bad('Bad Request: field "type" must be of type String')
        result_id = result.get("id")
        if not isinstance(result_id, str) or not 1 <= len(result_id.encode("utf-8")) <= 64:
            raise _bad("Bad Request: RESULT_ID_INVALID")
        if result["type"] == "article":
            title = result.get("title")
            if not isinstance(title, str) or not title:
                raise _bad(
                    'Bad Request: can\'t parse InlineQueryResult: Field "title" must be of '
                    "type String"
                )
            if not isinstance(result.get("input_message_content"), dict):
                raise _bad(
                    "Bad Request: can't parse InlineQueryResult: Field "
                    '"input_message_content" must be of type Object'
                )
        content = result.get("input_message_content")
        if isinstance(content, dict) and "message_text" in content:
            self._format_text(
                content.get("message_text"),
                content.get("parse_mode"),
                content.get("entities"),
                limit=MAX_MESSAGE_LENGTH,
                empty_error="Bad Request: MESSAGE_EMPTY",
                too_long_error="Bad Request: MESSAGE_TOO_LONG",
            )
        if "caption" in result:
            self._format_text(
                result.get("caption"),
                result.get("parse_mode"),
                result.get("caption_entities"),
                limit=MAX_CAPTION_LENGTH,
                empty_error=None,
                too_long_error="Bad Request: MEDIA_CAPTION_TOO_LONG",
            )
        self._validate_reply_markup(result.get("reply_markup"), inline_only=True)

    async def _m_answer_inline_query(self, params: JSONDict) -> bool:
        query_id = _opt_str(params, "inline_query_id")
        known = query_id in self._inline_queries or query_id in _WORLD.inline_query_ids
        if not query_id or not known or self._inline_queries.get(query_id, False):
            raise _bad(QUERY_TOO_OLD)
        results = _json_param(params, "results", list)
        if results is None:
            raise _bad("Bad Request: can't parse inline query results JSON object")
        if len(results) > MAX_INLINE_RESULTS:
            raise _bad("Bad Request: RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            self._validate_inline_result(result)
            if result["id"] in seen:
                raise _bad("Bad Request: RESULT_ID_DUPLICATE")
            seen.add(result["id"])
        self._inline_queries[query_id] = True
        self.inline_answers.append(
            InlineAnswer(
                inline_query_id=query_id,
                results=copy.deepcopy(results),
                cache_time=_opt_int(params, "cache_time"),
                is_personal=_opt_bool(params, "is_personal"),
                next_offset=_opt_str(params, "next_offset"),
                button=params.get("button"),
                params=params,
                at=time.time(),
            )
        )
        return True

    async def _m_set_my_commands(self, params: JSONDict) -> bool:
        commands = _json_param(params, "commands", list)
        if commands is None:
            raise _bad("Bad Request: can't parse commands JSON object")
        if len(commands) > MAX_COMMANDS:
            raise _bad("Bad Request: too many commands specified")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("Bad Request: can't parse BotCommand JSON object")
            name = command.get("command")
            if not isinstance(name, str) or not _COMMAND_NAME_RE.fullmatch(name):
                raise _bad("Bad Request: BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(self._scope(params), self._language_code(params))
        if commands:
            self.my_commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self.my_commands.pop(key, None)
        return True

    async def _m_delete_my_commands(self, params: JSONDict) -> bool:
        key = self._commands_key(self._scope(params), self._language_code(params))
        self.my_commands.pop(key, None)
        return True

    async def _m_get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        key = self._commands_key(self._scope(params), self._language_code(params))
        return copy.deepcopy(self.my_commands.get(key, []))

    async def _m_set_my_description(self, params: JSONDict) -> bool:
        description = _opt_str(params, "description") or ""
        if len(description) > 512:
            raise _bad("Bad Request: BOT_DESCRIPTION_INVALID")
        self.my_descriptions[self._language_code(params)] = description
        return True

    async def _m_get_my_description(self, params: JSONDict) -> JSONDict:
        return {"description": self.my_descriptions.get(self._language_code(params), "")}

    async def _m_set_my_short_description(self, params: JSONDict) -> bool:
        short = _opt_str(params, "short_description") or ""
        if len(short) > 120:
            raise _bad("Bad Request: BOT_SHORT_DESCRIPTION_INVALID")
        self.my_short_descriptions[self._language_code(params)] = short
        return True

    async def _m_get_my_short_description(self, params: JSONDict) -> JSONDict:
        language = self._language_code(params)
        return {"short_description": self.my_short_descriptions.get(language, "")}

    async def _m_get_chat(self, params: JSONDict) -> JSONDict:
        chat_id = self._chat_id(params)
        info: JSONDict = {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        info.update(self._chat_dict(chat_id))
        info.update(self.chats.get(chat_id, {}))
        return info

    def _member_dict(self, chat_id: int, user_id: int) -> JSONDict:
        entry = self.chat_members.get((chat_id, user_id), "member")
        fields = {"status": entry} if isinstance(entry, str) else dict(entry)
        status = fields.pop("status", "member")
        user = fields.pop("user", None) or self._user_dict(user_id)
        chat_type = self._chat_dict(chat_id)["type"]
        return make_chat_member(user, status, chat_type=chat_type, **fields)

    async def _m_get_chat_member(self, params: JSONDict) -> JSONDict:
        chat_id = self._chat_id(params)
        user_id = _opt_int(params, "user_id")
        if user_id is None:
            raise _bad("Bad Request: invalid user_id specified")
        return self._member_dict(chat_id, user_id)

    async def _m_get_chat_administrators(self, params: JSONDict) -> list[JSONDict]:
        chat_id = self._chat_id(params)
        if self._chat_dict(chat_id)["type"] == "private":
            raise _bad("Bad Request: there are no administrators in the private chat")
        admins = []
        for (member_chat, user_id), entry in self.chat_members.items():
            status = entry if isinstance(entry, str) else entry.get("status", "member")
            if member_chat == chat_id and status in {"creator", "administrator"}:
                admins.append(self._member_dict(chat_id, user_id))
        return admins

    async def _m_get_file(self, params: JSONDict) -> JSONDict:
        file_id = _opt_str(params, "file_id")
        stored = self.files.get(file_id or "")
        if stored is None:
            raise _bad("Bad Request: invalid file_id")
        result: JSONDict = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.content is not None:
            result["file_size"] = len(stored.content)
            result["file_path"] = stored.file_path
        return result
