"""The one send budget (bot/delivery/budget.py): a sliding second of every message, replies
ahead of digests, 429s told apart, the digest rate adapting. A hand-moved clock: no sleeps."""

from __future__ import annotations

import asyncio

import pytest

from bot.delivery.budget import GUARD, RESERVE, WINDOW, SendBudget
from tests.clock import ManualClock


def busiest_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


async def test_digests_fill_the_window_but_never_overrun_it() -> None:
    clock = ManualClock()
    budget = SendBudget(30, clock)
    times = []
    for _ in range(300):
        await budget.digest()
        times.append(clock.monotonic())
    assert busiest_second(times) <= 30
    assert 300 / times[-1] >= 0.97 * 30  # no reply can come: nothing is kept back


async def test_while_an_update_is_in_hand_digests_leave_its_reply_room() -> None:
    clock = ManualClock()
    budget = SendBudget(30, clock)
    handling = [False]
    budget.busy = lambda: handling[0]
    for _ in range(90):  # a full window of digests: the reserve was lent
        await budget.digest()
    handling[0] = True  # an update arrives: no digest takes the window's next free place
    digests = asyncio.create_task(budget.digest())
    await asyncio.sleep(0)
    clock.advance(1 / 30)  # the handler works; the oldest message leaves the window
    await budget.reply()  # its answer finds room
    answered = clock.monotonic()
    await digests
    assert clock.monotonic() > answered  # the digest waited for the answer, not the reverse
    times = []
    for _ in range(90):
        await budget.digest()
        times.append(clock.monotonic())
    assert busiest_second(times) <= 30 - RESERVE


async def test_a_reply_to_a_full_window_waits_only_for_the_oldest_message_to_leave() -> None:
    clock = ManualClock()
    budget = SendBudget(30, clock)
    for _ in range(90):
        await budget.digest()
    oldest = budget.sent[0]
    started = clock.monotonic()
    await budget.reply()
    assert clock.monotonic() == pytest.approx(oldest + WINDOW + GUARD)
    assert clock.monotonic() - started < 0.05  # about one digest's turn at 30 a second


async def test_replies_count_and_go_first() -> None:
    clock = ManualClock()
    budget = SendBudget(10, clock)
    for _ in range(9):
        await budget.reply()  # nine replies fill the window but one
    started = clock.monotonic()
    await budget.reply()  # the tenth still fits: replies don't keep a reserve
    assert clock.monotonic() == started
    await budget.digest()  # a digest waits for the window to slide
    assert clock.monotonic() > started
    budget.replies_waiting = 1  # a reply is waiting: digests hold back
    waiting = asyncio.create_task(budget.digest())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done()
    budget.replies_waiting = 0
    await waiting


async def test_a_stray_429_pauses_only_the_chat() -> None:
    clock = ManualClock()
    budget = SendBudget(30, clock)
    for _ in range(60):
        await budget.digest()
    assert budget.flood(1.0) is False
    clock.advance(5)
    assert budget.flood(1.0) is False
    assert budget.digest_rate == 30


async def test_clustered_429s_near_the_rate_cut_it_and_it_grows_back() -> None:
    clock = ManualClock()
    budget = SendBudget(30, clock)
    for _ in range(45):
        await budget.digest()
    verdicts = [budget.flood(1.0) for _ in range(6)]
    assert verdicts[:2] == [False, False] and verdicts[-1] is True
    assert budget.digest_rate == pytest.approx(30 * 0.7)
    assert budget.paused_until >= clock.monotonic() + 1.0
    for _ in range(200):
        await budget.digest()
    assert budget.digest_rate == 30


async def test_what_other_processes_send_leaves_less_for_digests() -> None:
    clock = ManualClock()
    budget = SendBudget(30, clock)
    budget.others = 10.0  # messages a second, none of them replies
    times = []
    for _ in range(100):
        await budget.digest()
        times.append(clock.monotonic())
    assert busiest_second(times) <= 30 - 10
    budget.others_replies = budget.others = 3.0  # other processes answer: their room is kept
    times = []
    for _ in range(100):
        await budget.digest()
        times.append(clock.monotonic())
    assert busiest_second(times) <= 30 - 3
