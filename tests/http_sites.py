"""Real local web sites for the fetch tests: http.server on 127.0.0.1, port 0, with a request log.

Each route is a function of the request that writes the answer itself, so a
test can serve validators and 304s, gzip, redirects, 429 with Retry-After, a
slow drip or an endless body, exactly as a misbehaving site would.
"""

from __future__ import annotations

import gzip
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[["Handler"], None]


@dataclass
class Hit:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    status: int = 0


class Handler(BaseHTTPRequestHandler):
    """Dispatch GETs to the site's routes; log each with the status answered."""

    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        hit = Hit(self.path, {k.lower(): v for k, v in self.headers.items()})
        self.server.site.log.append(hit)
        self.hit = hit
        route = self.server.site.routes.get(self.path.split("?")[0])
        if route is None:
            self.answer(404, b"not here", "text/plain")
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def send_response(self, code: int, message: str | None = None) -> None:
        self.hit.status = code
        super().send_response(code, message)

    def answer(self, status: int, body: bytes = b"", content_type: str = "text/html; charset=utf-8",
               headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, status: int, location: str) -> None:
        self.answer(status, b"", headers={"Location": location})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: Site


@dataclass
class Site:
    """A running site: `url(path)`, `log` of hits, `stop()`."""

    routes: dict[str, Route] = field(default_factory=dict)
    tls: ssl.SSLContext | None = None
    log: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.site = self
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def hits(self, path: str) -> list[Hit]:
        return [h for h in self.log if h.path == path]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Site:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- content ------------------------------------------------------------------------------------------------------

def rss(title: str, entries: list[tuple[str, str, str]], *, summary: str = "A short summary of the story.") -> bytes:
    """An RSS 2.0 feed; entries are (title, link, RFC 822 date)."""
    items = "".join(
        f"<item><title>{t}</title><link>{link}</link><pubDate>{date}</pubDate>"
        f"<description>{summary} {t}.</description></item>" for t, link, date in entries)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>https://example.org/</link><description>{title}</description>{items}</channel></rss>"
            ).encode()


def article_page(title: str, *, date: str = "2026-11-24", words: int = 3) -> bytes:
    """An article page trafilatura extracts: title, date, a few paragraphs, and a menu it leaves out."""
    paragraphs = "".join(
        f"<p>{title} paragraph {i}: the council met on Tuesday and agreed the plan after a long debate "
        f"about costs, timing and who pays for the new harbour wall.</p>" for i in range(words))
    return (f"<!doctype html><html lang='en'><head><title>{title}</title>"
            f"<meta property='og:title' content='{title}'>"
            f"<meta name='date' content='{date}'></head><body><nav><a href='/'>Home</a> <a href='/x'>World</a></nav>"
            f"<article><h1>{title}</h1>{paragraphs}</article><footer>© Example</footer></body></html>").encode()


def static(body: bytes, content_type: str = "application/rss+xml", *, etag: str = "", last_modified: str = "",
           gzipped: bool = False) -> Route:
    """A route answering `body`, with validators honoured (304) when given."""
    def route(h: Handler) -> None:
        headers: dict[str, str] = {}
        if etag:
            headers["ETag"] = etag
        if last_modified:
            headers["Last-Modified"] = last_modified
        if (etag and h.headers.get("If-None-Match") == etag) or (
                last_modified and not etag and h.headers.get("If-Modified-Since") == last_modified):
            h.send_response(304)
            for name, value in headers.items():
                h.send_header(name, value)
            h.end_headers()
            return
        payload = body
        if gzipped and "gzip" in h.headers.get("Accept-Encoding", ""):
            payload = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        h.answer(200, payload, content_type, headers)
    return route


def drip(seconds: float, *, step: float = 0.2) -> Route:
    """Headers at once, then one byte every `step` seconds for `seconds` (a slow-loris answer)."""
    def route(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(step)
    return route


def endless(limit: int = 64 * 1024 * 1024) -> Route:
    """A body with no length that goes on (up to `limit` bytes, so the test stops by itself)."""
    def route(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Connection", "close")
        h.end_headers()
        chunk = b"<!-- " + b"x" * 65536 + b" -->"
        sent = 0
        h.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
        while sent < limit:
            h.wfile.write(chunk)
            sent += len(chunk)
        h.close_connection = True
    return route


def http_date(when: float) -> str:
    """An HTTP-date (RFC 9110 §5.6.7)."""
    return formatdate(when, usegmt=True)


# -- a forward proxy ----------------------------------------------------------------------------------------------

class _ProxyHandler(BaseHTTPRequestHandler):
    """A forward proxy's side of HTTP/1.1: GETs in absolute form (RFC 9112 §3.2.2), relayed or answered."""

    server: _ProxyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        import http.client
        from urllib.parse import urlsplit

        proxy = self.server.proxy
        proxy.log.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}))
        target = urlsplit(self.path)
        canned = proxy.canned.get(target.hostname or "")
        if canned is not None:
            status, body, content_type = canned
        else:  # relay to the origin, as a real proxy does
            upstream = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=10)
            forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
            upstream.request("GET", target.path + (f"?{target.query}" if target.query else ""), headers=forwarded)
            answer = upstream.getresponse()
            status, body = answer.status, answer.read()
            content_type = answer.getheader("Content-Type", "application/octet-stream")
            upstream.close()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    proxy: Proxy


@dataclass
class Proxy:
    """A real HTTP forward proxy on 127.0.0.1, port 0: relays GETs to their origin, or answers itself for the
    hosts in `canned` ({host: (status, body, content type)}: a public address it "reaches" for the test);
    `log` holds every request's absolute-form target."""

    canned: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)
    log: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.proxy = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
