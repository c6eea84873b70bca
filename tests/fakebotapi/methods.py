"""Inline answers, commands, descriptions, chats, members and files."""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

from tests.fakebotapi.constants import (
    MAX_CAPTION_LENGTH,
    MAX_COMMANDS,
    MAX_INLINE_RESULTS,
    MAX_MESSAGE_LENGTH,
    QUERY_TOO_OLD,
    JSONDict,
)
from tests.fakebotapi.factories import (
    _WORLD,
    make_chat_member,
)
from tests.fakebotapi.params import (
    _COMMAND_NAME_RE,
    _json_param,
    _opt_bool,
    _opt_int,
    _opt_str,
)
from tests.fakebotapi.records import (
    InlineAnswer,
    _bad,
)

if TYPE_CHECKING:
    pass


class OtherMethods:
    """Part of `FakeBotAPI` (tests/fakebotapi/server.py)."""

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
