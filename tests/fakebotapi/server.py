"""The fake Bot API server: lifecycle, the HTTP layer, and the state it keeps."""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fakebotapi.constants import (
    DEFAULT_BOT_FIRST_NAME,
    DEFAULT_BOT_USERNAME,
    DEFAULT_TOKEN,
    JSONDict,
    MethodHandler,
    logger,
)
from tests.fakebotapi.inspection import InspectionMixin
from tests.fakebotapi.limits import Limits
from tests.fakebotapi.messages import MessageMethods
from tests.fakebotapi.methods import OtherMethods
from tests.fakebotapi.params import (
    _METHOD_NAMES,
    _normalise_params,
    _snake,
)
from tests.fakebotapi.records import (
    BotAPIError,
    Call,
    CallbackAnswer,
    Edit,
    InlineAnswer,
    SentMessage,
    StoredFile,
    UploadedFile,
    _bad,
    _Injected,
)
from tests.fakebotapi.schema import check_call, method_name
from tests.fakebotapi.updates import UpdatesMixin
from tests.fakebotapi.validation import ValidationMixin


class FakeBotAPI(InspectionMixin, UpdatesMixin, ValidationMixin, MessageMethods, OtherMethods):
    """Strict in-process fake of ``https://api.telegram.org`` (see the module docstring).

    Use as ``async with FakeBotAPI() as fake:`` (or ``await fake.start()`` /
    ``await fake.stop()``) and point PTB at ``f"{fake.url}/bot"`` /
    ``f"{fake.url}/file/bot"``.

    Inspection: :attr:`calls`, :meth:`calls_of`, :attr:`sent`, :meth:`messages_to`,
    :attr:`edits`, :attr:`callback_answers`, :attr:`inline_answers`, :attr:`my_commands`,
    :attr:`webhook`, :attr:`chat_actions`, :attr:`deleted_messages`.

    Waiting (no sleeps): :meth:`wait_for`, :meth:`wait_for_messages`, :meth:`wait_for_call`.

    Input: :meth:`push_update` plus ``make_*_update`` factories,
    :meth:`post_update_to_webhook`, :meth:`add_file`, :attr:`chat_members`, :attr:`chats`.

    Faults: :attr:`blocked_chats`, :attr:`migrated_chats`, :attr:`chat_failures`,
    :meth:`fail_next`, :attr:`limits` (bot-wide and per-chat windows, random 429s).

    Every call is checked against the Bot API schema (tests/fakebotapi/schema.py); a
    parameter Telegram does not know lands in :attr:`unknown_parameters` and fails the test
    when the fake stops (set :attr:`allow_unknown_parameters` to study one on purpose).
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = DEFAULT_BOT_USERNAME,
        *,
        bot_first_name: str = DEFAULT_BOT_FIRST_NAME,
        strict_ampersand: bool = True,
        limits: Limits | None = None,
    ) -> None:
        """Create (not start) the fake for ``token``; the bot id is the token's prefix."""
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.strict_ampersand = strict_ampersand
        self.url = ""
        self.port = 0

        self.calls: list[Call] = []
        self.sent: list[SentMessage] = []
        self.edits: list[Edit] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.inline_answers: list[InlineAnswer] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.deleted_messages: list[tuple[int, int]] = []
        self.file_downloads: list[str] = []
        self.webhook_deliveries: list[tuple[str, int]] = []
        self.server_errors: list[BaseException] = []

        #: commands by scope key: "default" or json.dumps(scope, sort_keys=True);
        #: ``":<language_code>"`` is appended when a language code was given.
        self.my_commands: dict[str, list[JSONDict]] = {}
        self.my_descriptions: dict[str, str] = {}
        self.my_short_descriptions: dict[str, str] = {}
        #: webhook settings from setWebhook (``url``, ``secret_token``, ...) or None.
        self.webhook: JSONDict | None = None
        #: remembered ``allowed_updates`` (None = Telegram's default set).
        self.allowed_updates: list[str] | None = None
        self.require_https_webhook = False

        #: known chats by id (Chat dicts; extra keys are returned by getChat).
        self.chats: dict[int, JSONDict] = {}
        #: known users by id (User dicts).
        self.users: dict[int, JSONDict] = {}
        #: (chat_id, user_id) -> status string or dict of ChatMember fields.
        self.chat_members: dict[tuple[int, int], str | JSONDict] = {}
        #: reject unknown numeric chat ids with "Bad Request: chat not found".
        self.strict_unknown_chats = False

        #: chats whose sends/edits/chat actions fail with 403 "bot was blocked by the user".
        self.blocked_chats: set[int] = set()
        #: old chat id -> new supergroup id; sends fail with 400 + migrate_to_chat_id.
        self.migrated_chats: dict[int, int] = {}
        #: chat_id -> (status, description) returned for any send/edit to that chat.
        self.chat_failures: dict[int, tuple[int, str]] = {}
        #: max accepted sends/edits per chat per second (sliding window) or None;
        #: exceeding it returns 429 with ``retry_after``.
        #: Telegram's sending limits, adjustable while running (tests/fakebotapi/limits.py).
        self.limits = Limits() if limits is None else limits
        #: (method, parameter) pairs the bot sent that the Bot API does not know.
        self.unknown_parameters: list[tuple[str, str]] = []
        self.allow_unknown_parameters = False

        self.files: dict[str, StoredFile] = {}
        self.pending_long_polls = 0

        self._messages: dict[tuple[int, int], SentMessage] = {}
        self._incoming: dict[tuple[int, int], JSONDict] = {}
        self._next_message_ids: dict[int, int] = {}
        self._updates: list[JSONDict] = []
        self._next_update_id = 1
        self._max_pushed_id = 0
        self._deleted_incoming: set[tuple[int, int]] = set()
        self._callback_queries: dict[str, bool] = {}
        self._inline_queries: dict[str, bool] = {}
        self._injected: dict[str, deque[_Injected]] = {}
        self._consumed: dict[int, int] = {}
        self._custom_methods: dict[str, tuple[str, MethodHandler]] = {}
        self._file_counter = itertools.count(1)
        self._update_event = asyncio.Event()
        self._cond = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._background: set[asyncio.Task[None]] = set()

        self._methods: dict[str, tuple[str, Callable[[JSONDict], Awaitable[Any]]]] = {
            name.lower(): (name, getattr(self, f"_m_{_snake(name)}")) for name in _METHOD_NAMES
        }

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeBotAPI:
        """Start the server."""
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the server."""
        await self.stop()

    async def start(self) -> FakeBotAPI:
        """Start listening on 127.0.0.1 (random free port); sets :attr:`url`."""
        if self._runner is not None:
            return self
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def stop(self) -> None:
        """Wake pending long polls and shut the server down."""
        if self._runner is None:
            return
        self._closing = True
        self._wake_pollers()
        runner, self._runner = self._runner, None
        await runner.cleanup()
        for task in list(self._background):
            task.cancel()
        if self.unknown_parameters and not self.allow_unknown_parameters:
            unknown = sorted(set(self.unknown_parameters))
            raise AssertionError(f"the bot sent parameters the Bot API does not know: {unknown}")

    @property
    def flood_limit_per_chat_per_second(self) -> float | None:
        """A strict extra per-chat window (messages a second), or None."""
        return self.limits.per_chat_per_second

    @flood_limit_per_chat_per_second.setter
    def flood_limit_per_chat_per_second(self, value: float | None) -> None:
        self.limits.per_chat_per_second = value

    @property
    def bot_user(self) -> JSONDict:
        """The bot's ``User`` dict (as in ``from`` of its messages)."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            return await self._handle_file(request)
        match = re.fullmatch(r"/bot([^/]*)/([^/]+)/?", path)
        if match is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        token, method = match.groups()
        known = self._methods.get(method.lower()) or self._custom_methods.get(method.lower())
        name = known[0] if known else method
        read_error: BotAPIError | None = None
        try:
            params = await self._read_params(request)
        except BotAPIError as exc:
            params, read_error = {}, exc
        call = Call(method=name, params=params, at=time.time())
        self.calls.append(call)
        await self._notify()
        try:
            if token != self.token:
                raise BotAPIError(401, "Unauthorized")
            if known is None:
                raise BotAPIError(404, "Not Found: method not found")
            if read_error is not None:
                raise read_error
            self._raise_injected(name)
            if method.lower() in self._methods and method.lower() not in self._custom_methods:
                self._check_schema(name, params)
            result = known[1](params)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
            status, body = 200, {"ok": True, "result": result}
        except BotAPIError as exc:
            status, body = exc.status, exc.body()
        except Exception as exc:  # a bug in the fake (or a custom handler)
            logger.exception("FakeBotAPI crashed handling %s", name)
            self.server_errors.append(exc)
            status = 500
            body = {
                "ok": False,
                "error_code": 500,
                "description": f"Internal Server Error: FakeBotAPI bug: {exc!r}",
            }
        call.status, call.response = status, body
        await self._notify()
        return web.json_response(body, status=status)

    def _check_schema(self, name: str, params: JSONDict) -> None:
        """400 for a missing or ill-typed parameter; remember the ones Telegram ignores."""
        schema_name = method_name(name)
        if schema_name is None:
            raise BotAPIError(404, "Not Found: method not found")
        for unknown in check_call(schema_name, params):
            self.unknown_parameters.append((schema_name, unknown))
            logger.error("%s: parameter %r is not in the Bot API", schema_name, unknown)

    async def _read_params(self, request: web.Request) -> JSONDict:
        raw: JSONDict = dict(request.query)
        if not request.body_exists:
            return _normalise_params(raw)
        content_type = request.content_type
        if content_type == "application/json":
            try:
                data = await request.json()
            except ValueError:
                raise _bad("Bad Request: can't parse JSON request body") from None
            if not isinstance(data, dict):
                raise _bad("Bad Request: request body must be a JSON object")
            raw.update(data)
        elif content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                content = await part.read()
                if part.filename is not None:
                    raw[part.name] = UploadedFile(
                        part.filename, bytes(content), part.headers.get("Content-Type")
                    )
                else:
                    raw[part.name] = bytes(content).decode("utf-8")
        elif content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            raw.update({key: str(value) for key, value in form.items()})
        return _normalise_params(raw)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        prefix = f"/file/bot{self.token}/"
        path = request.path
        self.file_downloads.append(path)
        await self._notify()
        if not path.startswith(prefix):
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        file_path = path[len(prefix) :]
        for stored in self.files.values():
            if stored.file_path == file_path and stored.content is not None:
                return web.Response(body=stored.content, content_type="application/octet-stream")
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    def _raise_injected(self, method: str) -> None:
        for key in (method.lower(), "*"):
            queue = self._injected.get(key)
            if queue:
                failure = queue.popleft()
                raise BotAPIError(failure.status, failure.description, failure.parameters)

    # ------------------------------------------------------------------ shared validation
