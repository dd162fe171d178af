"""GET/HEAD /c/{token}: a counted click's redirect to the link its signed token names; /o/{token}: the open pixel.

An altered, unknown or foreign token gets a 400 with no `Location`: the target comes only from
a token this workspace signed (digest.render.tracking), so this is never an open redirect.
Machine clicks are told apart here and counted apart: HEAD requests (link checkers), known
scanner agents, and a non-browser-looking request within seconds of delivery (mail security
gateways open every link as the message arrives).
"""

from __future__ import annotations

import re
import time
from ipaddress import ip_address, ip_network

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from digest.app.context import Context
from digest.render.tracking import ClickTokenError, verify_click, verify_open, verify_reader

__all__ = ["click_routes", "machine_reason", "open_reason", "SCANNER_SECONDS", "PIXEL"]

SCANNER_SECONDS = 60.0  # a gateway checks links as the message arrives; a person reads it later
_SCANNERS = re.compile(
    r"bot\b|crawler|spider|preview|scanner|headless|phantomjs|python|curl|wget|go-http-client|java/|okhttp|"
    r"libwww|httpclient|barracuda|proofpoint|mimecast|symantec|messagelabs|trendmicro|forcepoint|"
    r"safelinks|microsoft office|ms-office|linkchecker|fortiguard|sophos|cisco|ironport|zscaler", re.IGNORECASE)
_BROWSER = re.compile(r"^Mozilla/5\.0 \(.+\) .*(Gecko|AppleWebKit)", re.IGNORECASE)
_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def machine_reason(*, method: str, agent: str, accept_language: str, seconds_after: float | None) -> str:
    """Why a click is a machine's ("" when it looks like a person's): head, agent or fast."""
    if method == "HEAD":
        return "head"
    if not agent.strip() or _SCANNERS.search(agent):
        return "agent"
    if seconds_after is not None and 0 <= seconds_after < SCANNER_SECONDS and (
            not accept_language or not _BROWSER.search(agent)):
        return "fast"
    return ""


# Apple Mail Privacy Protection loads every image of every message through Apple's proxies as
# the message arrives, opened or not: a bare "Mozilla/5.0" agent from Apple's 17.0.0.0/8.
_APPLE_NETWORK = ip_network("17.0.0.0/8")
# A transparent 1x1 GIF.
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def open_reason(*, agent: str, client: str) -> str:
    """Why a pixel load is not a person's ("" when it may be): apple (Mail Privacy Protection) or agent."""
    try:
        apple = ip_address(client) in _APPLE_NETWORK
    except ValueError:
        apple = False
    if apple or agent.strip() == "Mozilla/5.0":
        return "apple"
    if not agent.strip() or _SCANNERS.search(agent):
        return "agent"
    return ""


def _agent_kind(request: Request) -> str:
    """A coarse kind of client for counting once a minute: a scanner's agent, or anything else."""
    agent = request.headers.get("user-agent", "")
    return "machine" if not agent.strip() or _SCANNERS.search(agent) else "other"


class _Recent:
    """What this server counted in the last minute, per client and link: a reload, a double click or a
    script hammering one link counts once a minute, and the table of clicks cannot be flooded from one place.
    Bounded: when full it starts again (a count may then repeat; nothing is ever refused)."""

    def __init__(self, *, seconds: float = 60.0, size: int = 50_000) -> None:
        self.seconds, self.size = seconds, size
        self.seen: dict[tuple[str, ...], float] = {}

    def first(self, key: tuple[str, ...], now: float) -> bool:
        """True when `key` was not counted in the last `seconds`; remember it now."""
        last = self.seen.get(key)
        if last is not None and now - last < self.seconds:
            return False
        if len(self.seen) >= self.size:
            self.seen.clear()
        self.seen[key] = now
        return True


def _network(request: Request) -> str:
    """The client's address, an IPv6 one cut to its /64 (one host may hold the whole prefix)."""
    host = request.client.host if request.client else ""
    try:
        address = ip_address(host)
    except ValueError:
        return host
    return str(ip_network(f"{address}/64", strict=False)) if address.version == 6 else str(address)


def _refused() -> HTMLResponse:
    # One answer for every bad token, and never a Location header.
    return HTMLResponse('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Invalid link</title>'
                        "</head><body><h1>This link is not valid</h1><p>It may be incomplete or altered.</p>"
                        "</body></html>", status_code=400, headers=_HEADERS)


def click_routes(ctx: Context) -> list[Route]:
    """The /c/{token} route of `digest serve`."""
    secret, tracking = ctx.secret, ctx.settings.tracking
    recent = _Recent()

    async def click(request: Request) -> Response:
        """GET/HEAD /c/{token}: count the click (when [tracking] clicks is on) and redirect."""
        try:
            found = verify_click(secret, request.path_params["token"])
        except ClickTokenError:
            return _refused()
        # A bad reader part still opens the article; the click is counted without a reader.
        reader = _reader(request) if tracking.per_reader else ""
        # Per client network, kind of agent and reader: a scanner and a person behind one NAT are two clicks,
        # a reload is one, and a script that changes its User-Agent on every request is still one client.
        key = ("c", _network(request), _agent_kind(request), reader, str(found.issue), str(found.link),
               request.method)
        if tracking.clicks and recent.first(key, time.monotonic()):
            await run_in_threadpool(_count, ctx, request, found.issue, found.link, found.url, reader)
        return RedirectResponse(found.url, status_code=302, headers=_HEADERS)

    async def opened(request: Request) -> Response:
        """GET /o/{token}: the open pixel; counted only with [tracking] opens = true."""
        try:
            issue = verify_open(secret, request.path_params["token"])
        except ClickTokenError:
            return Response(status_code=404, headers=_HEADERS)
        reader = _reader(request) if tracking.per_reader else ""
        client = request.client.host if request.client else ""
        kind = open_reason(agent=request.headers.get("user-agent", ""), client=client) or "person"
        key = ("o", _network(request), kind, reader, str(issue))
        if tracking.opens and request.method == "GET" and recent.first(key, time.monotonic()):
            why = open_reason(agent=request.headers.get("user-agent", ""),
                              client=request.client.host if request.client else "")
            await run_in_threadpool(ctx.store.record_open, issue=issue, machine=why, reader=reader)
        return Response(PIXEL, media_type="image/gif", headers=_HEADERS)

    def _reader(request: Request) -> str:
        try:
            return verify_reader(secret, request.query_params.get("r", ""))
        except ClickTokenError:
            return ""  # counted without a reader

    return [Route("/c/{token}", click, methods=["GET", "HEAD"]), Route("/o/{token}", opened, methods=["GET", "HEAD"])]


def _count(ctx: Context, request: Request, issue: int, link: int, url: str, reader: str) -> None:
    """Tell a machine from a person and record the click."""
    sent = ctx.store.delivered_at(issue, reader)
    why = machine_reason(method=request.method, agent=request.headers.get("user-agent", ""),
                         accept_language=request.headers.get("accept-language", ""),
                         seconds_after=None if sent is None else time.time() - sent)
    ctx.store.record_click(issue=issue, link=link, url=url, machine=why, reader=reader)
