"""Per-chat ordering: one chat's updates never overlap; different chats run side by side."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.transport.updates import PerChatUpdateProcessor
from tests.fakebotapi import make_message_update


def _update(chat_id: int) -> Update:
    return Update.de_json(make_message_update("hi", chat_id=chat_id, user_id=chat_id), None)


async def test_same_chat_is_serialised_and_other_chats_are_not() -> None:
    processor = PerChatUpdateProcessor(8)
    release = asyncio.Event()
    order: list[str] = []

    async def slow(name: str) -> None:
        order.append(f"start {name}")
        await release.wait()
        order.append(f"end {name}")

    async def quick(name: str) -> None:
        order.append(f"start {name}")
        order.append(f"end {name}")

    first = asyncio.create_task(processor.process_update(_update(1), slow("a1")))
    second = asyncio.create_task(processor.process_update(_update(1), quick("a2")))
    other = asyncio.create_task(processor.process_update(_update(2), quick("b1")))
    await other  # chat 2 is not held up by chat 1's slow update
    assert order == ["start a1", "start b1", "end b1"]
    release.set()
    await asyncio.gather(first, second)
    assert order[3:] == ["end a1", "start a2", "end a2"]


async def test_a_chat_with_many_queued_updates_leaves_every_slot_to_others() -> None:
    processor = PerChatUpdateProcessor(4)
    release = asyncio.Event()

    async def held() -> None:
        await release.wait()

    queued = [
        asyncio.create_task(processor.process_update(_update(1), held())) for _ in range(200)
    ]
    await asyncio.sleep(0)  # all of chat 1's updates are queued now
    answered = asyncio.Event()

    async def answer() -> None:
        answered.set()

    other = asyncio.create_task(processor.process_update(_update(2), answer()))
    await asyncio.wait_for(other, 1)  # a slot was free: chat 1 holds only the one it uses
    assert answered.is_set()
    assert processor.running <= 1
    release.set()
    await asyncio.gather(*queued)
