"""Update processing: different chats concurrently, one chat strictly in order.

PTB's `concurrent_updates(True)` drops ordering altogether, which would let a moderator's
guided /add flow see its steps out of order; fully sequential processing would let one slow
chat (an /import, a getChatMember round trip) hold up everyone. A lock per chat gives both.

The chat's lock is taken before one of the processor's concurrency slots, so updates queued
behind their own chat hold no slot: a chat with hundreds waiting delays no other chat.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

_UNBOUNDED = 1_000_000


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Serialises updates per chat (or per user for inline queries); runs chats in parallel."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        # PTB takes its own semaphore before `do_process_update`, i.e. before the chat's lock;
        # it is made too wide to bind, and the real limit is taken after the lock.
        super().__init__(_UNBOUNDED)
        self._slots = asyncio.BoundedSemaphore(max_concurrent_updates)
        self.running = 0  # updates being processed now, not those waiting for their chat
        # Locks vanish with the last waiter, so idle chats cost nothing.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    @staticmethod
    def _key(update: object) -> int | None:
        if not isinstance(update, Update):
            return None
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
        return None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = self._key(update)
        if key is None:
            await self._run(coroutine)
            return
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        async with lock:  # first the chat's turn, then a slot
            await self._run(coroutine)

    async def _run(self, coroutine: Awaitable[Any]) -> None:
        async with self._slots:
            self.running += 1
            try:
                await coroutine
            finally:
                self.running -= 1

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
