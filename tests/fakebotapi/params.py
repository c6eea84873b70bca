"""Parameter decoding (form strings to ints, bools, JSON) and the fake's fixed tables."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from typing import Any

from tests.fakebotapi.constants import (
    JSONDict,
)
from tests.fakebotapi.records import (
    UploadedFile,
    _bad,
)

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
