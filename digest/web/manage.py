"""A reader's own page: /manage/TOKEN — their lists, their data, their erasure.

The token (digest.compose.tokens, signed, long-lived) is in every email, so no
login is needed. GET never changes anything (link scanners open every link);
each POST must come from this site's own page (its Origin is the Host it was
sent to), so another site cannot make a reader's browser change their lists.
"""

from __future__ import annotations

import html
import json
import logging
import time
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from digest.app.context import Context
from digest.app.erase import erase_reader, mask_address, reader_data, reader_lists
from digest.compose import TokenError, verify_manage_token
from digest.web.guard import BodyRefused, read_body
from digest.web.home import Links, page_html
from digest.web.site import ARCHIVE_HEADERS

__all__ = ["manage_routes", "origin_refusal", "MAX_MANAGE_BODY"]

_log = logging.getLogger("uvicorn.error")  # where `digest serve` logs: stderr
MAX_MANAGE_BODY = 16 * 1024  # a few hundred list names at most
# With no-referrer a browser sends `Origin: null` on a form POST; same-origin keeps our own Origin (and sends
# the token-bearing URL to nobody else).
_HEADERS = {**ARCHIVE_HEADERS, "Referrer-Policy": "same-origin"}


def origin_refusal(request: Request) -> str | None:
    """Why a state-changing POST is refused, or None when it comes from a page of this same site."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    # Browsers send Origin with every form POST; a request without one is not from our page.
    if origin is None or origin.lower() not in (f"http://{host}".lower(), f"https://{host}".lower()):
        return "cross-origin request refused"
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return "cross-site request refused"
    return None


class _Manage:
    """The routes of one workspace's manage pages."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings

    def _page(self, title: str, main: str, *, status: int = 200) -> HTMLResponse:
        head = '<meta name="robots" content="noindex">'
        return HTMLResponse(page_html(self.settings, title=title, main=main, links=Links(), head=head),
                            status_code=status, headers=_HEADERS)

    def _reader(self, request: Request) -> str | None:
        try:
            return verify_manage_token(self.ctx.secret, request.path_params["token"])
        except TokenError:
            return None

    def _bad_link(self) -> HTMLResponse:
        # The same answer for every bad token: nothing about who is or is not subscribed.
        return self._page("Invalid link", "<h1>This link is not valid</h1><p>It may be incomplete or altered.</p>",
                          status=400)

    async def _checked_post(self, request: Request) -> tuple[str | None, dict[str, list[str]], Response | None]:
        email = self._reader(request)
        if email is None:
            return None, {}, self._bad_link()
        refused = origin_refusal(request)
        if refused:
            return None, {}, PlainTextResponse(refused, status_code=403, headers=_HEADERS)
        try:
            body = await read_body(request, limit=MAX_MANAGE_BODY)
        except BodyRefused as exc:
            return None, {}, PlainTextResponse(exc.message, status_code=exc.status, headers=_HEADERS)
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000)
        except (UnicodeDecodeError, ValueError):
            return None, {}, PlainTextResponse("The form could not be read.", status_code=400,
                                               headers=_HEADERS)
        return email, fields, None

    def _form(self, token: str, lists: dict[str, bool], note: str = "") -> str:
        t = html.escape(token)
        if lists:
            boxes = "".join(
                f'<li><input type="checkbox" id="list-{i}" name="list" value="{html.escape(name)}"'
                f'{" checked" if on else ""}><label for="list-{i}" style="display:inline;margin-left:.5rem">'
                f"{html.escape(name)}</label></li>" for i, (name, on) in enumerate(lists.items()))
            choose = (f'<form method="post" action="/manage/{t}"><fieldset><legend>Your lists</legend>'
                      f'<ul style="list-style:none;padding:0">{boxes}</ul></fieldset>'
                      '<button type="submit" name="action" value="save">Save my choice</button></form>'
                      f'<form method="post" action="/manage/{t}"><p>Or leave every list at once.</p>'
                      '<button type="submit" name="action" value="everything">Unsubscribe from everything</button>'
                      "</form>")
        else:
            choose = "<p>You are on none of our lists.</p>"
        status = f'<p role="status"><strong>{html.escape(note)}</strong></p>' if note else ""
        return (f"{status}{choose}<h2>Your data</h2>"
                f'<p><a href="/manage/{t}/data" download="my-data.json">Download what we store about you (JSON)</a>'
                f'</p><p><a href="/manage/{t}/erase">Erase everything we store about you</a></p>')

    async def show(self, request: Request) -> Response:
        """GET /manage/{token}: the masked address and every list, ticked while it reaches the reader."""
        email = self._reader(request)
        if email is None:
            return self._bad_link()
        lists = await run_in_threadpool(reader_lists, self.ctx, email)
        return self._page("Manage your subscription",
                          f"<h1>Manage your subscription</h1><p>For <strong>{html.escape(mask_address(email))}"
                          f"</strong></p>{self._form(request.path_params['token'], lists)}")

    async def save(self, request: Request) -> Response:
        """POST /manage/{token}: ticked lists reach the reader (again), unticked ones no longer do."""
        email, fields, refused = await self._checked_post(request)
        if refused is not None or email is None:
            return refused or self._bad_link()
        action = fields.get("action", [])
        if action not in (["save"], ["everything"]):
            # Only the page's own two buttons: a mangled or foreign body must not read as "nothing ticked".
            return PlainTextResponse("This form was not sent by the manage page: nothing changed.", status_code=400)
        store = self.ctx.store
        lists = await run_in_threadpool(reader_lists, self.ctx, email)
        # Recorded as the manage page's (digest report counts unsubscribes by where they came from), against
        # the last issue the reader was sent: the one whose link they most likely followed.
        sent = [s["issue"] for s in (await run_in_threadpool(store.reader_data, email))["sends"]
                if s["status"] == "sent"]
        issue = max(sent) if sent else None
        if action == ["everything"]:
            await run_in_threadpool(store.suppress, email, reason="manage", issue=issue)
            note = "You are unsubscribed from every list."
        else:
            ticked = set(fields.get("list", []))
            for name, on in lists.items():
                if name in ticked and not on:
                    await run_in_threadpool(store.rejoin_list, email, list_name=name)
                elif name not in ticked and on:
                    # As the one-click link of that list does: the reader's other lists stay.
                    await run_in_threadpool(store.suppress, email, reason="manage", issue=issue, list_name=name)
            note = "Your choice is saved."
        lists = await run_in_threadpool(reader_lists, self.ctx, email)
        return self._page("Manage your subscription",
                          f"<h1>Manage your subscription</h1><p>For <strong>{html.escape(mask_address(email))}"
                          f"</strong></p>{self._form(request.path_params['token'], lists, note)}")

    async def data(self, request: Request) -> Response:
        """GET /manage/{token}/data: everything stored about the address, as a JSON download."""
        email = self._reader(request)
        if email is None:
            return self._bad_link()
        found = await run_in_threadpool(reader_data, self.ctx, email)
        found["exported_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return Response(json.dumps(found, indent=2, ensure_ascii=False, default=str), media_type="application/json",
                        headers={**_HEADERS, "Content-Disposition": 'attachment; filename="my-data.json"'})

    async def erase_page(self, request: Request) -> Response:
        """GET /manage/{token}/erase: asks first; nothing is erased by opening the link."""
        email = self._reader(request)
        if email is None:
            return self._bad_link()
        t = html.escape(request.path_params["token"])
        return self._page("Erase your data",
                          f"<h1>Erase your data?</h1><p>Everything we store about "
                          f"<strong>{html.escape(mask_address(email))}</strong> is deleted: your lists, your "
                          "consent records, what we sent you, bounces and complaints. We keep only a one-way "
                          "code of your address so an old list never mails you again. This cannot be undone.</p>"
                          f'<form method="post" action="/manage/{t}/erase"><button type="submit" name="confirm" '
                          'value="yes">Yes, erase my data</button></form>'
                          f'<p><a href="/manage/{t}">No, go back</a></p>')

    async def erase(self, request: Request) -> Response:
        """POST /manage/{token}/erase: erase the reader everywhere the workspace keeps them."""
        email, fields, refused = await self._checked_post(request)
        if refused is not None or email is None:
            return refused or self._bad_link()
        if fields.get("confirm") != ["yes"]:
            return PlainTextResponse("Confirm the erasure with its button.", status_code=400, headers=_HEADERS)
        done = await run_in_threadpool(erase_reader, self.ctx, email)
        _log.info("a reader erased themselves from their manage page: %s", done.summary())  # counts, no address
        return self._page("Your data is erased", "<h1>Your data is erased</h1><p>We will not write to you again."
                          "</p>")


def manage_routes(ctx: Context) -> list[Route]:
    """The manage routes for `create_app`."""
    manage = _Manage(ctx)
    return [
        Route("/manage/{token}", manage.show, methods=["GET"]),
        Route("/manage/{token}", manage.save, methods=["POST"]),
        Route("/manage/{token}/data", manage.data, methods=["GET"]),
        Route("/manage/{token}/erase", manage.erase_page, methods=["GET"]),
        Route("/manage/{token}/erase", manage.erase, methods=["POST"]),
    ]
