"""Looking at what the bot did, and waiting for it without sleeps."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tests.fakebotapi.constants import (
    JSONDict,
)
from tests.fakebotapi.params import (
    _jsonable,
)
from tests.fakebotapi.records import (
    Call,
    SentMessage,
)

if TYPE_CHECKING:
    from tests.fakebotapi.server import FakeBotAPI


class InspectionMixin:
    """Part of `FakeBotAPI` (tests/fakebotapi/server.py)."""

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
