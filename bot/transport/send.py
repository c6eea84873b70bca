"""sendMessage without building a Message: the one place that uses PTB's request internals."""

from __future__ import annotations

import json

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import (
    TelegramError,
)
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

_NO_PREVIEW = json.dumps({"is_disabled": True})

# Seconds to wait for Telegram's answer to a digest message. A send that times out may have
# been delivered all the same, and its retry then delivers it twice: so wait long enough that
# only an outage, not a slow moment, makes a digest time out.
SEND_TIMEOUT = 30.0


async def send_html(bot: Bot, chat_id: int, text: str, *, paid: bool = False) -> int:
    """sendMessage with HTML and no link preview, through the bot's own transport; returns
    the message id.

    `bot.send_message` would build a whole `Message` (chat, sender, every entity) from each
    answer and walk PTB's defaults and keyword handling on the way out: about 0.3 ms of CPU
    a message, as much as the HTTP request itself on aiohttp — at 1,000 digest messages a
    second that is a third of a core, for a message id. So the request goes straight to the
    bot's `BaseRequest.post`, which is where PTB turns error answers into its exceptions
    (429 → RetryAfter, 403 → Forbidden, 400 → BadRequest, migrate_to_chat_id → ChatMigrated,
    5xx and transport trouble → NetworkError / TimedOut): the worker sees exactly what
    `send_message` would raise. The parameters are the ones `send_message` sent (the bot's
    defaults are HTML and no link previews); `allow_paid_broadcast` above the free 30/s. (An
    `AIORateLimiter`, were one configured, is not consulted: the worker paces itself.)
    """
    parameters = [
        RequestParameter("chat_id", str(chat_id), None),
        RequestParameter("text", text, None),
        RequestParameter("parse_mode", ParseMode.HTML.value, None),
        RequestParameter("link_preview_options", _NO_PREVIEW, None),
    ]
    if paid:
        parameters.append(RequestParameter("allow_paid_broadcast", "true", None))
    result = await bot.request.post(
        f"{bot.base_url}/sendMessage", RequestData(parameters), read_timeout=SEND_TIMEOUT
    )
    if not isinstance(result, dict) or "message_id" not in result:
        raise TelegramError(f"sendMessage answered {str(result)[:200]}")
    return int(result["message_id"])
