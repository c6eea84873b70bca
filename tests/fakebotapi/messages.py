"""The message methods: send, edit, delete, chat actions, callback answers."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from tests.fakebotapi.constants import (
    CHAT_ACTIONS,
    MAX_CALLBACK_ANSWER_TEXT,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    JSONDict,
    _now,
)
from tests.fakebotapi.factories import (
    _WORLD,
)
from tests.fakebotapi.params import (
    _opt_bool,
    _opt_int,
    _opt_str,
)
from tests.fakebotapi.records import (
    CallbackAnswer,
    Edit,
    SentMessage,
    UploadedFile,
    _bad,
)

if TYPE_CHECKING:
    pass


class MessageMethods:
    """Part of `FakeBotAPI` (tests/fakebotapi/server.py)."""

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
        self._check_flood(chat_id, edit=True)
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
        self._check_flood(chat_id, edit=True)
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
        self._check_flood(chat_id, edit=True)
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
