"""The one send budget (bot/delivery/budget.py): a sliding second of every message, replies
ahead of digests, 429s told apart, the digest rate adapting. A hand-moved clock: no sleeps."""

from __future__ import annotations

import asyncio

import pytest

from bot.delivery.budget import LEND, RESERVE, SendBudget
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


async def test_a_reply_to_a_full_window_waits_at_most_while_the_reserve_is_lent() -> None:
    waits = []
    for step in range(12):  # the reply comes at every moment of a digest's turn
        clock = ManualClock()
        budget = SendBudget(30, clock)
        for _ in range(90):
            await budget.digest()
        clock.advance(0.003 * step)
        started = clock.monotonic()
        await budget.reply()
        waits.append(clock.monotonic() - started)
    assert max(waits) <= LEND + 1e-9
    assert sum(1 for wait in waits if wait) < len(waits) / 2  # mostly not at all


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
    budget.others_digests = 10.0  # messages a second, none of them replies
    times = []
    for _ in range(100):
        await budget.digest()
        times.append(clock.monotonic())
    assert busiest_second(times) <= 30 - 10
    budget.others_digests = 0.0
    budget.replies_room = 3.0  # the bot's replies lately: their room is kept
    times = []
    for _ in range(100):
        await budget.digest()
        times.append(clock.monotonic())
    assert busiest_second(times) <= 30 - 3
