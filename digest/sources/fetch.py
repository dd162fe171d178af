"""Fetch every web source into the workspace cache: conditionally, concurrently, one failure at a time.

`fetch_all(specs, …)` is the library call behind `digest fetch`, `digest build`
and `digest run` (the app layer's `digest.app.fetching.fetch_sources(ctx)` hands
it the [fetch] settings, the fetch-cache store role and the body cache): it
asks each source's server again with the validators of the last answer,
stores new bodies in the cache and their validators in the store, follows a
`full_text` feed's entries to their article pages (where robots.txt
allows), and reports one `FetchResult` per source. A source that fails is
reported and the rest go on. With `offline=True` nothing is fetched: every
source is answered from the cache, so an issue can be rebuilt exactly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from digest.core.errors import SourceError
from digest.core.sourcespec import SourceSpec
from digest.core.urls import redact, redact_in
from digest.sources.cache import BodyCache
from digest.sources.client import FEED_ACCEPT, PAGE_ACCEPT, Fetched, FetchFailure, HTTPClient
from digest.sources.parsing import ParsedBody, entry_links, parse_body
from digest.sources.robots import RobotsCache
from digest.store.base import now_iso
from digest.store.fetchcache import FetchRecord

if TYPE_CHECKING:
    from digest.core.sourcespec import FetchSettings
    from digest.store.roles import FetchCacheStore

__all__ = ["FetchResult", "FetchReport", "PageResult", "fetch_all", "fetch_all_async", "user_agent",
           "OUTCOMES"]

#: fetched (200) · not modified (304, the cached body) · cached (offline) · failed · refused (guard, scheme,
#: robots) · gone (410) · skipped (rate limited this time)
OUTCOMES = ("fetched", "not_modified", "cached", "failed", "refused", "gone", "skipped")


@dataclass
class PageResult:
    """One article page a full_text feed entry links to."""

    url: str
    body_sha256: str = ""
    content_type: str = ""
    final_url: str = ""
    reason: str = ""  # why there is no body (robots, status …)


@dataclass
class FetchResult:
    """What happened to one source."""

    spec: SourceSpec
    outcome: str
    reason: str = ""
    status: int | None = None
    seconds: float = 0.0
    size: int = 0
    moved_to: str = ""
    final_url: str = ""
    content_type: str = ""
    body_sha256: str = ""
    pages: list[PageResult] = field(default_factory=list)
    parsed: ParsedBody | None = field(default=None, repr=False)  # the body parsed once (full_text feeds)

    @property
    def name(self) -> str:
        """The source's URL as printed: without a password."""
        return redact(self.spec.url)

    @property
    def ok(self) -> bool:
        """True when there is a body to build from."""
        return self.outcome in ("fetched", "not_modified", "cached")

    def error(self) -> SourceError:
        """The failure as a one-line SourceError naming the URL."""
        return SourceError(f"{self.outcome}: {self.reason}", path=self.name)


@dataclass
class FetchReport:
    """Every source's result, in the order the sources were given."""

    results: list[FetchResult]
    offline: bool = False
    seconds: float = 0.0

    @property
    def failed(self) -> list[FetchResult]:
        """The sources that gave nothing to build from."""
        return [r for r in self.results if not r.ok]

    def count(self, outcome: str) -> int:
        """How many sources ended with this outcome."""
        return sum(1 for r in self.results if r.outcome == outcome)


def user_agent(base_url: str) -> str:
    """`digest/<version> (+<base_url>)`: who is asking and where to read about it."""
    from digest.core.about import version

    return f"digest/{version()} (+{base_url})"


def fetch_all(specs: Sequence[SourceSpec], *, settings: FetchSettings, store: FetchCacheStore, cache: BodyCache,
              agent: str, offline: bool = False,
              on_result: Callable[[FetchResult], None] | None = None) -> FetchReport:
    """Fetch `specs` into `cache`, their validators kept in `store`; see the module docstring."""
    from digest.core.aio import run

    return run(fetch_all_async(specs, settings=settings, store=store, cache=cache, agent=agent, offline=offline,
                               on_result=on_result))


async def fetch_all_async(specs: Sequence[SourceSpec], *, settings: FetchSettings, store: FetchCacheStore,
                          cache: BodyCache, agent: str, offline: bool = False,
                          on_result: Callable[[FetchResult], None] | None = None) -> FetchReport:
    """`fetch_all` for a caller already in an event loop."""
    started = time.perf_counter()
    specs = list(specs)
    records = await asyncio.to_thread(store.fetch_records, [s.url for s in specs])
    run = _Run(store, cache, records, on_result)
    if offline:
        results = [await run.from_cache(spec) for spec in specs]
    else:
        async with HTTPClient(settings, user_agent=agent) as client:
            run.connect(client)
            results = list(await asyncio.gather(*(run.fetch(spec) for spec in specs)))
        await asyncio.to_thread(store.save_fetches, list(run.saved.values()))
    return FetchReport(results, offline=offline, seconds=time.perf_counter() - started)


def _unexpected(exc: Exception) -> str:
    """A surprise as one line (without passwords): it fails its source, never the run."""
    return redact_in(f"unexpected error: {type(exc).__name__}: {exc}".splitlines()[0])


class _Run:
    """One fetch of many sources: the shared client, robots rules, cache and the records to save."""

    def __init__(self, store: FetchCacheStore, cache: BodyCache, records: dict[str, FetchRecord],
                 on_result: Callable[[FetchResult], None] | None) -> None:
        self.store = store
        self.cache = cache
        self.records = records
        self.on_result = on_result
        self.saved: dict[str, FetchRecord] = {}
        self._client: HTTPClient | None = None
        self._robots_cache: RobotsCache | None = None

    def connect(self, client: HTTPClient) -> None:
        """Use this client (and one robots.txt cache over it) for the run."""
        self._client = client
        self._robots_cache = RobotsCache(client)

    @property
    def client(self) -> HTTPClient:
        """The run's HTTP client (online runs only)."""
        if self._client is None:
            raise RuntimeError("an offline run has no HTTP client")
        return self._client

    def _done(self, result: FetchResult) -> FetchResult:
        if self.on_result is not None:
            self.on_result(result)
        return result

    async def fetch(self, spec: SourceSpec) -> FetchResult:
        """Fetch one source (and, for a full_text feed, its entries' pages); never raises."""
        try:
            result = await self._fetch(spec)
        except Exception as exc:  # one source's surprise must not take the others down with it
            result = FetchResult(spec, "failed", _unexpected(exc))
        return self._done(result)

    async def _fetch(self, spec: SourceSpec) -> FetchResult:
        # Feeds are published to be polled; robots.txt governs pages (and what may turn out to be one),
        # on every hop of a redirect chain.
        accept = PAGE_ACCEPT if spec.kind == "page" else FEED_ACCEPT
        try:
            record, fetched = await self._get(spec.url, accept=accept, robots=spec.kind != "feed")
        except FetchFailure as failure:
            return FetchResult(spec, failure.outcome, failure.reason, status=failure.status,
                               seconds=failure.seconds)
        result = FetchResult(spec, "fetched" if fetched.status == 200 else "not_modified", status=fetched.status,
                             size=record.size, moved_to=fetched.moved_to, final_url=record.final_url,
                             content_type=record.content_type, body_sha256=record.body_sha256,
                             seconds=fetched.seconds)
        if fetched.moved_to:
            result.reason = f"moved permanently to {redact(fetched.moved_to)}: update the URL in [[sources]]"
        if spec.full_text:
            result.pages = await self._pages(spec, result)
        return result

    async def _robots(self, url: str) -> str | None:
        if self._robots_cache is None:
            raise RuntimeError("an offline run reads no robots.txt")
        return await self._robots_cache.refusal(url)

    async def _get(self, url: str, *, accept: str, robots: bool) -> tuple[FetchRecord, Fetched]:
        """A conditional GET when the cached body is intact; the body cached, the record kept to save.

        A body that is gone or damaged on disk is asked for whole: validators would
        only earn a 304 for a body we no longer have.
        """
        old = self.records.get(url)
        usable = old is not None and await asyncio.to_thread(self.cache.intact, old.body_sha256)
        fetched = await self.client.get(url, etag=old.etag if old and usable else "",
                                        last_modified=old.last_modified if old and usable else "", accept=accept,
                                        check=self._robots if robots else None)
        now = now_iso()
        if fetched.status == 304 and old is not None:  # the client refuses a 304 it did not ask for
            record = FetchRecord(url, fetched.final_url, fetched.etag or old.etag,
                                 fetched.last_modified or old.last_modified, old.content_type, old.body_sha256,
                                 old.size, old.fetched_at, now)
        else:
            body = fetched.body or b""
            digest = await asyncio.to_thread(self.cache.put, body)
            record = FetchRecord(url, fetched.final_url, fetched.etag, fetched.last_modified, fetched.content_type,
                                 digest, len(body), now, now)
        self.saved[url] = record
        self.records[url] = record
        return record, fetched

    async def _parsed(self, spec: SourceSpec, result: FetchResult) -> list[str]:
        """Parse the source's body once (in a thread: a big feed must not stall the other fetches), keep it
        on the result for `articles_from`, and return its entries' links (none when it is not a feed)."""
        body = await asyncio.to_thread(self.cache.get, result.body_sha256)
        result.parsed = await asyncio.to_thread(parse_body, body, url=redact(result.final_url or spec.url),
                                                content_type=result.content_type, kind=spec.kind)
        return entry_links(result.parsed, max_items=spec.max_items)

    async def _pages(self, spec: SourceSpec, result: FetchResult) -> list[PageResult]:
        """Fetch the article pages of a full_text feed's newest entries."""
        links = await self._parsed(spec, result)
        more = [link for link in links if link not in self.records]
        if more:
            self.records.update(await asyncio.to_thread(self.store.fetch_records, more))
        return list(await asyncio.gather(*(self._page(link) for link in links)))

    async def _page(self, url: str) -> PageResult:
        try:
            record, _ = await self._get(url, accept=PAGE_ACCEPT, robots=True)
        except FetchFailure as failure:
            return PageResult(url, reason=failure.reason)
        except Exception as exc:  # an entry's page is one page: the feed and its other pages go on
            return PageResult(url, reason=_unexpected(exc))
        return PageResult(url, record.body_sha256, record.content_type, record.final_url)

    async def from_cache(self, spec: SourceSpec) -> FetchResult:
        """The source as last fetched, without a request (offline); never raises."""
        try:
            result = await self._from_cache(spec)
        except Exception as exc:  # as for fetch: one source at a time
            result = FetchResult(spec, "failed", _unexpected(exc))
        return self._done(result)

    async def _from_cache(self, spec: SourceSpec) -> FetchResult:
        record = self.records.get(spec.url)
        if record is None or not await asyncio.to_thread(self.cache.intact, record.body_sha256):
            return FetchResult(spec, "failed", "not in the cache: run digest fetch (online) first")
        result = FetchResult(spec, "cached", size=record.size, final_url=record.final_url,
                             content_type=record.content_type, body_sha256=record.body_sha256)
        if spec.full_text:
            links = await self._parsed(spec, result)
            pages = await asyncio.to_thread(self.store.fetch_records, links)
            for link in links:
                page = pages.get(link)
                if page is not None and await asyncio.to_thread(self.cache.intact, page.body_sha256):
                    result.pages.append(PageResult(link, page.body_sha256, page.content_type, page.final_url))
                else:
                    result.pages.append(PageResult(link, reason="not in the cache"))
        return result
