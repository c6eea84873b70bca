"""The offline chat console: the real application and handlers, with Telegram replaced in-process.

A `BaseRequest` answers Bot API calls locally and prints what the bot sends, so typing
`/timeline` here runs exactly the code a Telegram user reaches. Press a button by its number.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from sqlalchemy import Engine
from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot.config import Settings

CONSOLE_TOKEN = "1000000:CONSOLE-OFFLINE-TOKEN-0000000000"
BOT_ID = 1000000
USER_ID = 4242
_TAG = re.compile(r"<(/?)(b|strong|i|em|u|s|code|pre|a|blockquote|tg-spoiler|span)[^>]*>")


def html_to_terminal(text: str, color: bool) -> str:
    """Telegram HTML as terminal text: bold and italics as ANSI when the terminal has colour."""
    styles = {"b": "1", "strong": "1", "i": "3", "em": "3", "u": "4", "code": "36", "pre": "36"}

    def swap(match: re.Match[str]) -> str:
        closing, tag = match.groups()
        if not color or tag not in styles:
            return ""
        return "\x1b[0m" if closing else f"\x1b[{styles[tag]}m"

    return html.unescape(_TAG.sub(swap, text))


class ConsoleRequest(BaseRequest):
    """Answers the Bot API methods the bot uses, printing messages instead of sending them."""

    def __init__(self, out: TextIO, color: bool = False) -> None:
        self.out = out
        self.color = color
        self.message_ids = itertools.count(1)
        self.buttons: list[dict[str, Any]] = []  # the last keyboard shown, numbered from 1
        self.last_message: dict[str, Any] | None = None
        self.callback_ids = itertools.count(1)

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        params: dict[str, Any] = {}
        if request_data is not None:
            params = {k: _loads(v) for k, v in request_data.json_parameters.items()}
        handler: Callable[[dict[str, Any]], Any] = getattr(
            self, f"_m_{api_method.lower()}", self._m_default
        )
        result = handler(params)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    # --- Bot API methods ----------------------------------------------------------------------

    def _m_default(self, _params: dict[str, Any]) -> Any:
        return True

    def _m_getme(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Briefing Bot",
                "username": "briefing_console_bot", "supports_inline_queries": True}  # fmt: skip

    def _message(self, params: dict[str, Any], text: str) -> dict[str, Any]:
        message = {
            "message_id": next(self.message_ids),
            "date": int(time.time()),
            "chat": {"id": int(params.get("chat_id", USER_ID)), "type": "private"},
            "from": self._m_getme({}),
            "text": text,
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    def _show(self, text: str, markup: dict[str, Any] | None, prefix: str = "") -> None:
        print(prefix + html_to_terminal(text, self.color), file=self.out)
        rows = (markup or {}).get("inline_keyboard") or []
        if rows:
            self.buttons = [b for row in rows for b in row]
            labels = "  ".join(f"[{i}] {b['text']}" for i, b in enumerate(self.buttons, 1))
            print(labels, file=self.out)
        print(file=self.out)

    def _m_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._message(params, params.get("text", ""))
        self._show(message["text"], params.get("reply_markup"))
        self.last_message = message
        return message

    def _m_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._message(params, params.get("text", ""))
        message["message_id"] = int(params.get("message_id", 0))
        self._show(message["text"], params.get("reply_markup"), prefix="(edited)\n")
        self.last_message = message
        return message

    def _m_answercallbackquery(self, params: dict[str, Any]) -> bool:
        if params.get("text"):
            print(f"({params['text']})\n", file=self.out)
        return True

    def _m_senddocument(self, params: dict[str, Any]) -> dict[str, Any]:
        caption = params.get("caption") or "(a document)"
        message = self._message(params, caption)
        self._show(f"📎 {caption}", None)
        return message

    def _m_getchatmember(self, params: dict[str, Any]) -> dict[str, Any]:
        user = {"id": int(params.get("user_id", USER_ID)), "is_bot": False, "first_name": "You"}
        return {"status": "creator", "user": user, "is_anonymous": False}

    def _m_getchat(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": int(params.get("chat_id", USER_ID)), "type": "private"}

    def _m_getmycommands(self, _params: dict[str, Any]) -> list[Any]:
        return []

    def _m_getupdates(self, _params: dict[str, Any]) -> list[Any]:
        return []


def _loads(value: str) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


class Console:
    """Reads lines, turns them into updates, and feeds them to the application."""

    def __init__(self, application: Any, request: ConsoleRequest) -> None:
        self.application = application
        self.request = request
        self.update_ids = itertools.count(1)
        self.user = {"id": USER_ID, "is_bot": False, "first_name": "You", "username": "you"}
        self.chat = {"id": USER_ID, "type": "private", "first_name": "You"}

    def update_for(self, line: str) -> Update | None:
        line = line.strip()
        if not line:
            return None
        if line.isdigit() and self.request.buttons:
            index = int(line) - 1
            if not 0 <= index < len(self.request.buttons):
                print(f"(there is no button {line})\n", file=self.request.out)
                return None
            data = self.request.buttons[index].get("callback_data")
            if data is None:
                print("(that button opens a link)\n", file=self.request.out)
                return None
            payload: dict[str, Any] = {
                "update_id": next(self.update_ids),
                "callback_query": {
                    "id": str(next(self.request.callback_ids)),
                    "from": self.user,
                    "chat_instance": "console",
                    "data": data,
                    "message": self.request.last_message,
                },
            }
        else:
            message: dict[str, Any] = {
                "message_id": next(self.request.message_ids),
                "date": int(time.time()),
                "chat": self.chat,
                "from": self.user,
                "text": line,
            }
            if line.startswith("/"):
                length = len(line.split()[0])
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
            payload = {"update_id": next(self.update_ids), "message": message}
        return Update.de_json(payload, self.application.bot)

    async def run(self, lines: TextIO) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if lines.isatty():
                print("you › ", end="", flush=True, file=self.request.out)
            line = await loop.run_in_executor(None, lines.readline)
            if not line or line.strip() in ("/quit", "/exit"):
                return
            update = self.update_for(line)
            if update is not None:
                await self.application.process_update(update)


async def _amain(
    settings: Settings, engine: Engine, lines: TextIO, out: TextIO, *, owner: bool
) -> None:
    from bot.app import build_application, post_init

    request = ConsoleRequest(out, color=out.isatty())
    # A newcomer reads as a reader does; curation is for whoever asks for it (--owner).
    if owner:
        settings = settings.model_copy(update={"admin_ids": settings.admin_ids | {USER_ID}})
    application = build_application(
        settings, engine, request=request, updates_request=request, token=CONSOLE_TOKEN
    )
    async with application:
        await post_init(application)
        await application.start()
        print("Briefing Bot — offline console. Type /help, a command, or a button's number; "
              "/quit to leave.", file=out)  # fmt: skip
        if not owner:
            print("To try moderators' commands: python -m bot console --owner\n", file=out)
        else:
            print("You have an owner's rights here: /modhelp lists them.\n", file=out)
        try:
            await Console(application, request).run(lines)
        finally:
            await application.stop()


def run_console(
    settings: Settings,
    engine: Engine,
    lines: TextIO | None = None,
    out: TextIO | None = None,
    *,
    owner: bool = False,
) -> int:
    try:
        asyncio.run(_amain(settings, engine, lines or sys.stdin, out or sys.stdout, owner=owner))
    except KeyboardInterrupt:
        pass
    return 0
