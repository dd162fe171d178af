"""Sources on the web: `[[sources]]` feeds and pages fetched politely, conditionally and safely into a cache.

    report = fetch_sources(ctx)                  # or fetch_sources(ctx, offline=True)
    found = articles_from(report, cache_of(ctx))  # a Collection, as collect() gives for files

Nothing here parses with a parser that fetches by itself: bodies are fetched
here and parsed from bytes by `digest.collect`. The names load on first use,
so reading digest.toml (which needs `digest.sources.config`) never imports the
HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from digest.core.urls import is_url

if TYPE_CHECKING:
    from digest.app.context import Context
    from digest.sources.articles import articles_from
    from digest.sources.cache import BodyCache
    from digest.sources.config import FetchSettings, SourceSpec, check_url
    from digest.sources.fetch import FetchReport, FetchResult, fetch_sources, fetch_sources_async, user_agent

__all__ = [
    "SourceSpec",
    "FetchSettings",
    "FetchReport",
    "FetchResult",
    "fetch_sources",
    "fetch_sources_async",
    "articles_from",
    "cache_of",
    "check_url",
    "user_agent",
    "is_url",
]

_WHERE = {
    "SourceSpec": "config", "FetchSettings": "config", "check_url": "config",
    "FetchReport": "fetch", "FetchResult": "fetch", "fetch_sources": "fetch", "fetch_sources_async": "fetch",
    "user_agent": "fetch", "articles_from": "articles",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"digest.sources.{_WHERE[name]}"), name)
    raise AttributeError(name)


def cache_of(ctx: Context) -> BodyCache:
    """The workspace's cache of fetched bodies (`.digest/cache/`)."""
    from digest.sources.cache import BodyCache

    return BodyCache(ctx.workspace.state_dir / "cache")

