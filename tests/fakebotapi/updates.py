"""Incoming updates: the registry of known chats and messages, long polling and webhooks."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections import deque
from collections.abc import Mapping
from types import EllipsisType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout

from tests.fakebotapi.constants import (
    _MESSAGE_UPDATE_KEYS,
    DEFAULT_CHANNEL_ID,
    DEFAULT_USER_ID,
    UPDATE_TYPES_EXCLUDED_BY_DEFAULT,
    JSONDict,
    MethodHandler,
)
from tests.fakebotapi.factories import (
    _default_chat_id,
    _update_type,
    make_callback_update,
    make_channel_post_update,
    make_inline_query_update,
    make_message_update,
    make_my_chat_member_update,
)
from tests.fakebotapi.params import (
    _LOOPBACK_HOSTS,
    _SECRET_TOKEN_RE,
    _opt_bool,
    _opt_int,
    _opt_str,
)
from tests.fakebotapi.records import (
    BotAPIError,
    SentMessage,
    StoredFile,
    UploadedFile,
    _bad,
    _Injected,
)

if TYPE_CHECKING:
    pass


class UpdatesMixin:
    """Part of `FakeBotAPI` (tests/fakebotapi/server.py)."""

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
