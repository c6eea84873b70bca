"""The bot's one send budget: every message counts, replies first, digests adapt to 429s.

Telegram's ~30 messages a second is per bot token, for replies, edits and digests together,
measured over a sliding second. `SendBudget` keeps the same window of what this process sent
(plus what other processes of the bot report, bot/delivery/shared.py) and admits:

* a reply (anything a handler sends or edits) whenever the window has room: it never waits
  behind a digest, only for the window itself;
* a digest message when no reply is waiting, the window has room to spare, and the digest
  pace allows: a token bucket at `digest_rate`, which adapts (AIMD) to what Telegram answers.

Room to spare: what other processes of the bot send is left to them, and room is kept for
replies. With other processes (bot/delivery/shared.py), that room is `replies_room`: the most
replies the whole bot (this process included) sent within one second lately; digests leave it
free, less the replies of this process already in the window (they are in it), and a reply of
this process counts the others' replies of the last second before it. On its own (or while that
room is less than our replies in the window plus one), `RESERVE` messages of the window are
kept for this process's next reply. Kept free at all times, the reserve would cost a thirtieth
of the rate; so while no update is in hand a digest may borrow it for the last `LEND` seconds
before its place would free anyway. A reply to an update that arrives then waits at most `LEND`
(10 ms); while an update is in hand (a handler runs before it answers) nothing is lent. At 30 a
second that is 29 messages per 1.00 s instead of per 1.01 s.

Telling 429s apart: Telegram answers 429 for one chat's pace, for reasons of its own (about
1 % at random), and when the bot as a whole is too fast. Only the last should slow the whole
broadcast. A 429 is taken as bot-wide when 429s cluster while the sender is near its rate:
at least `CLUSTER_MIN` of them within `CLUSTER_SECONDS`, making up at least `CLUSTER_SHARE`
of the messages sent in that time, while the last second's sends reached 80 % of the digest
rate. Then the digest rate is cut by `DECREASE` (at most once a second) and digests pause for
`retry_after`; otherwise only the chat pauses. Every second without a bot-wide 429 the rate
grows by `INCREASE` of the limit, back up to the limit (additive increase).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from bot.transport.runtime import FREE_RATE

WINDOW = 1.0  # seconds: Telegram's sliding window
GUARD = 0.01  # seconds added to our window: answers don't arrive exactly as sent
RESERVE = 1  # messages of each window kept free for replies while one may come
LEND = 0.01  # seconds: the reserve is lent to a digest this long before its place frees
CLUSTER_SECONDS = 2.0
CLUSTER_MIN = 3
CLUSTER_SHARE = 0.1
DECREASE = 0.7
INCREASE = 0.05
MIN_SHARE = 0.05  # the digest rate never drops below this share of the limit
REPLY_MEMORY = 5.0  # seconds our replies' times are kept (shared.py reads the last few)


class Clock:
    """Wall time for the database, monotonic time and sleeping for pacing."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SendBudget:
    """The bot-wide budget of `limit` messages a second (`BROADCAST_RATE`), one per process,
    shared by every sender in it (see the module docstring)."""

    def __init__(self, limit: float, clock: Clock | None = None) -> None:
        self.limit = limit
        self.clock = clock or Clock()
        self.digest_rate = float(limit)
        self.others = 0.0  # messages a second other processes of the bot send (shared.py)
        self.others_digests = 0.0  # of which digests (none, unless two lead at once)
        self.replies_room = 0.0  # the most replies the bot sent in one second lately (shared.py)
        self.others_replies: deque[float] = deque()  # when the others' replies were reported
        self.sent: deque[float] = deque()  # our sends in the last window
        self.reply_times: deque[float] = deque()  # our replies in the last REPLY_MEMORY
        self.floods: deque[float] = deque()  # 429s in the last CLUSTER_SECONDS
        self.recent: deque[float] = deque()  # our sends in the last CLUSTER_SECONDS
        self.replies_waiting = 0
        self.busy: Callable[[], bool] = lambda: False  # an update is in hand (a reply may come)
        self.paused_until = 0.0
        self.decreased_at = -1e9
        self.increased_at = 0.0
        self.replies_sent = 0  # every reply admitted, ever (other processes read the pace)
        self.digests_sent = 0
        self.local_floods = 0  # bot-wide 429s seen here (others' are not reported again)
        self.on_bot_wide: Callable[[], None] = lambda: None  # metrics
        self.on_reply: Callable[[], None] = lambda: None  # tell the others soon (shared.py)
        # A burst of a twentieth of a second's worth keeps high rates smooth without letting
        # a low rate (30/s) send more than one digest message at once.
        self._capacity = max(1.0, limit / 20)
        self._tokens = 1.0
        self._stamp = self.clock.monotonic()

    @property
    def paid(self) -> bool:
        """Above Telegram's free 30 a second, paid broadcasts must be asked for."""
        return self.limit > FREE_RATE

    # admission -------------------------------------------------------------------------

    def _room(self, now: float, keep: float, others: float) -> float:
        """0 if a message fits the window now (keeping `keep` free, counting `others`
        messages of other processes in it), else seconds to wait."""
        horizon = now - WINDOW - GUARD
        while self.sent and self.sent[0] <= horizon:
            self.sent.popleft()
        if len(self.sent) + others + keep < self.limit:
            return 0.0
        if not self.sent:
            return 0.05  # others fill the window: look again soon
        excess = int(len(self.sent) + others + keep - self.limit)
        index = min(len(self.sent) - 1, max(0, excess))
        return max(0.001, self.sent[index] - horizon)

    def _reserve(self, now: float) -> int:
        """Messages of the window digests leave free: `RESERVE`, lent to a digest only while
        no update is in hand and the oldest message leaves the window within `LEND` (so a
        reply finding the window full waits no longer than that)."""
        if self.busy() or not self.sent:
            return RESERVE if self.busy() else 0
        leaves_in = self.sent[0] - (now - WINDOW - GUARD)
        return 0 if leaves_in <= LEND else RESERVE

    def _replies_in_window(self, now: float) -> int:
        """Our replies still in the window (each is in `sent` too)."""
        while self.reply_times and self.reply_times[0] <= now - REPLY_MEMORY:
            self.reply_times.popleft()
        horizon = now - WINDOW - GUARD
        return sum(1 for at in self.reply_times if at > horizon)

    def _room_for_digest(self, now: float) -> float:
        """0 if a digest may go now, else seconds to wait (waking when the reserve may be
        lent rather than when it is free). The room kept for replies is the larger of the
        bot's replies a second lately (`replies_room`, ours in the window count towards it)
        and our replies in the window plus the reserve."""
        theirs = 0.0  # the room replies need beyond ours in the window
        if self.replies_room:
            theirs = max(0.0, self.replies_room - self._replies_in_window(now))
        others = self.others_digests * WINDOW + theirs
        keep = max(0.0, self._reserve(now) - theirs)  # the reserve may lie within that room
        wait = self._room(now, keep, others)
        if wait and keep and not self.busy() and not self._room(now, 0, others):
            return max(0.001, wait - LEND)  # the reserve's place frees later than LEND from now
        return wait

    def _others_replies_in_window(self, now: float) -> int:
        horizon = now - WINDOW
        while self.others_replies and self.others_replies[0] <= horizon:
            self.others_replies.popleft()
        return len(self.others_replies)

    def _admit(self, now: float) -> None:
        self.sent.append(now)
        self.recent.append(now)

    async def reply(self) -> None:
        """Wait (only if the window is full) and count one reply or edit."""
        self.replies_waiting += 1
        try:
            while wait := self._room(
                now := self.clock.monotonic(), 0, self._others_replies_in_window(now)
            ):
                await self.clock.sleep(wait)
        finally:
            self.replies_waiting -= 1
        now = self.clock.monotonic()
        self._admit(now)
        self.reply_times.append(now)
        self.replies_sent += 1
        self.on_reply()

    async def digest(self) -> None:
        """Wait for a digest message's turn and count it."""
        while True:
            now = self.clock.monotonic()
            self._grow(now)
            if now < self.paused_until:
                await self.clock.sleep(self.paused_until - now)
                continue
            if self.replies_waiting:
                await self.clock.sleep(0.005)
                continue
            earned = (now - self._stamp) * self.digest_rate
            self._tokens, self._stamp = min(self._capacity, self._tokens + earned), now
            if self._tokens < 1 - 1e-9:  # (float rounding must not leave us a hair short)
                await self.clock.sleep((1 - self._tokens) / self.digest_rate)
                continue
            if wait := self._room_for_digest(now):
                await self.clock.sleep(wait)
                continue
            self._tokens -= 1
            self._admit(now)
            self.digests_sent += 1
            return

    # what Telegram answered ------------------------------------------------------------

    def flood(self, retry_after: float) -> bool:
        """A 429 came back. True if it was bot-wide (the rate was cut and digests pause),
        False if it was one chat's or a transient one (the caller pauses just the chat)."""
        now = self.clock.monotonic()
        self.floods.append(now)
        horizon = now - CLUSTER_SECONDS
        while self.floods and self.floods[0] <= horizon:
            self.floods.popleft()
        while self.recent and self.recent[0] <= horizon:
            self.recent.popleft()
        last_second = sum(1 for at in self.recent if at > now - WINDOW)
        near_rate = last_second + self.others >= 0.8 * min(self.digest_rate, self.limit)
        share = len(self.floods) / max(1, len(self.recent))
        if len(self.floods) < CLUSTER_MIN or share < CLUSTER_SHARE or not near_rate:
            return False
        self.bot_wide(retry_after, now)
        return True

    def bot_wide(
        self, retry_after: float, now: float | None = None, *, local: bool = True
    ) -> None:
        """Slow down: the bot as a whole was too fast (seen here, or by another process)."""
        now = self.clock.monotonic() if now is None else now
        if local:
            self.local_floods += 1
            self.on_bot_wide()
        self.paused_until = max(self.paused_until, now + retry_after)
        if now - self.decreased_at >= WINDOW:
            self.decreased_at = self.increased_at = now
            self.digest_rate = max(self.limit * MIN_SHARE, self.digest_rate * DECREASE)

    def _grow(self, now: float) -> None:
        if self.digest_rate < self.limit and now - self.increased_at >= WINDOW:
            self.increased_at = now
            self.digest_rate = min(self.limit, self.digest_rate + self.limit * INCREASE)
