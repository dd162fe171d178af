"""The one HTTP client every source shares: conditional, bounded, polite and guarded.

httpx2 (the maintained continuation of httpx) does the HTTP; this module adds
what a feed reader needs on top: validators sent back (RFC 9110 §13.1), every
redirect hop checked by hand (scheme, loop, count, permanence), `Retry-After`
honoured up to a cap (RFC 9110 §10.2.3), a whole-request deadline (httpx's
timeouts are per read, so a server dripping one byte a second would never trip
them), a body cap enforced while it streams, at most `per_host` requests at
once to a host and `concurrency` in all, and the private-network guard on the
address each connection actually reached.
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
import ssl
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx2

from digest.collect.formats import accept_header
from digest.core.sourcespec import FetchSettings
from digest.core.urls import redact_in
from digest.sources.guard import GuardedBackend, RefusedAddress
from digest.sources.transport import GuardedTransport, proxy_mounts, tls_context

__all__ = ["Fetched", "FetchFailure", "HTTPClient", "retry_after_seconds", "header_value", "tls_context",
           "FEED_ACCEPT", "PAGE_ACCEPT"]

# What each kind of source asks for, from the registered formats (digest.collect.formats).
FEED_ACCEPT = accept_header("feed")
PAGE_ACCEPT = accept_header("page")
_REDIRECTS = {301, 302, 303, 307, 308}

#: Asked before each hop of a fetch: None to go on, or why the URL is not fetched.
Check = Callable[[str], Awaitable[str | None]]
_PERMANENT = {301, 308}


@dataclass(frozen=True, slots=True)
class Fetched:
    """One answer: a body (status 200) or "not modified" (304, no body)."""

    url: str
    final_url: str
    status: int
    body: bytes | None
    etag: str = ""
    last_modified: str = ""
    content_type: str = ""
    moved_to: str = ""  # where a permanent redirect (301/308) says the source now lives
    seconds: float = 0.0


class FetchFailure(Exception):
    """A fetch that gave nothing: `outcome` is failed, refused, gone or skipped; `reason` one line."""

    def __init__(self, outcome: str, reason: str, *, status: int | None = None) -> None:
        self.outcome = outcome
        self.reason = redact_in(reason)  # a redirect target keeps the source's password: never printed
        self.status = status
        self.seconds = 0.0  # from the first request sent to the failure
        super().__init__(reason)


def header_value(value: str | None) -> str:
    """A validator fit to be sent back as a request header, else "".

    RFC 9110 §8.8.3 allows obs-text (bytes over 0x7F) in an ETag, but what a
    client decodes is no longer the server's bytes and cannot be sent back as
    they were: a validator is kept only when it is visible ASCII (and spaces),
    at most 1 KB. A source whose validators are not is fetched whole each time.
    """
    value = (value or "").strip()
    if not value or len(value) > 1024 or not all(" " <= c <= "~" for c in value):
        return ""
    return value


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class HTTPClient:
    """The shared async client; use as `async with HTTPClient(settings, user_agent=…) as client`."""

    def __init__(self, settings: FetchSettings, *, user_agent: str) -> None:
        self.settings = settings
        self.user_agent = user_agent
        self._all = asyncio.Semaphore(settings.concurrency)
        self._hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(settings.per_host))
        self._client: httpx2.AsyncClient | None = None

    async def __aenter__(self) -> HTTPClient:
        settings = self.settings
        guard = GuardedBackend(allow_private=settings.allow_private_networks)
        # In-flight requests are bounded by the semaphores below; the pool may keep more connections open so
        # that a host's next request reuses one instead of closing another host's (20 hosts x 2 > 16).
        pool = settings.concurrency * 4
        limits = httpx2.Limits(max_connections=pool, max_keepalive_connections=pool)

        self._client = httpx2.AsyncClient(
            transport=GuardedTransport(backend=guard, proxied=False, limits=limits, verify=tls_context()),
            mounts=proxy_mounts(guard, limits=limits),
            limits=limits,
            verify=tls_context(),
            timeout=httpx2.Timeout(settings.timeout, connect=settings.connect_timeout),
            follow_redirects=False,  # every hop is checked below
            trust_env=False,  # the proxies are mounted above; the CA bundle is tls_context()'s
            headers={"User-Agent": self.user_agent},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()

    @asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        async with self._hosts[host.lower()], self._all:
            yield

    async def get(self, url: str, *, etag: str = "", last_modified: str = "", accept: str = FEED_ACCEPT,
                  check: Check | None = None) -> Fetched:
        """GET with validators; a 304 has no body. Raises FetchFailure with a one-line reason.

        `check(url)` is asked before every hop (the first URL and each redirect
        target): a reason it returns refuses the fetch (robots.txt). The time
        reported counts from the first request sent, not the wait for a free slot.
        """
        timer = _Timer()
        waited = False
        try:
            while True:
                try:
                    fetched = await self._follow(url, etag=etag, last_modified=last_modified, accept=accept,
                                                 check=check, timer=timer)
                except _RetryLater as later:
                    if waited or later.seconds is None or later.seconds > self.settings.retry_after_max:
                        raise FetchFailure("skipped", later.reason(), status=later.status) from None
                    waited = True
                    await asyncio.sleep(later.seconds)
                    continue
                return Fetched(**{**_fields(fetched), "seconds": timer.elapsed()})
        except FetchFailure as failure:
            failure.seconds = timer.elapsed()
            raise

    async def _follow(self, url: str, *, etag: str, last_modified: str, accept: str, check: Check | None,
                      timer: _Timer) -> Fetched:
        if self._client is None:
            raise RuntimeError("use HTTPClient as an async context manager")
        settings = self.settings
        # A validator stored by an older version may not be fit for a header: then it is not sent.
        etag, last_modified = header_value(etag), header_value(last_modified)
        current, seen, moved_to, permanent = url, {url}, "", True
        deadline = 0.0
        for _ in range(settings.max_redirects + 1):
            headers = {"Accept": accept}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            try:
                host = urlsplit(current).hostname or ""
            except ValueError:
                raise FetchFailure("failed", f"not a valid URL: {current}") from None
            if check is not None:  # outside the slot: the check may itself fetch from this host (robots.txt)
                refusal = await check(current)
                if refusal:
                    raise FetchFailure("refused", refusal)
            async with self._slot(host):
                timer.start()
                # One deadline for the whole answer, redirects included, counted from the first request sent.
                deadline = deadline or asyncio.get_running_loop().time() + settings.timeout
                try:
                    async with asyncio.timeout_at(deadline):
                        response = await self._client.send(self._client.build_request("GET", current,
                                                                                      headers=headers), stream=True)
                        try:
                            status = response.status_code
                            if status in _REDIRECTS and response.headers.get("location"):
                                target = _redirect_target(current, response.headers["location"])
                                permanent = permanent and status in _PERMANENT
                                if permanent:
                                    moved_to = target
                                if target in seen:
                                    raise FetchFailure("failed", f"redirect loop at {target}", status=status)
                                seen.add(target)
                                current = target
                                await _drain(response)
                                continue
                            return await self._answer(response, url, current, validators=(etag, last_modified),
                                                      moved_to=moved_to)
                        finally:
                            await response.aclose()
                except TimeoutError:
                    raise FetchFailure("failed", f"timeout: no whole answer within {settings.timeout:g} s") from None
                except RefusedAddress as exc:
                    raise FetchFailure("refused", str(exc)) from None
                except httpx2.ConnectTimeout:
                    raise FetchFailure("failed", f"timeout: no connection within {settings.connect_timeout:g} s"
                                       ) from None
                except httpx2.TimeoutException:
                    raise FetchFailure("failed", f"timeout: the server stopped answering for "
                                       f"{settings.timeout:g} s") from None
                except httpx2.ConnectError as exc:
                    raise FetchFailure("failed", _connect_reason(exc)) from None
                except httpx2.DecodingError:
                    raise FetchFailure("failed", "the compressed body is damaged") from None
                except (httpx2.TransportError, httpx2.InvalidURL) as exc:
                    raise FetchFailure("failed", f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        raise FetchFailure("failed", f"more than {settings.max_redirects} redirects")

    async def _answer(self, response: httpx2.Response, url: str, current: str, *, validators: tuple[str, str],
                      moved_to: str) -> Fetched:
        """The final answer (not a redirect): the body, a 304, or why there is none."""
        etag, last_modified = validators
        status = response.status_code
        if status == 304:
            if not (etag or last_modified):
                raise FetchFailure("failed", "HTTP 304 to a request that had no validators", status=304)
            await _drain(response)
            return Fetched(url, current, 304, None, etag=header_value(response.headers.get("etag")) or etag,
                           last_modified=header_value(response.headers.get("last-modified")) or last_modified,
                           moved_to=moved_to)
        if status in (429, 503):
            raise _RetryLater(status, retry_after_seconds(response.headers.get("retry-after")), response.reason_phrase)
        if status == 410:
            raise FetchFailure("gone", "HTTP 410 Gone: the source was removed; take it out of [[sources]]",
                               status=410)
        if status != 200:
            raise FetchFailure("failed", f"HTTP {status} {response.reason_phrase}".strip(), status=status)
        body = await self._read_capped(response)
        return Fetched(url, current, 200, body, etag=header_value(response.headers.get("etag")),
                       last_modified=header_value(response.headers.get("last-modified")),
                       content_type=response.headers.get("content-type", ""), moved_to=moved_to)

    async def _read_capped(self, response: httpx2.Response) -> bytes:
        cap = self.settings.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchFailure("failed", f"too large: {int(declared)} bytes declared, over the {cap} byte cap")
        chunks: list[bytes] = []
        size = 0
        # Decoded bytes are counted, so a small gzip bomb is stopped at the cap too.
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise FetchFailure("failed", f"too large: over the {cap} byte cap (abandoned while streaming)")
            chunks.append(chunk)
        return b"".join(chunks)


async def _drain(response: httpx2.Response, limit: int = 64 * 1024) -> None:
    """Read what is left of a small answer (a 304, a redirect) so its connection goes back to the pool.

    Inside the request's deadline, like every other read.
    """
    try:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read > limit:
                break
    except (httpx2.HTTPError, httpx2.StreamError):
        pass


class _RetryLater(Exception):
    def __init__(self, status: int, seconds: float | None, phrase: str = "") -> None:
        self.status = status
        self.seconds = seconds
        self.phrase = phrase

    def reason(self) -> str:
        """Why the source is skipped: 429 is rate limiting; a 503 is the server being unavailable."""
        what = "rate limited" if self.status == 429 else "service unavailable"
        hint = f", Retry-After {self.seconds:.0f} s" if self.seconds is not None else ""
        return f"HTTP {self.status} ({what}{hint}); skipped this time"


class _Timer:
    """When a fetch's first request got its slot (waiting for one is not the server's time)."""

    def __init__(self) -> None:
        self.started: float | None = None

    def start(self) -> None:
        if self.started is None:
            self.started = time.perf_counter()

    def elapsed(self) -> float:
        return 0.0 if self.started is None else time.perf_counter() - self.started


def _fields(fetched: Fetched) -> dict[str, Any]:
    return {name: getattr(fetched, name) for name in Fetched.__slots__}


def _redirect_target(current: str, location: str) -> str:
    try:
        target = urljoin(current, location.strip())
        parts = urlsplit(target)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise FetchFailure("failed", f"redirect to an invalid URL ({location.strip()[:200]})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchFailure("refused", f"redirect to a {scheme or 'relative'}: URL refused ({target})")
    if not parts.hostname:
        raise FetchFailure("failed", f"redirect to a URL without a host ({target})")
    if urlsplit(current).scheme.lower() == "https" and scheme == "http":
        raise FetchFailure("refused", f"redirect from https down to http refused ({target})")
    return target


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, its causes and, for exception groups (anyio's happy eyeballs), their members."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 20:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        todo += [c for c in (current.__cause__, current.__context__) if c is not None]
        todo += list(getattr(current, "exceptions", ()))
    return seen


def _connect_reason(exc: Exception) -> str:
    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, socket.gaierror):
            return "DNS: the host name does not resolve"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS: certificate not trusted ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS: {cause.reason or cause}"
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, OSError) and cause.strerror:
            return f"cannot connect: {cause.strerror}"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"cannot connect: {text}"
