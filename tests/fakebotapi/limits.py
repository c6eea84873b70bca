"""Telegram's sending limits, as the fake enforces them: a bot-wide sliding one-second window
counting every message (sends and edits, whichever process sent them), per-chat windows (about
one message a second in a private chat, 20 a minute in a group), and random 429s.

Everything is adjustable while the fake runs (`fake.limits.bot_per_second = 20` mid-broadcast),
and time comes from `clock` (monotonic seconds), which a test may replace to be deterministic.
Callback and inline query answers, chat actions and deletions are not messages and don't count;
edits count bot-wide only.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fakebotapi.records import BotAPIError

#: The methods that send or edit a message (as bot/delivery/replies.py counts them).
MESSAGE_METHODS = frozenset(
    {
        "sendmessage", "senddocument", "sendphoto", "sendvideo", "sendaudio", "sendvoice",
        "sendanimation", "sendsticker", "sendmediagroup", "sendlocation", "sendvenue",
        "sendcontact", "sendpoll", "senddice", "copymessage", "copymessages",
        "forwardmessage", "forwardmessages", "editmessagetext", "editmessagecaption",
        "editmessagereplymarkup", "editmessagemedia", "sendinvoice", "sendpaidmedia",
    }
)  # fmt: skip


def _flood(retry_after: int) -> BotAPIError:
    retry = max(1, retry_after)
    return BotAPIError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})


class Window:
    """At most `limit` events in any `seconds`-long sliding window."""

    def __init__(self) -> None:
        self.stamps: deque[float] = deque()

    def admit(self, now: float, limit: int, seconds: float) -> float:
        """Record an event at `now` and return 0, or return how long until one fits."""
        while self.stamps and self.stamps[0] <= now - seconds:
            self.stamps.popleft()
        if len(self.stamps) >= limit:
            return self.stamps[len(self.stamps) - limit] + seconds - now
        self.stamps.append(now)
        return 0.0


@dataclass
class Limits:
    """The limits of one bot token (None switches a limit off).

    `bot_per_second`: messages in any sliding second, bot-wide (Telegram: about 30; paid
    broadcasts up to 1,000). `private_per_window` / `private_window`: one private chat
    (Telegram: "about one message a second"; off by default, because Telegram lets a bot
    answer every message a person sends and the tests type far faster than people; the
    benchmarks and the tests of pacing turn it on). `group_per_window` / `group_window`: one
    group or channel (20 a minute).
    `flood_ratio`: the share of message calls answered 429 at random (`flood_retry_after` s),
    as Telegram does for reasons of its own. `per_chat_per_second`: an extra, stricter
    per-chat window (any chat type), for tests.
    """

    bot_per_second: int | None = 30
    private_per_window: int | None = None
    private_window: float = 1.0
    group_per_window: int | None = 20
    group_window: float = 60.0
    per_chat_per_second: float | None = None
    flood_ratio: float = 0.0
    flood_retry_after: int = 1
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=lambda: random.Random(12))
    #: what happened: accepted message times, and 429s by cause
    accepted: list[float] = field(default_factory=list)
    refused_bot: int = 0
    refused_chat: int = 0
    injected: int = 0
    _bot: Window = field(default_factory=Window)
    _chats: dict[int, Window] = field(default_factory=dict)
    _strict: dict[int, Window] = field(default_factory=dict)

    def admit(self, chat_id: int, *, edit: bool = False) -> None:
        """Count one message to `chat_id`, or raise the 429 Telegram would answer. An edit
        counts bot-wide but not against its chat's window (a reader paging with buttons is not
        a flood of new messages)."""
        if self.flood_ratio and self.rng.random() < self.flood_ratio:
            self.injected += 1
            raise _flood(self.flood_retry_after)
        now = self.clock()
        wait = 0.0 if edit else self._chat_wait(chat_id, now)
        if wait:
            self.refused_chat += 1
            raise _flood(math.ceil(wait))
        if self.bot_per_second:
            wait = self._bot.admit(now, self.bot_per_second, 1.0)
            if wait:
                if not edit:
                    self._forget(chat_id)
                self.refused_bot += 1
                raise _flood(math.ceil(wait))
        self.accepted.append(now)

    def _chat_wait(self, chat_id: int, now: float) -> float:
        if self.per_chat_per_second:
            seconds = max(1.0, 1.0 / self.per_chat_per_second)
            limit = max(1, int(self.per_chat_per_second * seconds + 1e-9))
            wait = self._strict.setdefault(chat_id, Window()).admit(now, limit, seconds)
            if wait:
                return wait
        if chat_id > 0:
            limit_count, seconds = self.private_per_window, self.private_window
        else:
            limit_count, seconds = self.group_per_window, self.group_window
        if not limit_count:
            return 0.0
        wait = self._chats.setdefault(chat_id, Window()).admit(now, limit_count, seconds)
        if wait and self.per_chat_per_second:
            self._strict[chat_id].stamps.pop()  # refused: not sent after all
        return wait

    def _forget(self, chat_id: int) -> None:
        """A message refused bot-wide was not sent: it doesn't count against its chat."""
        for windows in (self._chats, self._strict):
            window = windows.get(chat_id)
            if window and window.stamps:
                window.stamps.pop()

    @property
    def seen(self) -> int:
        """Message calls counted so far, accepted or refused."""
        return len(self.accepted) + self.refused_bot + self.refused_chat + self.injected

    def rate(self, since: float, until: float | None = None) -> float:
        """Accepted messages a second between two clock readings."""
        end = self.clock() if until is None else until
        count = sum(1 for at in self.accepted if since <= at <= end)
        return count / max(1e-9, end - since)
