"""`AiohttpRequest`: python-telegram-bot's HTTP transport on aiohttp instead of httpx.

PTB sends every Bot API call through a `telegram.request.BaseRequest`; `HTTPXRequest` is the
default. This is the same contract on aiohttp — PTB still builds the request, maps every
error status (429 → RetryAfter, 403 → Forbidden, 400 → BadRequest or ChatMigrated, 5xx →
NetworkError) in `BaseRequest.post` and parses the answer; only the bytes on the wire move
differently.

Why: on this project's machine httpx + httpcore cost 1.3–1.8 ms of CPU per request (httpcore
scans every pooled connection on each request, so more requests in flight make each one
slower), which caps one bot process at a few hundred messages a second — below what a paid
broadcast may send. aiohttp's client does the same request for a fraction of that (measured
in docs/BENCHMARKS.md, "Digests").

Differences from `HTTPXRequest`, all deliberate:

* Calls without files go as a JSON body (Telegram accepts `application/json` for every
  method but uploads): `json.dumps` is cheaper than URL-encoding, on both ends.
* aiohttp has no per-write timeout. The whole request is bounded by connect + write + read
  timeouts together when all are finite, so a stalled upload still ends in `TimedOut`.
* The pool wait is our own semaphore, so that "every connection is busy" is reported as the
  same "Pool timeout" `TimedOut` httpx gives, not as a connect timeout.
* Like httpx, the proxy comes from `proxy` or from the environment (`HTTPS_PROXY`,
  `ALL_PROXY`, `NO_PROXY`, ...). aiohttp would look the environment up on every request
  (0.1 ms), so it is asked to only when a proxy variable is set at `initialize`.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.request
from typing import TYPE_CHECKING, Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

if TYPE_CHECKING:
    from telegram._utils.types import ODVInput

log = logging.getLogger(__name__)

_JSON = {"Content-Type": "application/json"}
_POOL_TIMEOUT = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* "
    "sent to Telegram. Consider adjusting the connection pool size or the pool timeout."
)


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on an `aiohttp.ClientSession` (one per instance, made in `initialize`).

    Arguments mirror `HTTPXRequest`: `connection_pool_size` is how many connections (and so
    requests in flight) at most; the timeouts are seconds (None: wait forever) and are the
    defaults for requests that don't pass their own; `media_write_timeout` replaces the write
    timeout for uploads; `proxy` is a proxy URL, and `trust_env` (as httpx's) lets the
    environment's proxy variables apply when `proxy` isn't given.
    """

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool",
        "_pool_size",
        "_pool_timeout",
        "_proxy",
        "_read_timeout",
        "_session",
        "_trust_env",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        proxy: str | None = None,
        trust_env: bool = True,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._pool: asyncio.Semaphore | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (seconds), as `BaseRequest` requires."""
        return self._read_timeout

    @property
    def connection_pool_size(self) -> int:
        return self._pool_size

    async def initialize(self) -> None:
        """Open the session (inside the running loop, as aiohttp wants); again after shutdown."""
        if self._session is not None and not self._session.closed:
            return
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._pool_size),
            headers={"User-Agent": self.USER_AGENT},
            timeout=aiohttp.ClientTimeout(total=None),  # per request, see `_timeout`
            skip_auto_headers=("Accept-Encoding",),  # Telegram's answers are small JSON
            trust_env=self._trust_env and self._proxy is None and bool(_env_proxies()),
        )
        self._pool = asyncio.Semaphore(self._pool_size)

    async def shutdown(self) -> None:
        """Close the session and its connections (idempotent)."""
        session, self._session = self._session, None
        if session is None or session.closed:
            log.debug("this AiohttpRequest is already shut down")
            return
        await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; return the status code and the body. `BaseRequest.post` turns
        error statuses into PTB's exceptions; here only transport trouble is mapped:
        timeouts → `TimedOut`, anything else aiohttp raises → `NetworkError`."""
        session, pool = self._session, self._pool
        if session is None or session.closed or pool is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = bool(request_data and request_data.contains_files)
        timeout = self._timeout(read_timeout, write_timeout, connect_timeout, files=files)
        body: dict[str, Any] = {"proxy": self._proxy} if self._proxy else {}
        if request_data is not None:
            if files:
                body["data"] = _form(request_data)
            else:
                body["data"] = request_data.json_payload
                body["headers"] = _JSON
        await self._acquire(pool, pool_timeout)
        try:
            async with session.request(method, url, timeout=timeout, **body) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's own timeouts subclass it too
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc
        finally:
            pool.release()

    async def _acquire(self, pool: asyncio.Semaphore, pool_timeout: ODVInput[float]) -> None:
        if not pool.locked():  # the common case: a free connection, no timer needed
            await pool.acquire()
            return
        wait = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        try:
            async with asyncio.timeout(wait):
                await pool.acquire()
        except TimeoutError as exc:
            raise TimedOut(_POOL_TIMEOUT) from exc

    def _timeout(
        self,
        read: ODVInput[float],
        write: ODVInput[float],
        connect: ODVInput[float],
        *,
        files: bool,
    ) -> aiohttp.ClientTimeout:
        # A timeout not passed is `BaseRequest.DEFAULT_NONE`, a DefaultValue (as in HTTPXRequest).
        read_s = self._read_timeout if isinstance(read, DefaultValue) else read
        connect_s = self._connect_timeout if isinstance(connect, DefaultValue) else connect
        if isinstance(write, DefaultValue):
            write_s = self._media_write_timeout if files else self._write_timeout
        else:
            write_s = write
        return _client_timeout(read_s, write_s, connect_s)


def _env_proxies() -> dict[str, str]:
    """Proxies set in the environment, by scheme (what httpx and aiohttp would use)."""
    return {k: v for k, v in urllib.request.getproxies().items() if k != "no"}


_TIMEOUTS: dict[tuple[float | None, float | None, float | None], aiohttp.ClientTimeout] = {}


def _client_timeout(
    read: float | None, write: float | None, connect: float | None
) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for PTB's: connect → `sock_connect`, read → `sock_read` (between two
    chunks of the answer), and the three together as `total` (aiohttp can't time a write).
    Cached: a bot uses a handful of combinations, and each request needs one."""
    key = (read, write, connect)
    timeout = _TIMEOUTS.get(key)
    if timeout is None:
        total: float | None
        if read is None or write is None or connect is None:
            total = None
        else:
            total = (read + write + connect) or None
        timeout = aiohttp.ClientTimeout(total=total, sock_connect=connect, sock_read=read)
        if len(_TIMEOUTS) < 64:
            _TIMEOUTS[key] = timeout
    return timeout


def _form(request_data: RequestData) -> aiohttp.FormData:
    """multipart/form-data for an upload: the parameters as text fields (JSON-encoded, as PTB
    gives them), the files as file parts."""
    form = aiohttp.FormData(quote_fields=False)
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
