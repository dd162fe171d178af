"""`[[sources]]` and `[fetch]` in digest.toml: the web sources of an issue and how politely to fetch them.

A settings section, so it sits in core beside the rest of digest.toml's types
(digest.core.settings reads it); the sources stage fetches what it describes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from digest.core.errors import ConfigError
from digest.core.tomllines import suggestion

__all__ = ["SourceSpec", "FetchSettings", "parse_sources", "parse_fetch", "check_url", "SOURCE_KINDS"]

SOURCE_KINDS = ("auto", "feed", "page")


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One web source: a feed or an article page."""

    url: str
    kind: str = "auto"  # "feed" | "page" | "auto" (sniffed from the response)
    full_text: bool = False  # follow each feed entry to its page and extract the article
    max_items: int = 20  # entries taken from a feed, newest first


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """[fetch]: timeouts, caps and the private-network guard shared by every source."""

    connect_timeout: float = 10.0
    timeout: float = 30.0  # the whole request, body included
    max_bytes: int = 10 * 1024 * 1024  # a body over this is abandoned while it streams
    max_redirects: int = 5
    per_host: int = 2  # requests at once to one host
    concurrency: int = 16  # requests at once in all
    retry_after_max: float = 60.0  # longest Retry-After honoured before a source is skipped this time
    allow_private_networks: bool = False  # loopback, RFC 1918, link-local … (tests, intranets)


def check_url(url: str, *, where: str = "source") -> str:
    """The URL, trimmed, when it is an absolute http(s) URL with a host; a ConfigError otherwise."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ConfigError(f"{where} {url!r} is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError(f"{where} {url!r}: only http:// and https:// URLs are fetched")
    if not parts.hostname:
        raise ConfigError(f"{where} {url!r} has no host")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise ConfigError(f"{where} {url!r} holds spaces or control characters")
    return url


def _number(table: dict[str, Any], key: str, default: float, low: float, high: float, label: str,
            path: str, *, integer: bool = False) -> Any:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        raise ConfigError(f"{label} {key} must be a{'n integer' if integer else ' number'}", path=path)
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(f"{label} {key} must be between {low:g} and {high:g}", path=path)
    return int(value) if integer else float(value)


def _flag(table: dict[str, Any], key: str, label: str, path: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{label} {key} must be true or false", path=path)
    return value


def parse_fetch(table: Any, path: str) -> FetchSettings:
    """Check the [fetch] table key by key."""
    if not isinstance(table, dict):
        raise ConfigError("[fetch] must be a table", path=path)
    unknown = set(table) - set(FetchSettings.__slots__)
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(f"unknown key {key!r} in [fetch]{suggestion(key, sorted(FetchSettings.__slots__))}",
                          path=path)
    d = FetchSettings()
    return FetchSettings(
        connect_timeout=_number(table, "connect_timeout", d.connect_timeout, 0.1, 300, "[fetch]", path),
        timeout=_number(table, "timeout", d.timeout, 0.1, 600, "[fetch]", path),
        max_bytes=_number(table, "max_bytes", d.max_bytes, 1024, 100 * 1024 * 1024, "[fetch]", path, integer=True),
        max_redirects=_number(table, "max_redirects", d.max_redirects, 0, 20, "[fetch]", path, integer=True),
        per_host=_number(table, "per_host", d.per_host, 1, 16, "[fetch]", path, integer=True),
        concurrency=_number(table, "concurrency", d.concurrency, 1, 64, "[fetch]", path, integer=True),
        retry_after_max=_number(table, "retry_after_max", d.retry_after_max, 0, 600, "[fetch]", path),
        allow_private_networks=_flag(table, "allow_private_networks", "[fetch]", path),
    )


def parse_sources(entries: Any, path: str) -> tuple[SourceSpec, ...]:
    """Check the [[sources]] array of tables; each needs an http(s) url."""
    if not isinstance(entries, list):
        raise ConfigError("sources must be an array of tables: [[sources]]", path=path)
    specs: list[SourceSpec] = []
    seen: set[str] = set()
    for number, table in enumerate(entries, 1):
        where = f"[[sources]] #{number}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table", path=path)
        unknown = set(table) - set(SourceSpec.__slots__)
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(f"unknown key {key!r} in {where}{suggestion(key, sorted(SourceSpec.__slots__))}",
                              path=path)
        url = table.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"{where} needs a url", path=path)
        try:
            url = check_url(url, where=where)
        except ConfigError as exc:
            raise ConfigError(exc.message, path=path) from None
        kind = table.get("kind", "auto")
        if kind not in SOURCE_KINDS:
            raise ConfigError(f'{where} kind must be "feed", "page" or "auto"', path=path)
        if url in seen:
            raise ConfigError(f"{where} repeats {url}", path=path)
        seen.add(url)
        specs.append(SourceSpec(
            url=url, kind=kind, full_text=_flag(table, "full_text", where, path),
            max_items=_number(table, "max_items", 20, 1, 1000, where, path, integer=True)))
    return tuple(specs)
