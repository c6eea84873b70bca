"""What the fake records and answers: errors, calls, sent messages, edits, answers, files."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.fakebotapi.constants import (
    JSONDict,
    _now,
)
from tests.fakebotapi.html import copy_entities


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
                    message["caption_entities"] = copy_entities(self.entities)
        else:
            message["text"] = self.plain
            if self.entities:
                message["entities"] = copy_entities(self.entities)
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
