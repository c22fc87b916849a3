"""The CRM API's door: the key is checked before anything else is read, and every request is bounded.

`Guard` is a pure ASGI middleware (not a FastAPI dependency): FastAPI reads and parses a route's
JSON body before it runs the route's dependencies, so a key checked in a dependency comes after
an anonymous client's whole body is in memory. The guard answers, in this order and before the
application sees the request:

1. 431 when a header is too large (the server, `server_config`, already refuses more than
   `SERVER_HEADER_BYTES` of headers with a 400 and closes the connection);
2. 429 with `Retry-After` when the client address has failed authentication too often
   (`FailedAuthThrottle`);
3. 401 when the key is missing, unknown or revoked, without reading a byte of the body;
4. 413 when the body is larger than `MAX_BODY_BYTES` (from `Content-Length` before reading, or
   as soon as a body sent without one has grown past it).

The key holder it found is left in the request's state for the routes (`KEY_HOLDER_STATE`).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liftoff.apps.crm_api import auth

# A record is a few hundred bytes; a megabyte is thousands of records' worth.
MAX_BODY_BYTES = 1024 * 1024
# One header's value (a key is 47 characters, a browser's cookie a few KB) and all of them together.
MAX_HEADER_BYTES = 8 * 1024
MAX_HEADERS_BYTES = 32 * 1024
# The server's own limit on an unfinished request head (h11's max_incomplete_event_size).
SERVER_HEADER_BYTES = 64 * 1024
# Paths anyone may read: liveness, the spec and its Swagger page (no data behind them).
PUBLIC_PATHS = ("/health", "/docs", "/openapi.json")
PUBLIC_PREFIXES = ("/static/",)
KEY_HOLDER_STATE = "api_key_holder"


class FailedAuthThrottle:
    """Failed authentications per client address, as a token bucket: `burst` failures at once,
    then one more every `1 / refill_per_second` seconds. An address with no failure left gets a
    429 on every request that needs a key (a right key included: otherwise a guesser would still
    learn which guess was right).

    Per process and in memory: each API process (replica or uvicorn worker) counts on its own,
    and a restart forgets. At most `max_clients` addresses are remembered (least recently failed
    dropped first), so an attacker with many addresses costs bounded memory, not unbounded.
    """

    def __init__(
        self,
        burst: int = 10,
        refill_per_second: float = 0.5,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst, self.refill, self.max_clients, self.clock = burst, refill_per_second, max_clients, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address: (tokens, at)
        self._lock = threading.Lock()

    def _tokens(self, address: str, now: float) -> float:
        tokens, at = self._buckets.get(address, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.refill)

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try a key again, or None if it may now."""
        with self._lock:
            tokens = self._tokens(address, self.clock())
        return None if tokens >= 1 else max(1, math.ceil((1 - tokens) / self.refill))

    def record_failure(self, address: str) -> None:
        with self._lock:
            now = self.clock()
            self._buckets[address] = (self._tokens(address, now) - 1, now)
            self._buckets.move_to_end(address)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


def _refusal(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


def _unauthorized() -> JSONResponse:
    return _refusal(
        401,
        f"missing, unknown or revoked API key: send a live key in the {auth.HEADER} header "
        "(mint one with `make crm-api-key NAME=<who>`)",
        {"WWW-Authenticate": auth.HEADER},
    )


class Guard:
    """The middleware (see the module's docstring); `holders` finds a live key's holder (from its
    memory in the event loop, or from the database in a worker thread)."""

    def __init__(
        self,
        app: ASGIApp,
        holders: auth.KeyHolders,
        throttle: FailedAuthThrottle,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.app, self.holders, self.throttle, self.max_body_bytes = app, holders, throttle, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        too_large = next((name for name, value in headers if len(value) > MAX_HEADER_BYTES), None)
        if too_large is not None or sum(len(n) + len(v) for n, v in headers) > MAX_HEADERS_BYTES:
            what = f"the {too_large.decode('latin-1')} header" if too_large else "the headers together"
            limit = MAX_HEADER_BYTES if too_large else MAX_HEADERS_BYTES
            await _refusal(431, f"{what} exceed {limit} bytes")(scope, receive, send)
            return
        path: str = scope["path"]
        if path not in PUBLIC_PATHS and not path.startswith(PUBLIC_PREFIXES):
            address = (scope.get("client") or ("unknown", 0))[0]
            wait = self.throttle.retry_after(address)
            if wait is not None:
                detail = f"too many failed authentications from {address}: retry in {wait} s"
                await _refusal(429, detail, {"Retry-After": str(wait)})(scope, receive, send)
                return
            key = next((v.decode("latin-1") for n, v in headers if n == auth.HEADER.lower().encode()), None)
            holder = self.holders.cached(key) or await run_in_threadpool(self.holders.lookup, key)
            if holder is None:
                self.throttle.record_failure(address)
                await _unauthorized()(scope, receive, send)
                return
            scope.setdefault("state", {})[KEY_HOLDER_STATE] = holder
        await self._bounded(scope, receive, send)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_body_bytes
        too_large = _refusal(413, f"the request body exceeds {limit} bytes")
        length = next((v for n, v in scope["headers"] if n == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > limit:
            await too_large(scope, receive, send)
            return
        read, started, refused = 0, False, False

        async def bounded_receive() -> Message:
            """The body as it comes; past the limit, the 413 is sent from here and the app is told
            the client left (an exception would reach FastAPI's body parsing, which makes any
            error a 400), so whatever it answers then is dropped."""
            nonlocal read, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            read += len(message.get("body", b""))
            if read > limit:
                refused = True
                if not started:
                    await too_large(scope, receive, send)
                return {"type": "http.disconnect"}
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, bounded_receive, watched_send)


def server_config(app: Any, host: str, port: int, **options: Any) -> Any:
    """uvicorn's configuration for the API (`serve` and the tests use it): h11, whose limit on an
    unfinished request head bounds the headers a client can make the server buffer; no trust in
    `X-Forwarded-For` (a client on the same machine could otherwise pick the address the
    failed-authentication throttle counts); at most 100 requests at once (503 beyond)."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http="h11",
        h11_max_incomplete_event_size=SERVER_HEADER_BYTES,
        proxy_headers=False,
        limit_concurrency=100,
        timeout_keep_alive=5,
        **options,
    )
