"""The error handler: log every error, tell the user politely, report to the developer chat.

Reports are deduplicated: one per kind of error (its type and where it was raised) per
`REPORT_WINDOW`, the next one saying how many were held back, so nobody can flood the
developer chat by repeating whatever fails.
"""

from __future__ import annotations

import html
import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from bot.context import DEPS_KEY, Deps
from bot.i18n import translator
from bot.language import known_language
from bot.logging_setup import RedactingFilter
from bot.transport import operations

log = logging.getLogger(__name__)

REPORTS_KEY = "briefing_error_reports"
REPORT_WINDOW = 600.0  # seconds between two reports of the same kind of error


class ErrorReports:
    """Which errors to report now; the rest are counted until their kind may be reported."""

    def __init__(
        self, window: float = REPORT_WINDOW, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window, self.clock = window, clock
        self._last: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}

    @staticmethod
    def kind_of(error: BaseException) -> tuple[str, str]:
        frames = traceback.extract_tb(error.__traceback__)
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        return type(error).__name__, where

    def admit(self, error: BaseException) -> int | None:
        """None to hold this report back; else how many of its kind were held back before."""
        kind, now = self.kind_of(error), self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.window:
            self._held[kind] = self._held.get(kind, 0) + 1
            return None
        self._last[kind] = now
        return self._held.pop(kind, 0)


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log every error with its context, tell the user politely, and ping the developer chat."""
    error = context.error
    operations.count_error(context.application, error)
    where: dict[str, Any] = {}
    if isinstance(update, Update):
        where["update_id"] = update.update_id
        if update.effective_chat:
            where["chat_id"] = update.effective_chat.id
        if update.effective_user:
            where["user_id"] = update.effective_user.id
        message = update.effective_message
        if message and message.text:
            where["command"] = message.text.split()[0][:40]
    log.error(
        "error while handling update %s: %r", where or update, error, exc_info=error, extra=where
    )
    if isinstance(update, Update):
        # What the chat is known to read, without the database: it may be what failed.
        _ = translator(known_language(update, context)).gettext
        try:
            if update.callback_query:
                await update.callback_query.answer(_("Sorry, that failed. Please try again."))
            elif update.effective_chat and update.effective_message:
                await context.bot.send_message(
                    update.effective_chat.id,
                    _(
                        "Sorry, something went wrong on my side. It has been logged; "
                        "please try again in a moment."
                    ),
                )
        except Exception:
            log.warning("could not tell the user about the error", exc_info=True)
    deps: Deps | None = context.bot_data.get(DEPS_KEY)
    chat_id = deps.settings.developer_chat_id if deps else None
    if deps and chat_id and error is not None:
        reports = context.bot_data.setdefault(REPORTS_KEY, ErrorReports())
        repeats = reports.admit(error)
        if repeats is None:
            return  # this kind was reported a moment ago; the next report counts it
        trace = "".join(traceback.format_exception(None, error, error.__traceback__))
        # The report leaves the process like a log line does: the same redaction applies.
        secrets = [deps.settings.token or ""]
        if deps.settings.webhook_secret:
            secrets.append(deps.settings.webhook_secret.get_secret_value())
        trace = RedactingFilter(secrets).redact(trace)
        again = f" (and {repeats} more like it since the last report)" if repeats else ""
        text = (
            f"<b>Error</b>{again} {html.escape(str(where))}\n"
            f"<pre>{html.escape(trace[-3500:])}</pre>"
        )
        try:
            await context.bot.send_message(chat_id, text)
        except Exception:
            log.warning("could not report the error to the developer chat", exc_info=True)
