"""Articles from what was fetched: each source's cached body parsed by the collect parsers.

A feed gives its `max_items` newest entries; with `full_text` each entry's
article page, when it was fetched, replaces the entry's summary with the
article itself (the entry's date kept if the page has none).
"""

from __future__ import annotations

import dataclasses

from digest.collect import Collection
from digest.collect.fetched import parse_fetched
from digest.core.errors import SourceError
from digest.core.model import Article
from digest.core.urls import redact
from digest.sources.cache import BodyCache
from digest.sources.fetch import FetchReport, FetchResult, PageResult
from digest.sources.parsing import ParsedBody, entry_links, newest, parse_body

__all__ = ["articles_from", "entry_links", "newest", "parse_body", "ParsedBody"]


def articles_from(report: FetchReport, cache: BodyCache) -> Collection:
    """Parse every source that has a body; failed sources and unparsable bodies become errors."""
    found = Collection()
    for result in report.results:
        if not result.ok:
            found.errors.append(result.error())
            continue
        if result.moved_to:
            found.warnings.append(f"{result.name}: {result.reason}")
        try:
            found.articles.extend(_parse(result, cache, found.warnings))
        except SourceError as exc:
            found.errors.append(SourceError(f"malformed: {exc.message}", path=result.name))
    return found


def _parse(result: FetchResult, cache: BodyCache, warnings: list[str]) -> list[Article]:
    spec = result.spec
    parsed = result.parsed
    if parsed is None:  # parsed already when the fetch followed a full_text feed's entries
        parsed = parse_body(cache.get(result.body_sha256), url=redact(result.final_url or spec.url),
                            content_type=result.content_type, kind=spec.kind)
    warnings.extend(parsed.warnings)
    if parsed.error is not None:
        raise parsed.error
    articles = parsed.articles
    if len(articles) == 1 and articles[0].kind == "html":
        return articles
    articles = newest(articles, spec.max_items)
    if not spec.full_text:
        return articles
    pages = {page.url: page for page in result.pages}
    return [_full_text(entry, pages.get(entry.url), cache, warnings) for entry in articles]
def _full_text(entry: Article, page: PageResult | None, cache: BodyCache, warnings: list[str]) -> Article:
    """The entry's article page in its place, or the entry (with a warning saying why)."""
    if page is None:
        return entry
    body = cache.get(page.body_sha256) if page.body_sha256 else None
    if body is None:
        warnings.append(f"{entry.url}: {page.reason or 'not fetched'}; the feed's summary is used")
        return entry
    try:
        [article] = parse_fetched(body, url=page.final_url or page.url, content_type=page.content_type, kind="page",
                                  warnings=warnings)
    except (SourceError, ValueError) as exc:
        warnings.append(f"{entry.url}: {exc}; the feed's summary is used")
        return entry
    return dataclasses.replace(
        article,
        url=article.url or entry.url,
        published=article.published or entry.published,
        source=article.source or entry.source,
        author=article.author or entry.author,
    )
