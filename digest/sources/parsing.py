"""A fetched body parsed once: its articles, warnings or error, and a feed's newest entry links.

Used while fetching (a full_text feed's entries name the pages to fetch) and
after (the articles of a source), so it sits below both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from digest.collect.fetched import parse_fetched
from digest.core.errors import SourceError
from digest.core.model import Article

__all__ = ["ParsedBody", "parse_body", "newest", "entry_links"]


@dataclass
class ParsedBody:
    """A source's body parsed once: its articles and warnings, or why it could not be read."""

    articles: list[Article] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: SourceError | None = None


def parse_body(body: bytes | None, *, url: str, content_type: str, kind: str) -> ParsedBody:
    """Parse a cached body (None: missing or damaged) into articles, warnings, or an error."""
    parsed = ParsedBody()
    if body is None:
        parsed.error = SourceError("the cached body is missing or damaged; fetch again")
        return parsed
    try:
        parsed.articles = parse_fetched(body, url=url, content_type=content_type, kind=kind,
                                        warnings=parsed.warnings)
    except SourceError as exc:
        parsed.error = exc
    return parsed


def newest(articles: list[Article], limit: int) -> list[Article]:
    """The `limit` most recent articles (undated ones last), in that order."""
    ranked = sorted(articles, key=lambda a: a.published or datetime.min, reverse=True)
    return ranked[:limit]


def entry_links(parsed: ParsedBody, *, max_items: int) -> list[str]:
    """The article links of a feed's newest entries ([] when the body is not a feed)."""
    if parsed.error is not None or any(a.kind != "feed" for a in parsed.articles):
        return []
    return list(dict.fromkeys(a.url for a in newest(parsed.articles, max_items) if a.url))
