"""What the web apps accept: expected Host names, same-origin state changes, bounded bodies, bounded time.

* `HostGuard` (ASGI middleware) answers 400 to a request whose Host header is not
  one the app serves: a page on another site that rebinds its DNS name to
  127.0.0.1 reaches the server under its own name, and is refused.
* `SameOrigin` checks a state-changing request: its Origin must be the page's own
  and it must carry the per-session token only the app's own page knows.
* `RateLimit` caps an action per minute.
* `read_body` streams a request body with a size cap and a deadline; nothing is
  read whole before it is checked.
* `server_config` runs an app on uvicorn with a deadline for each request's
  headers, so slow partial requests cannot hold connections open.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import re
import secrets
import time
from collections import deque
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

__all__ = ["LOOPBACK_NAMES", "HostGuard", "SameOrigin", "RateLimit", "BodyRefused", "read_body",
           "host_name", "served_names", "server_config"]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
HEADER_TIMEOUT = 10.0  # seconds for a request's line and headers to arrive
BODY_TIMEOUT = 10.0  # seconds for a (small) body to arrive

Scope = dict[str, Any]
_HOST_CHARS = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


def host_name(value: str) -> str | None:
    """The host part of a Host header or URL authority, lower-case, without port or brackets; None if malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1:] if end > 0 else "x"
        name, port = value[1:end], rest[1:]
        if rest and not rest.startswith(":"):
            return None
        try:
            name = str(ipaddress.IPv6Address(name))
        except ValueError:
            return None
    else:
        name, _, port = value.partition(":")
        name = name.rstrip(".")
        if not _HOST_CHARS.fullmatch(name):
            return None
    if port and not port.isdigit():
        return None
    return name


def served_names(*, base_url: str | None = None, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host names an app answers to: loopback, base_url's host, and `extra` (such as the address
    it listens on; 0.0.0.0 and :: name no host and are left out)."""
    names = set(LOOPBACK_NAMES)
    if base_url:
        host = urlsplit(base_url).hostname
        if host:
            names.add(host.lower())
    for value in extra:
        name = value.strip("[]").lower() if value.count(":") > 1 else host_name(value)
        if not name:
            continue
        try:
            if ipaddress.ip_address(name).is_unspecified:
                continue
        except ValueError:
            pass
        names.add(name)
    return frozenset(names)


async def _plain(send: Any, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": body})


class HostGuard:
    """ASGI middleware: 400 for any request whose Host is not one of `allowed` (DNS rebinding)."""

    def __init__(self, app: Any, *, allowed: Iterable[str], hint: str = "") -> None:
        self.app = app
        self.allowed = frozenset(a.lower() for a in allowed)
        self.message = "Invalid host header" + (f": {hint}" if hint else "")

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            raw = dict(scope.get("headers") or []).get(b"host", b"")
            name = host_name(raw.decode("latin-1"))
            if name is None or name not in self.allowed:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await _plain(send, 400, self.message)
                return
        await self.app(scope, receive, send)


class SameOrigin:
    """A per-session token and an Origin check for the requests that change something."""

    HEADER = "x-digest-csrf"

    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(32)

    def refusal(self, request: Request) -> str | None:
        """Why the request is refused, or None when it comes from this app's own page."""
        host = request.headers.get("host", "")
        origin = request.headers.get("origin")
        # Browsers send Origin with every POST; a request without one is not from our page.
        if origin is None or origin.lower() not in (f"http://{host}".lower(), f"https://{host}".lower()):
            return "cross-origin request refused"
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return "cross-site request refused"
        given = request.headers.get(self.HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode("ascii")):
            return "missing or wrong session token; reload the preview page"
        return None


class RateLimit:
    """At most `count` actions in any `per` seconds (a sliding window)."""

    def __init__(self, count: int, per: float, *, clock: Any = time.monotonic) -> None:
        self.count, self.per, self.clock = count, per, clock
        self.times: deque[float] = deque()

    def allow(self) -> bool:
        """Take one action if the window has room; False when it is full."""
        now = self.clock()
        while self.times and now - self.times[0] >= self.per:
            self.times.popleft()
        if len(self.times) >= self.count:
            return False
        self.times.append(now)
        return True


class BodyRefused(Exception):
    """The request body was too large (413) or too slow (408)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_body(request: Request, *, limit: int, timeout: float = BODY_TIMEOUT) -> bytes:
    """The body, streamed and checked as it comes: over `limit` bytes or `timeout` seconds is refused."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyRefused(413, "request body too large")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise BodyRefused(413, "request body too large")
    except TimeoutError:
        raise BodyRefused(408, "request body too slow") from None
    return bytes(body)


def _timed_protocol(header_timeout: float) -> type:
    """uvicorn's h11 protocol with a deadline for each request's headers (slowloris)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimedH11Protocol(H11Protocol):
        """Closes a connection whose request line and headers are not complete in time."""

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._deadline: asyncio.TimerHandle | None = None
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if getattr(self, "_deadline", None) is not None:
                self._deadline.cancel()  # type: ignore[union-attr]
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            if self.cycle is not before:  # the headers are in: the app has the request now
                self._disarm()

        def on_response_complete(self) -> None:
            if not self.transport.is_closing():
                self._arm()  # the next request on this connection gets the same time
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return TimedH11Protocol


def server_config(app: Any, *, host: str, port: int, header_timeout: float = HEADER_TIMEOUT,
                  log_level: str = "warning") -> Any:
    """A uvicorn Config for our apps: header deadline, short keep-alive, bounded connections."""
    import uvicorn

    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=2,
        http=_timed_protocol(header_timeout),  # h11 (pure Python): no build step, and we can time it
        ws="none", lifespan="on", timeout_keep_alive=5, limit_concurrency=200,
        h11_max_incomplete_event_size=16 * 1024,  # headers over 16 KB are refused
        server_header=False,
    )
