"""Update factories (messages, callbacks, inline queries, member changes) and what they made."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from tests.fakebotapi.constants import (
    _MESSAGE_UPDATE_KEYS,
    DEFAULT_BOT_FIRST_NAME,
    DEFAULT_BOT_USERNAME,
    DEFAULT_CHANNEL_ID,
    DEFAULT_GROUP_ID,
    DEFAULT_SUPERGROUP_ID,
    DEFAULT_USER_ID,
    JSONDict,
    _now,
)
from tests.fakebotapi.html import (
    _message_ids,
    _query_ids,
    _update_ids,
    utf16_len,
)
from tests.fakebotapi.records import (
    SentMessage,
)


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
    language_code: str | None = "en",
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
        message["from"] = make_user(
            user_id, username=username, first_name=first_name, language_code=language_code
        )
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
    language_code: str | None = "en",
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
                "from": make_user(
                    user_id, username=username, first_name=first_name, language_code=language_code
                ),
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
