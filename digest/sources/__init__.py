"""Sources on the web: `[[sources]]` feeds and pages fetched politely, conditionally and safely into a cache.

    report = fetch_all(specs, settings=fetch, store=store, cache=cache, agent=user_agent(base_url))
    found = articles_from(report, cache)  # a Collection, as collect() gives for files

(`digest.app.fetching.fetch_sources(ctx)` fills those in from a workspace.)

Nothing here parses with a parser that fetches by itself: bodies are fetched
here and parsed from bytes by `digest.collect`. The names load on first use,
so reading digest.toml (which needs `digest.core.sourcespec`) never imports the
HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from digest.core.urls import is_url

if TYPE_CHECKING:
    from digest.core.sourcespec import FetchSettings, SourceSpec, check_url
    from digest.sources.articles import articles_from
    from digest.sources.cache import BodyCache
    from digest.sources.fetch import FetchReport, FetchResult, fetch_all, fetch_all_async, user_agent

__all__ = [
    "SourceSpec",
    "FetchSettings",
    "FetchReport",
    "FetchResult",
    "fetch_all",
    "fetch_all_async",
    "articles_from",
    "BodyCache",
    "check_url",
    "user_agent",
    "is_url",
]

_WHERE = {
    "SourceSpec": "core.sourcespec", "FetchSettings": "core.sourcespec", "check_url": "core.sourcespec",
    "FetchReport": "sources.fetch", "FetchResult": "sources.fetch", "fetch_all": "sources.fetch",
    "fetch_all_async": "sources.fetch", "user_agent": "sources.fetch", "articles_from": "sources.articles",
    "BodyCache": "sources.cache",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"digest.{_WHERE[name]}"), name)
    raise AttributeError(name)
