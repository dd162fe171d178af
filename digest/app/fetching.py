"""Fetching for a workspace: the sources stage handed the [fetch] settings, the fetch-cache role and the cache.

`digest.sources` knows nothing of the context; this is where a workspace's
pieces are picked out for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from digest.sources.cache import BodyCache
from digest.sources.fetch import FetchReport, FetchResult, fetch_all, user_agent

if TYPE_CHECKING:
    from digest.app.context import Context
    from digest.core.sourcespec import SourceSpec

__all__ = ["fetch_sources", "cache_of"]


def cache_of(ctx: Context) -> BodyCache:
    """The workspace's cache of fetched bodies (`.digest/cache/`)."""
    return BodyCache(ctx.workspace.state_dir / "cache")


def fetch_sources(ctx: Context, specs: Sequence[SourceSpec] | None = None, *, offline: bool = False,
                  on_result: Callable[[FetchResult], None] | None = None) -> FetchReport:
    """Fetch `specs` (default: the workspace's [[sources]]) into the workspace's cache."""
    settings = ctx.settings
    return fetch_all(settings.sources if specs is None else specs, settings=settings.fetch, store=ctx.store,
                     cache=cache_of(ctx), agent=user_agent(settings.newsletter.base_url), offline=offline,
                     on_result=on_result)
