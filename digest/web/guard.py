"""What the web apps accept: expected Host names, same-origin state changes, bounded bodies, bounded time.

* `HostGuard` (ASGI middleware) answers 400 to a request whose Host header is not
  one the app serves: a page on another site that rebinds its DNS name to
  127.0.0.1 reaches the server under its own name, and is refused.
* `SameOrigin` checks a state-changing request: its Origin must be the page's own
  and it must carry the per-session token only the app's own page knows.
* `RateLimit` caps an action per minute.
* `read_body` streams a request body with a size cap and a deadline; nothing is
  read whole before it is checked.
* `digest.web.listen` runs an app on uvicorn with a deadline for each request's
  headers and bounded connections, so idle or slow partial requests cannot
  hold the server.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request

from digest.core.hosts import LOOPBACK_NAMES, allowed_host, host_matches, host_name, served_names

__all__ = ["LOOPBACK_NAMES", "HostGuard", "SameOrigin", "RateLimit", "BodyRefused", "read_body",
           "host_name", "served_names", "allowed_host", "header_bytes"]

BODY_TIMEOUT = 10.0  # seconds for a (small) body to arrive; headers get much less (digest.web.listen)
MAX_HEADER_BYTES = 16 * 1024

Scope = dict[str, Any]


async def _plain(send: Any, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": body})


def header_bytes(scope: Scope) -> int:
    """The size of a request's target and headers as they came (each line with its ': ' and CRLF)."""
    target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    return target + sum(len(k) + len(v) + 4 for k, v in scope.get("headers") or [])


class HostGuard:
    """ASGI middleware: 400 for any request whose Host is not one of `allowed` (DNS rebinding), 431 for
    headers over 16 KB."""

    def __init__(self, app: Any, *, allowed: Iterable[str], hint: str = "") -> None:
        self.app = app
        self.allowed = frozenset(a.lower() for a in allowed)
        self.message = "Invalid host header" + (f": {hint}" if hint else "")

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            # h11 bounds headers that arrive in pieces; these came in one burst.
            if header_bytes(scope) > MAX_HEADER_BYTES:
                await _plain(send, 431, "Request headers too large")
                return
            raw = dict(scope.get("headers") or []).get(b"host", b"")
            name = host_name(raw.decode("latin-1"))
            if name is None or not host_matches(name, self.allowed):
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
