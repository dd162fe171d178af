"""URLs read from untrusted text (feeds, pages, the command line): checked, resolved, redacted, compared.

Every URL an article carries passes `absolute_url`: an absolute http(s) URL
that `urllib.parse` can take apart again (a malformed one such as
`http://[::1/x` is dropped here, not left to crash a later stage), resolved
against the document's own URL when it is relative. `redact` hides the
password of a URL before it is printed or written to a plan; `same_site`
decides whether a page may name another URL as its canonical one.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit, urlunsplit

__all__ = ["absolute_url", "is_url", "redact", "redact_in", "same_site", "site_of"]

_USERINFO = re.compile(r"(?<=://)[^/?#\s@]*@")


def is_url(text: str) -> bool:
    """True when a command-line SOURCE (or an article's origin) is a URL rather than a file name (`scheme://…`)."""
    head, sep, _ = text.partition("://")
    return bool(sep) and head.isalpha() and len(head) > 1


def absolute_url(value: str | None, base: str = "") -> str:
    """`value` as an absolute http(s) URL with a host (resolved against `base` when relative), else ""."""
    value = (value or "").strip()
    if not value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return ""
    try:
        if base:
            value = urljoin(base, value)
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return value


def redact(url: str) -> str:
    """The URL with its user and password left out (`https://user:pw@host/` → `https://host/`)."""
    if "@" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.rsplit("@", 1)[-1]
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def redact_in(text: str) -> str:
    """Text (a reason, a message) with the user and password of every URL in it left out."""
    return _USERINFO.sub("", text)


def site_of(url: str) -> str:
    """The site a URL belongs to: its registrable domain (`news.bbc.co.uk` → `bbc.co.uk`, by the Public
    Suffix List), or its host when it has none (an IP address, `localhost`)."""
    from tld import get_fld

    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""
    if not host:
        return ""
    domain = get_fld(host, fix_protocol=True, fail_silently=True)
    return str(domain).lower() if domain else host


def same_site(a: str, b: str) -> bool:
    """True when two URLs belong to one site (see `site_of`); False when either has none."""
    site = site_of(a)
    return bool(site) and site == site_of(b)
