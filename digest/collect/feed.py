"""Read RSS 2.0 and Atom feeds with feedparser: one Article per entry, summaries as clean text."""

from __future__ import annotations

import html
import io
import re
from datetime import datetime

from digest.collect.textio import clean_line
from digest.errors import SourceError
from digest.model import Article

__all__ = ["parse_feed", "looks_like_feed", "html_to_text"]

_FEED_START = re.compile(
    r"^\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<(rss|feed|rdf:RDF)\b", re.I | re.S
)


def looks_like_feed(text: str) -> bool:
    """True when the text starts like an RSS or Atom document."""
    return bool(_FEED_START.match(text[:4096]))


def html_to_text(fragment: str) -> str:
    """Strip every tag with nh3 (a real sanitiser), decode entities, fold spaces."""
    import nh3

    # Block ends become spaces so words of adjacent paragraphs do not glue together.
    spaced = re.sub(r"(?i)<\s*(br|/p|/div|/li|/h\d)\b[^>]*>", " ", fragment)
    stripped = nh3.clean(spaced, tags=set(), clean_content_tags={"script", "style"})
    return clean_line(html.unescape(stripped))


def _safe_link(value: str | None) -> str:
    value = (value or "").strip()
    return value if value.startswith(("http://", "https://")) else ""


def parse_feed(text: str, *, path: str) -> list[Article]:
    """Parse a feed into articles; a feed that is not well-formed XML is an error."""
    import feedparser

    # Never hand feedparser a str: it fetches a str that looks like a URL (http, ftp, file)
    # and opens a str that names an existing file. A file object is only ever read.
    parsed = feedparser.parse(io.BytesIO(text.encode("utf-8")))
    if parsed.bozo and not parsed.entries:
        reason = getattr(parsed.bozo_exception, "getMessage", lambda: str(parsed.bozo_exception))()
        raise SourceError(f"not a valid feed: {clean_line(str(reason))}", path=path)
    if parsed.bozo:
        exc = parsed.bozo_exception
        # A truncated document still yields the entries before the break: refuse it,
        # half an issue is worse than a clear error.
        if not isinstance(exc, feedparser.CharacterEncodingOverride):
            raise SourceError(f"not a valid feed: {clean_line(str(exc))}", path=path)
    source = clean_line(html_to_text(parsed.feed.get("title", "")))
    articles = []
    for entry in parsed.entries:
        title = html_to_text(entry.get("title", ""))
        if not title:
            continue
        published = None
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        if stamp:
            published = datetime(*stamp[:6])
        summary = html_to_text(entry.get("summary", "") or "")
        if not summary and entry.get("content"):
            summary = html_to_text(entry.content[0].get("value", ""))
        articles.append(
            Article(
                origin=path,
                kind="feed",
                title=title,
                url=_safe_link(entry.get("link")),
                source=source,
                published=published,
                author=clean_line(entry.get("author", "") or ""),
                paragraphs=(summary,) if summary else (),
            )
        )
    if not articles:
        raise SourceError("feed has no entries with a title", path=path)
    return articles
