"""Opt-in click counting: article links in the HTML part rewritten once per issue to signed `/c/TOKEN` links.

A click token names the issue, the link's number in the issue and the link's own URL, signed by
core/signing.py under its own purpose label: `digest serve` redirects to the URL the token
carries only when its MAC holds, so an altered token can never become an open redirect. The
rewrite runs once at render time; with `[tracking] per_reader = true` each link also carries the
`click_reader` personal field (`?r=<reader token>`), filled like any other field at send time.
Unsubscribe, manage, view-in-browser, archive and mailto links are never rewritten: only the
article links the issue names are (an exact `href` match), and the text part keeps real URLs.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

from digest.core import signing
from digest.core.model import TrackedLink

__all__ = ["ClickToken", "TrackedLink", "sign_click", "verify_click", "sign_reader", "verify_reader",
           "rewrite_links", "CLICK_READER_FIELD", "ClickTokenError", "sign_open", "verify_open", "add_pixel"]

CLICK_READER_FIELD = "click_reader"
_SEPARATOR = "\x1f"
_MAC_BYTES = 12
MAX_TOKEN_LENGTH = 4096
_CLICK = b"digest-click"
_READER = b"digest-click-reader"
_OPEN = b"digest-open"


class ClickTokenError(ValueError):
    """The click or reader token is malformed, altered or forged."""


@dataclass(frozen=True, slots=True)
class ClickToken:
    """What a valid click token says: which issue, which of its links, and where that link goes."""

    issue: int
    link: int
    url: str


def _sign(purpose: bytes, payload: bytes, secret: bytes) -> str:
    mac = signing.mac(secret, purpose=purpose, payload=payload, size=_MAC_BYTES)
    return f"{signing.b64encode(payload)}.{signing.b64encode(mac)}"


def _verify(purpose: bytes, token: str, secret: bytes) -> bytes:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise ClickTokenError("malformed token")
    body, mac = token.split(".")
    try:
        payload, given = signing.b64decode(body), signing.b64decode(mac)
    except (ValueError, TypeError):
        raise ClickTokenError("malformed token") from None
    expected = signing.mac(secret, purpose=purpose, payload=payload, size=_MAC_BYTES)
    if len(given) != _MAC_BYTES or not signing.same(given, expected):
        raise ClickTokenError("invalid token")
    return payload


def sign_click(secret: bytes, *, issue: int, link: int, url: str) -> str:
    """The token of one article link of one issue (the same for every reader)."""
    return _sign(_CLICK, _SEPARATOR.join((str(issue), str(link), url)).encode("utf-8"), secret)


def verify_click(secret: bytes, token: str) -> ClickToken:
    """Check a click token; ClickTokenError for anything not signed by this workspace or not an http(s) link."""
    payload = _verify(_CLICK, token, secret)
    try:
        issue, link, url = payload.decode("utf-8").split(_SEPARATOR)
        found = ClickToken(int(issue), int(link), url)
    except ValueError:
        raise ClickTokenError("malformed token") from None
    if not found.url.startswith(("https://", "http://")):
        raise ClickTokenError("not a web link")  # belt and braces: we never sign another kind
    return found


def sign_open(secret: bytes, *, issue: int) -> str:
    """The token of an issue's open pixel (`[tracking] opens = true`)."""
    return _sign(_OPEN, str(issue).encode("ascii"), secret)


def verify_open(secret: bytes, token: str) -> int:
    """The issue an open token names; ClickTokenError when it is not ours."""
    try:
        return int(_verify(_OPEN, token, secret).decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise ClickTokenError("malformed token") from None


def add_pixel(page: str, *, secret: bytes, issue: int, base_url: str, reader_slot: str = "") -> str:
    """The open pixel, a 1x1 image at `{base_url}/o/TOKEN`, as the last thing in the body."""
    suffix = f"?r={reader_slot}" if reader_slot else ""
    src = f"{base_url.rstrip('/')}/o/{sign_open(secret, issue=issue)}{suffix}"
    pixel = (f'<img src="{src}" width="1" height="1" alt="" '
             'style="display:block;border:0;width:1px;height:1px;overflow:hidden">')
    at = page.rfind("</body>")
    return page + pixel if at < 0 else page[:at] + pixel + page[at:]


def sign_reader(secret: bytes, email_key: str) -> str:
    """The per-reader part of a click (`?r=`), only with `[tracking] per_reader = true`."""
    return _sign(_READER, email_key.encode("utf-8"), secret)


def verify_reader(secret: bytes, token: str) -> str:
    """The email key a reader token names; ClickTokenError when it is not ours."""
    try:
        return _verify(_READER, token, secret).decode("utf-8")
    except UnicodeDecodeError:
        raise ClickTokenError("malformed token") from None


def _plain_url(href: str) -> str:
    """The URL an href stands for, whatever escaping and percent-encoding it went through."""
    return urllib.parse.unquote(html.unescape(href))


def rewrite_links(page: str, *, secret: bytes, issue: int, base_url: str, links: Iterable[tuple[str, str]],
                  reader_slot: str = "", never: Iterable[str] = ()) -> tuple[str, tuple[TrackedLink, ...]]:
    """Point every `href` of an article link at `{base_url}/c/TOKEN`; the page and the links it tracks.

    `links` are (url, title) pairs in the issue's order; only http(s) URLs are tracked, each once
    (the lead's title and its "Read more" share a number). `never` lists URLs that stay as they are
    (view in browser, the archive), should an article's URL be one of them. `reader_slot` is the
    marker of the `click_reader` field, appended as `?r=` when clicks are counted per reader.
    """
    kept = {u for u in never if u}
    tracked: dict[str, TrackedLink] = {}
    for url, title in links:
        if url.startswith(("https://", "http://")) and url not in kept and url not in tracked:
            tracked[url] = TrackedLink(len(tracked) + 1, url, title)
    if not tracked:
        return page, ()
    base = base_url.rstrip("/")
    # An href is compared as the URL it stands for: the template escapes it (&amp;, &#39; or &#x27;) and
    # the inliner may percent-encode what is not ASCII; the stored URL is the source's own spelling.
    by_url = {_plain_url(url): link for url, link in tracked.items()}

    def swap(match: re.Match[str]) -> str:
        link = by_url.get(_plain_url(match.group(2)))
        if link is None:
            return match.group(0)
        token = sign_click(secret, issue=issue, link=link.link, url=link.url)
        if len(token) > MAX_TOKEN_LENGTH:
            return match.group(0)  # a URL too long to carry in a token stays as it is: never a dead link
        suffix = f"?r={reader_slot}" if reader_slot else ""
        return f'{match.group(1)}"{base}/c/{token}{suffix}"'

    return re.sub(r'(\bhref=)"([^"]*)"', swap, page), tuple(tracked.values())
