"""Host names a web app answers to: parsing a Host header, --allow-host patterns, the names served.

Shared by the web apps (their Host guard) and `digest check` (do the links point at a host `digest serve`
answers for?), so it lives below both.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["LOOPBACK_NAMES", "host_name", "allowed_host", "host_matches", "served_names"]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_HOST_CHARS = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


def host_name(value: str) -> str | None:
    """The host part of a Host header or URL authority, lower-case, without port or brackets; None if malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1:] if end > 0 else "x"
        name, port = value[1:end], rest[1:]
        if rest and not rest.startswith(":"):
            return None
        try:
            name = str(ipaddress.IPv6Address(name))
        except ValueError:
            return None
    else:
        name, _, port = value.partition(":")
        name = name.rstrip(".")
        if not _HOST_CHARS.fullmatch(name):
            return None
    if port and not port.isdigit():
        return None
    return name


def allowed_host(value: str) -> str:
    """An --allow-host value in the form HostGuard matches; ValueError when it names no host.

    A host name (an IDN in its A-labels), an IP address, `*.example.com` (any name under
    example.com) or `.example.com` (example.com and any name under it).
    """
    from digest.core.names import ascii_domain, check_host

    text = value.strip().lower()
    for prefix in ("*.", "."):
        if text.startswith(prefix):
            try:
                return prefix + ascii_domain(text[len(prefix):])
            except ValueError:
                raise ValueError(f"{value!r} is not a host name pattern (like *.example.com or .example.com)") \
                    from None
    try:
        return check_host(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a host name or address (like news.example.com, 192.0.2.7, "
                         "*.example.com)") from None


def host_matches(name: str, allowed: frozenset[str]) -> bool:
    if name in allowed:
        return True
    for pattern in allowed:
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
        if pattern.startswith(".") and (name == pattern[1:] or name.endswith(pattern)):
            return True
    return False


def served_names(*, base_url: str | None = None, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host names an app answers to: loopback, base_url's host, and `extra` (such as the address
    it listens on; 0.0.0.0 and :: name no host and are left out)."""
    names = set(LOOPBACK_NAMES)
    if base_url:
        host = urlsplit(base_url).hostname
        if host:
            names.add(host.lower())
    for value in extra:
        if value.startswith(("*.", ".")):
            names.add(allowed_host(value))
            continue
        name = value.strip("[]").lower() if value.count(":") > 1 else host_name(value)
        if not name:
            continue
        try:
            if ipaddress.ip_address(name).is_unspecified:
                continue
        except ValueError:
            pass
        names.add(name)
    return frozenset(names)
