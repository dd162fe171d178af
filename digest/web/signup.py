"""Signups with double opt-in in `digest serve`: /subscribe (form or JSON) and /confirm/{token}.

The answer to a signup is the same whatever the address's state — new,
pending, subscribed, suppressed, or over its daily mails — so the form tells
nobody who is on the list; the confirmation mail goes out after the answer.
A bot that fills the hidden `website` field gets that same answer and nothing
happens. The client's own limit (per hour) and the cap on pending signups
answer 429 / 503: they say nothing about any address.

The link in the mail opens a page with a button; the POST confirms. Mail
scanners that fetch every link (Outlook Safe Links, corporate gateways) thus
never subscribe anyone on their own.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import time
from urllib.parse import parse_qs

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from digest.app.context import Context
from digest.back.signup import ConfirmationMail, limits_for, make_link_token, offered_lists, read_link_token
from digest.core.erased import erasure_hash
from digest.core.errors import DigestError
from digest.core.text import printable
from digest.store.signups import Signup, SignupRequest
from digest.subscribers import check_address

__all__ = ["signup_routes", "MAX_SIGNUP_BODY", "HONEYPOT"]

_log = logging.getLogger("uvicorn.error")  # where `digest serve` logs: stderr, rate-limited per kind

MAX_SIGNUP_BODY = 8 * 1024
HONEYPOT = "website"
_MAX_NAME = 200
# C0 and C1 controls, line separators, bidi overrides and isolates: what a name, a Referer or a
# client address must not carry into the store, the terminal (exports, the log) or a header.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_MAX_SOURCE = 500
# email-validator accepts `=cmd|'/Ccalc'!A0@example.org`; a spreadsheet opening an export would run it.
_FORMULA_START = ("=", "+", "-")
_CHECK_INBOX = ("Check your inbox", "If {email} can receive mail, a message with a confirmation link is on its way. "
                "Open it to finish; nothing is sent to you until you do.")
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _page(ctx: Context, title: str, body: str, *, status: int = 200) -> HTMLResponse:
    """A small page in the newsletter's colours, like the archive."""
    theme = ctx.settings.theme
    css = (f"body{{font:17px/1.5 {theme.font_family};max-width:32rem;margin:3rem auto;padding:0 1rem;"
           f"color:{theme.text_color};background:{theme.background_color}}}"
           f"main{{background:{theme.content_background};padding:1.5rem 2rem;border-radius:8px}}"
           "label{display:block;margin:1rem 0 .25rem;font-weight:600}"
           "input,select{font:inherit;width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #8c959f;"
           "border-radius:6px}"
           f"button{{font:inherit;margin-top:1.25rem;padding:.6rem 1.2rem;border-radius:6px;border:0;"
           f"background:{theme.brand_color};color:#fff;cursor:pointer}}"
           ".hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}"
           "h1{font-size:1.6rem;line-height:1.25;margin-top:0}[role=alert]{color:#b42318}"
           f"small{{color:{theme.muted_color}}}"
           f"@media (prefers-color-scheme:dark){{body{{background:{theme.dark_background_color};"
           f"color:{theme.dark_text_color}}}main{{background:{theme.dark_content_background}}}}}")
    return HTMLResponse(
        f'<!DOCTYPE html><html lang="{html.escape(ctx.settings.newsletter.language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{css}</style></head><body><main>{body}</main></body></html>",
        status_code=status, headers=_HEADERS)


def _form(ctx: Context, lists: tuple[str, ...], *, chosen: str, error: str = "", email: str = "",
          name: str = "") -> str:
    newsletter = html.escape(ctx.settings.newsletter.name)
    if len(lists) == 1:
        which = f'<input type="hidden" name="list" value="{html.escape(lists[0])}">'
    else:
        options = "".join(f'<option value="{html.escape(n)}"{" selected" if n == chosen else ""}>{html.escape(n)}'
                          "</option>" for n in lists)
        which = f'<label for="list">List</label><select id="list" name="list">{options}</select>'
    problem = (f'<p role="alert" id="problem"><strong>{html.escape(error)}</strong></p>' if error else "")
    described = ' aria-describedby="problem" aria-invalid="true"' if error else ""
    return (
        f"<h1>Subscribe to {newsletter}</h1>{problem}"
        '<form method="post" action="/subscribe">'
        f'<label for="email">Email address</label><input id="email" name="email" type="email" required '
        f'autocomplete="email" maxlength="254" value="{html.escape(email)}"{described}>'
        f'<label for="name">Name <small>(optional)</small></label><input id="name" name="name" '
        f'autocomplete="name" maxlength="{_MAX_NAME}" value="{html.escape(name)}">'
        f"{which}"
        # A field people never see nor reach: only bots fill it in.
        f'<div class="hp" aria-hidden="true"><label for="{HONEYPOT}">Leave this empty</label>'
        f'<input id="{HONEYPOT}" name="{HONEYPOT}" tabindex="-1" autocomplete="off"></div>'
        '<button type="submit">Subscribe</button></form>'
        "<p><small>We send you a message to confirm. You can unsubscribe from every issue in one click."
        "</small></p>")


_MAX_JSON_DEPTH = 8  # a signup is one flat object; deeper nesting is no signup (and json recurses per level)
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


class _Unreadable(Exception):
    """The body is too large (413) or not a form or JSON object we can read (400)."""

    def __init__(self, status: int, as_json: bool) -> None:
        super().__init__(status)
        self.status, self.as_json = status, as_json


def _printable(text: str) -> str:
    """One log line of outside text: control characters (and line breaks) shown as escapes."""
    return printable(text).replace("\n", "\\n").replace("\t", "\\t")


def _json_depth(text: str) -> int:
    """How deeply arrays and objects nest, strings left out: checked before json.loads recurses into it."""
    depth = deepest = 0
    for char in _JSON_STRING.sub('""', text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


async def _read_fields(request: Request) -> tuple[dict[str, str], bool]:
    """The submitted fields and whether they came as JSON; _Unreadable when too large or unreadable."""
    from digest.web.guard import BodyRefused, read_body

    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    as_json = ctype == "application/json"
    try:
        # Streamed with a size cap and a deadline, like every body the web apps read.
        body = await read_body(request, limit=MAX_SIGNUP_BODY)
    except BodyRefused as refused:
        raise _Unreadable(refused.status, as_json) from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Unreadable(400, as_json) from None
    if as_json:
        if _json_depth(text) > _MAX_JSON_DEPTH:
            raise _Unreadable(400, True)
        try:
            data = json.loads(text or "{}")
        except (ValueError, RecursionError):
            raise _Unreadable(400, True) from None
        if not isinstance(data, dict):
            raise _Unreadable(400, True)
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}, True
    fields = parse_qs(text, keep_blank_values=True, max_num_fields=20)
    return {k: v[0] for k, v in fields.items() if v}, False


class _Signups:
    """The signup form, its answer, and the confirmation links: one workspace's routes and what they share."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.mail = ConfirmationMail(ctx)
        self.base = ctx.settings.newsletter.base_url.rstrip("/")
        self.sending: list[asyncio.Semaphore] = []

    def _semaphore(self) -> asyncio.Semaphore:
        if not self.sending:  # made in the server's own loop, on first use
            self.sending.append(asyncio.Semaphore(4))
        return self.sending[0]

    async def _send_confirmation(self, signup_id: int) -> None:
        """After the answer: render and send the mail; a failure is noted on the signup and logged."""
        signup = await run_in_threadpool(self.ctx.store.signup, signup_id)
        if signup is None:
            return
        url = f"{self.base}/confirm/{make_link_token(self.ctx.secret, signup)}"
        error = None
        async with self._semaphore():
            try:
                await self.mail.send(signup, url)
            except DigestError as exc:
                error = str(exc)
                # The relay's reply is outside text (it may carry terminal escapes): logged printable.
                _log.warning("confirmation mail for signup %d not sent: %s", signup_id, _printable(error))
        await run_in_threadpool(self.ctx.store.signup_mailed, signup_id, error=error)

    async def subscribe_form(self, request: Request) -> Response:
        """GET /subscribe: the form (?list=NAME picks a list)."""
        lists = offered_lists(self.ctx.settings.signup, subscribers=self.ctx.workspace.subscribers)
        chosen = request.query_params.get("list", lists[0])
        title = f"Subscribe to {self.ctx.settings.newsletter.name}"
        return _page(self.ctx, title, _form(self.ctx, lists, chosen=chosen))

    def _answer(self, as_json: bool, status: int, title: str, text: str) -> Response:
        if as_json:
            return JSONResponse({"status": "ok" if status == 200 else "error", "message": text},
                                status_code=status, headers=_HEADERS)
        return _page(self.ctx, title, f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>", status=status)

    async def subscribe(self, request: Request) -> Response:
        """POST /subscribe: record a pending signup and mail a confirmation link; the same answer for all."""
        try:
            fields, as_json = await _read_fields(request)
        except _Unreadable as unreadable:
            return self._answer(unreadable.as_json, unreadable.status, "Request not accepted",
                                "The form could not be read.")
        lists = offered_lists(self.ctx.settings.signup, subscribers=self.ctx.workspace.subscribers)
        raw_email = fields.get("email", "").strip()
        name = _CONTROL.sub(" ", fields.get("name", "")).strip()[:_MAX_NAME]
        list_name = fields.get("list", lists[0] if len(lists) == 1 else "")
        if list_name not in lists:
            return self._answer(as_json, 400, "Unknown list", "Choose one of the lists on the form.")
        try:
            email = check_address(raw_email)
            if email.startswith(_FORMULA_START):
                raise ValueError("would be a formula in a spreadsheet")
        except ValueError:
            if as_json:
                return self._answer(True, 400, "Not an email address", "That does not look like an email address.")
            form = _form(self.ctx, lists, chosen=list_name, error="That does not look like an email address.",
                         email=raw_email[:254], name=name)
            return _page(self.ctx, "Subscribe", form, status=400)
        title, text = _CHECK_INBOX[0], _CHECK_INBOX[1].format(email=email)
        if fields.get(HONEYPOT):
            return self._answer(as_json, 200, title, text)  # a bot: it learns nothing, nothing happens
        # Stored as consent evidence and shown by `subscribers export --consent`: one line of printable text.
        # (HTTP headers arrive as bytes, read as Latin-1; a browser sends a Referer's non-ASCII as UTF-8.)
        referer = request.headers.get("referer", "").encode("latin-1").decode("utf-8", "replace")
        source = _CONTROL.sub("", referer)[:_MAX_SOURCE] or str(request.url)[:_MAX_SOURCE]
        client = _CONTROL.sub("", request.client.host if request.client else "")[:64]
        decision, signup_id = await run_in_threadpool(
            self.ctx.store.request_signup, SignupRequest(list_name, email, name, source, client), now=time.time(),
            limits=limits_for(self.ctx.settings.signup))
        if decision == "client":
            return self._answer(as_json, 429, "Too many requests",
                                "Too many signups from your network; try again in an hour.")
        if decision == "full":
            return self._answer(as_json, 503, "Signups paused", "Too many signups from your network are waiting for "
                          "confirmation; try again later.")
        response = self._answer(as_json, 200, title, text)
        if signup_id is not None:
            response.background = BackgroundTask(self._send_confirmation, signup_id)
        return response

    async def _checked(self, request: Request) -> tuple[Signup | None, str]:
        """The signup a link names, or why the link is refused."""
        token = read_link_token(request.path_params["token"])
        if token is None:
            return None, "invalid"
        signup = await run_in_threadpool(self.ctx.store.signup, token.signup)
        if signup is None or not token.valid_for(self.ctx.secret, signup.email, now=0):
            return None, "invalid"  # forged or altered: same answer as a link that never existed
        if not token.valid_for(self.ctx.secret, signup.email, now=time.time()) or signup.expires_at < time.time():
            return signup, "expired"
        if signup.state != "pending":
            return signup, "used"
        return signup, "ok"

    def _refused(self, why: str) -> Response:
        if why == "invalid":
            return _page(self.ctx, "Invalid link", "<h1>This link is not valid</h1><p>It may be incomplete or altered."
                         "</p>", status=400)
        days = self.ctx.settings.signup.confirm_days
        if why == "expired":
            text = f"Confirmation links work for {days} days. Subscribe again to get a new one."
            return _page(self.ctx, "Link expired", f'<h1>This link has expired</h1><p>{html.escape(text)}</p>'
                         '<p><a href="/subscribe">Subscribe again</a></p>', status=410)
        return _page(self.ctx, "Link already used", "<h1>This link was already used</h1><p>Each link confirms once. "
                     'If you unsubscribed since, <a href="/subscribe">subscribe again</a>.</p>', status=410)

    async def confirm_page(self, request: Request) -> Response:
        """GET /confirm/{token}: a page with the button that confirms (link scanners never press it)."""
        signup, why = await self._checked(request)
        if signup is None or why != "ok":
            return self._refused(why)
        token = html.escape(request.path_params["token"])
        newsletter = html.escape(self.ctx.settings.newsletter.name)
        return _page(self.ctx, "Confirm your subscription",
                     f"<h1>Confirm your subscription</h1><p>Send {newsletter} to "
                     f"<strong>{html.escape(signup.email)}</strong>?</p>"
                     f'<form method="post" action="/confirm/{token}"><button type="submit">Yes, subscribe me'
                     "</button></form>")

    async def confirm(self, request: Request) -> Response:
        """POST /confirm/{token}: confirm once; a replayed, forged or expired link changes nothing."""
        signup, why = await self._checked(request)
        if signup is None or why != "ok":
            return self._refused(why)
        result = await run_in_threadpool(self.ctx.store.confirm_signup, signup.id, now=time.time())
        if result != "confirmed":
            return self._refused("used" if result == "used" else "expired" if result == "expired" else "invalid")
        # Someone erased on request who opts in again is a reader again (their old rows stay skipped until now).
        await run_in_threadpool(self.ctx.store.forget_erasure, erasure_hash(self.ctx.secret, signup.email))
        newsletter = html.escape(self.ctx.settings.newsletter.name)
        return _page(self.ctx, "Subscribed", f"<h1>You are subscribed</h1><p>{newsletter} will come to "
                     f"{html.escape(signup.email)} from the next issue on.</p>")


def signup_routes(ctx: Context) -> list[Route]:
    """The signup and confirmation routes for `create_app`."""
    signups = _Signups(ctx)
    return [
        Route("/subscribe", signups.subscribe_form, methods=["GET"]),
        Route("/subscribe", signups.subscribe, methods=["POST"]),
        Route("/confirm/{token}", signups.confirm_page, methods=["GET"]),
        Route("/confirm/{token}", signups.confirm, methods=["POST"]),
    ]
