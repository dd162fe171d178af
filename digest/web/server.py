"""`digest serve`: signups (digest.web.signup), RFC 8058 one-click unsubscribe and the archive, as a starlette app."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from digest.app.context import Context
from digest.compose import TokenError, verify_token
from digest.web.clicks import click_routes
from digest.web.esp import esp_routes
from digest.web.guard import BodyRefused, HostGuard, read_body, served_names
from digest.web.manage import manage_routes
from digest.web.signup import signup_routes
from digest.web.site import archive_routes

__all__ = ["create_app", "MAX_BODY", "SECURITY_HEADERS"]

MAX_BODY = 4096  # a one-click body is 26 bytes; anything much larger is not one
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_ONE_CLICK_MULTIPART = re.compile(rb'name="List-Unsubscribe"\r\n(?:[^\r\n]+\r\n)*\r\nOne-Click\r\n')


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>body{{font:17px/1.5 system-ui,sans-serif;max-width:32rem;"
        "margin:3rem auto;padding:0 1rem}button{font:inherit;padding:.6rem 1.2rem;border-radius:6px;"
        "border:0;background:#0b5cab;color:#fff;cursor:pointer}</style></head>"
        f"<body>{body}</body></html>",
        status_code=status,
        headers=SECURITY_HEADERS,
    )


def _bad_link() -> HTMLResponse:
    # Same answer for every bad token: nothing about who is or is not subscribed.
    return _page("Invalid link", "<h1>This link is not valid</h1><p>It may be incomplete or altered.</p>",
                 status=400)


def _is_one_click(body: bytes, content_type: str) -> bool:
    # RFC 8058 section 3.1: the POST body is "List-Unsubscribe=One-Click", form-encoded or multipart.
    if content_type.startswith("multipart/form-data"):
        return bool(_ONE_CLICK_MULTIPART.search(body))
    try:
        fields = parse_qs(body.decode("ascii"), strict_parsing=False)
    except UnicodeDecodeError:
        return False
    return fields.get("List-Unsubscribe") == ["One-Click"]


def _unsubscribe_routes(ctx: Context) -> list[Route]:
    """GET and POST /u/{token}: the one-click unsubscribe (RFC 8058) and its confirmation page."""
    settings = ctx.settings
    secret = ctx.secret
    name = html.escape(settings.newsletter.name)

    async def unsubscribe_page(request: Request) -> Response:
        """GET /u/{token}: a confirmation page with a one-click button."""
        token = request.path_params["token"]
        try:
            verify_token(secret, token)
        except TokenError:
            return _bad_link()
        return _page(
            f"Unsubscribe from {settings.newsletter.name}",
            f"<h1>Unsubscribe from {name}?</h1><p>You will receive no further issues of this list.</p>"
            f'<form method="post" action="/u/{html.escape(token)}">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            "<button type=\"submit\">Unsubscribe</button></form>",
        )

    async def unsubscribe(request: Request) -> Response:
        """POST /u/{token}: RFC 8058 one-click unsubscribe, idempotent."""
        try:
            token = verify_token(secret, request.path_params["token"])
        except TokenError:
            return _bad_link()
        try:
            body = await read_body(request, limit=MAX_BODY)
        except BodyRefused as refused:
            return PlainTextResponse(refused.message, status_code=refused.status, headers=SECURITY_HEADERS)
        if not _is_one_click(body, request.headers.get("content-type", "")):
            return PlainTextResponse("Expected List-Unsubscribe=One-Click", status_code=400, headers=SECURITY_HEADERS)
        # From the list this message came from (the token says which): the reader's other lists stay.
        await run_in_threadpool(ctx.store.unsubscribe, token.email, list_name=token.list, issue=token.issue)
        return _page("Unsubscribed", f"<h1>You are unsubscribed</h1><p>{name} will not send you this list again."
                     "</p>")

    return [Route("/u/{token}", unsubscribe_page, methods=["GET"]), Route("/u/{token}", unsubscribe, methods=["POST"])]


def create_app(ctx: Context, *, hosts: Iterable[str] = (), sns_test_prefix: str = "") -> Starlette:
    """The ASGI app for a workspace; store calls run in a thread, never blocking the event loop.

    It answers to loopback names, the host of `base_url` and `hosts` only (any other Host
    header gets a 400: DNS rebinding). With [esp], POST /esp/<provider> takes the ESP's notifications
    (`sns_test_prefix`: tests only, a local stand-in for SNS).
    """
    settings = ctx.settings

    async def home(request: Request) -> Response:
        """GET /: to the archive."""
        return RedirectResponse("/archive/")

    return Starlette(routes=[
        Route("/", home),
        *_unsubscribe_routes(ctx),
        *archive_routes(ctx),
        *manage_routes(ctx),
        *signup_routes(ctx),
        *click_routes(ctx),
        *esp_routes(ctx, sns_test_prefix=sns_test_prefix),
    ], middleware=[
        Middleware(HostGuard, allowed=served_names(base_url=settings.newsletter.base_url, extra=hosts),
                   hint="this server answers to the host of base_url and loopback names; "
                        "digest serve --allow-host NAME adds another"),
    ])
