"""Checks shared by the methods: chat ids, writability, formatting, keyboards, replies."""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tests.fakebotapi.constants import (
    MAX_CAPTION_LENGTH,
    MAX_INLINE_BUTTONS,
    MAX_MESSAGE_LENGTH,
    JSONDict,
)
from tests.fakebotapi.factories import (
    _WORLD,
    make_chat,
    make_user,
)
from tests.fakebotapi.html import (
    TelegramHTMLError,
    _trim_formatted,
    parse_telegram_html,
    utf16_len,
)
from tests.fakebotapi.params import (
    _BUTTON_KINDS,
    _INT_RE,
    _SCOPE_TYPES,
    _json_param,
    _opt_bool,
    _opt_int,
    _opt_str,
)
from tests.fakebotapi.records import (
    BotAPIError,
    SentMessage,
    _bad,
)

if TYPE_CHECKING:
    pass


class ValidationMixin:
    """Part of `FakeBotAPI` (tests/fakebotapi/server.py)."""

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

    def _check_flood(self, chat_id: int, *, edit: bool = False) -> None:
        """Count a message against the bot-wide and per-chat limits (limits.py)."""
        self.limits.admit(chat_id, edit=edit)

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
