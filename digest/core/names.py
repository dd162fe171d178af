"""Names that end up in headers and DNS: domains (in their ASCII, IDNA form), DKIM selectors, List-Ids.

Each check raises ValueError with a short reason; callers turn it into their
own one-line error naming the setting.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["ascii_domain", "check_selector", "check_host", "check_list_id", "derive_list_id", "mail_address",
           "web_url", "MAX_LIST_ID"]

_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# RFC 5322 3.2.3 atext, the characters of a dot-atom (RFC 2919 list-label and namespace).
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
MAX_LIST_ID = 255  # RFC 2919 section 2: the list-id (label and namespace) is at most 255 octets


def ascii_domain(name: str) -> str:
    """The domain in its ASCII form (IDNA 2008 A-labels for Unicode labels); ValueError if it is not one."""
    if not name or name != name.strip() or len(name) > 253:
        raise ValueError(f"{name!r} is not a domain name")
    if not name.isascii():
        import idna

        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise ValueError(f"{name!r} is not a domain name ({exc})") from None
    labels = name.rstrip(".").split(".")
    if not all(_LABEL.fullmatch(label) for label in labels) or len(name) > 253:
        raise ValueError(f"{name!r} is not a domain name (letters, digits and hyphens between dots)")
    return name.rstrip(".").lower()


def check_selector(selector: str) -> str:
    """A DKIM selector (RFC 6376 3.1: sub-domain labels separated by dots)."""
    if not selector or not all(_LABEL.fullmatch(label) for label in selector.split(".")):
        raise ValueError(f"{selector!r} is not a DKIM selector (letters, digits and hyphens, dot-separated)")
    return selector


def check_list_id(value: str) -> str:
    """A List-Id's id (RFC 2919: list-label "." namespace, dot-atom text, at most 255 octets)."""
    parts = value.split(".")
    if len(parts) < 2 or len(value) > MAX_LIST_ID or not all(_ATEXT.fullmatch(p) for p in parts):
        raise ValueError(f"{value!r} is not a List-Id (like weekly.news.example.com: letters, digits, "
                         f"- and _ between dots, at most {MAX_LIST_ID} characters; no spaces or <>)")
    return value


def derive_list_id(list_name: str, domain: str) -> str:
    """An RFC 2919 id for a list name of any shape: `My List (2026)` at example.com → my-list-2026.example.com."""
    domain = ascii_domain(domain) if domain else "localhost"
    budget = MAX_LIST_ID - len(domain) - 1
    label = "-".join(re.findall(r"[a-z0-9]+", list_name.lower()))[:budget].strip("-")
    return f"{label or 'digest'[:budget]}.{domain}"


def check_host(host: str) -> str:
    """A host name or an IP address, as a connection or a Host header names it."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return ascii_domain(host)


def mail_address(value: str) -> str:
    """One address, optionally with a display name; its domain in ASCII. ValueError for none or several.

    `a@b.c, evil@x.y` is two addresses and `Name <a@b.c>, x` two fields: both refused,
    so a setting can never add a second From (or Reply-To) address.
    """
    from email.errors import ObsoleteHeaderDefect
    from email.headerregistry import HeaderRegistry

    try:
        parsed: Any = HeaderRegistry()("From", value)
        # Obsolete syntax (a '.' in a name: "Dr. Who <a@b.c>") is still one address.
        addresses = parsed.addresses
        broken = any(not isinstance(d, ObsoleteHeaderDefect) for d in parsed.defects)
    except (ValueError, IndexError, TypeError):  # the stdlib parser's ways of giving up
        addresses, broken = (), True
    if len(addresses) != 1 or broken or not addresses[0].addr_spec or "@" not in addresses[0].addr_spec:
        raise ValueError(f"{value!r} must be one email address, like Name <news@example.com>")
    name, address = addresses[0].display_name, addresses[0].addr_spec
    local, at, domain = address.rpartition("@")
    if not at or not local or any(c in local for c in ' "<>()[],;:\\'):
        raise ValueError(f"{address!r} is not an email address")
    if not local.isascii():
        raise ValueError(f"{address!r}: the part before @ must be ASCII (a sender address is used where "
                         "SMTPUTF8 may be missing)")
    address = f"{local}@{ascii_domain(domain)}"
    if not name:
        return address
    # As written in digest.toml (UTF-8 allowed: the header is encoded when the message is made).
    if re.search(r'[()<>\[\]:;@\\,."]', name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


_URL_UNSAFE = re.compile(r"[\s\"'<>\\^`{|}\x00-\x1f\x7f]")


def web_url(value: str) -> str:
    """An http(s) base URL with a host and no query or fragment; its host in ASCII, its path %-encoded."""
    from urllib.parse import quote, urlsplit, urlunsplit

    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment \
            or value.endswith(("?", "#")):
        raise ValueError(f"{value!r} must have no user, query or fragment (links are built by adding /u/…)")
    if _URL_UNSAFE.search(value):
        raise ValueError(f"{value!r} must have no spaces, quotes, <> or control characters")
    host = check_host(parts.hostname)
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{port}" if port is not None else host
    path = quote(parts.path, safe="/%:@!$&()*+,;=-._~")
    return urlunsplit((parts.scheme, netloc, path, "", ""))
