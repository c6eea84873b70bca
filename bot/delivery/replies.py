"""Replies through the send budget: PTB's rate-limiter hook around every Bot API call.

Every call a handler makes goes through `BudgetLimiter.process_request`. Calls that send or
edit a message count against the bot's one budget (bot/delivery/budget.py) and go ahead of
any digest; callback and inline query answers, chat actions and reads are not messages and
pass straight through. A reply answered 429 is sent again after `retry_after`, as long as
the whole wait stays within `MAX_WAIT` seconds; what still fails is logged, counted in
/metrics (`briefing_reply_messages{outcome="failed"}`) and raised to the handler as before.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.delivery.budget import SendBudget
from bot.transport.operations import record_bot_wide_flood, record_reply
from bot.transport.updates import PerChatUpdateProcessor

log = logging.getLogger(__name__)

MAX_WAIT = 10.0  # seconds a reply may spend waiting out 429s before it counts as failed

#: Bot API methods that send or edit a message (lower case): each counts against the budget.
MESSAGE_METHODS = frozenset(
    {
        "sendmessage", "senddocument", "sendphoto", "sendvideo", "sendaudio", "sendvoice",
        "sendanimation", "sendsticker", "sendmediagroup", "sendlocation", "sendvenue",
        "sendcontact", "sendpoll", "senddice", "copymessage", "copymessages",
        "forwardmessage", "forwardmessages", "editmessagetext", "editmessagecaption",
        "editmessagereplymarkup", "editmessagemedia", "sendinvoice", "sendpaidmedia",
    }
)  # fmt: skip

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]

# Parameters PTB adds from the bot's defaults to methods that don't take them (its
# `_send_message` always passes `parse_mode`); Telegram would ignore them, so they go.
_NOT_TAKEN = {"editmessagereplymarkup": ("parse_mode", "link_preview_options")}


def retry_seconds(exc: RetryAfter) -> float:
    """`retry_after` in seconds, whichever form PTB gives it in."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 deprecates the int form of retry_after
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class BudgetLimiter(BaseRateLimiter[None]):
    """Counts every message a handler sends in the send budget, first in line, and retries
    one that meets a 429 within `MAX_WAIT`."""

    def __init__(self, budget: SendBudget, max_wait: float = MAX_WAIT) -> None:
        self.budget = budget
        self.max_wait = max_wait
        self.count: Callable[[str], None] = lambda _outcome: None  # sent / retried / failed

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> JSONResult:
        for name in _NOT_TAKEN.get(endpoint.lower(), ()):
            data.pop(name, None)
        if endpoint.lower() not in MESSAGE_METHODS:
            return await callback(*args, **kwargs)
        waited = 0.0
        while True:
            await self.budget.reply()
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = max(0.0, retry_seconds(exc))
                self.budget.flood(wait)
                if waited + wait > self.max_wait:
                    self.count("failed")
                    log.warning(
                        "%s to chat %s failed: 429 after %.1f s of retries (retry_after %.0f s)",
                        endpoint, data.get("chat_id"), waited, wait,
                    )  # fmt: skip
                    raise
                self.count("retried")
                waited += wait
                await self.budget.clock.sleep(wait)
                continue
            self.count("sent")
            return result


BUDGET_KEY = "delivery.budget"


def attach(application: Any, budget: SendBudget) -> None:
    """Keep the application's budget where the digest worker finds it, tell it when an update
    is being handled, and count replies and bot-wide 429s in /metrics."""
    application.bot_data[BUDGET_KEY] = budget
    processor = application.update_processor
    if isinstance(processor, PerChatUpdateProcessor):  # digests leave room while one is handled
        budget.busy = lambda: processor.running > 0
    limiter = getattr(application.bot, "rate_limiter", None)
    if isinstance(limiter, BudgetLimiter):
        limiter.count = lambda outcome: record_reply(application, outcome)
    budget.on_bot_wide = lambda: record_bot_wide_flood(application)


def budget_of(application: Any) -> SendBudget | None:
    budget = application.bot_data.get(BUDGET_KEY)
    return budget if isinstance(budget, SendBudget) else None
