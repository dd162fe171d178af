"""Read RSS 2.0 and Atom feeds with feedparser: one Article per entry, summaries as clean text.

Real feeds are often not quite well-formed XML (a bare `&`, an unclosed `<br>`, text before the
XML declaration). feedparser then falls back to its lenient parser; whatever entries it recovers
are kept, with a warning naming the file, the line and the reason. A feed is refused only when
nothing usable comes out of it, or when the document stops before its closing root tag (a cut-off
download: half an issue is worse than a clear error).
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from datetime import datetime

from digest.collect.boilerplate import drop_read_more, drop_trailing_byline
from digest.collect.feedlimit import MAX_FEED_ENTRIES, first_entries
from digest.collect.formats import Format, register
from digest.collect.pagemeta import normal_lang
from digest.collect.promos import strip_image_junk
from digest.collect.textio import clean_line
from digest.core.errors import SourceError
from digest.core.model import Article
from digest.core.urls import absolute_url

__all__ = ["parse_feed", "looks_like_feed", "html_to_text"]

# What may come before a feed's root element: the XML declaration, processing instructions
# (`<?xml-stylesheet …?>`), comments and a DOCTYPE (with an internal subset); the root may
# carry a namespace prefix (`<a:feed xmlns:a="http://www.w3.org/2005/Atom">`).
_FEED_START = re.compile(
    r"""^\s*(?:<\?[^>]*\?>\s*|<!--.*?-->\s*|<!DOCTYPE\s[^[>]*(?:\[.*?\]\s*)?>\s*)*
        <(?:[\w.-]+:)?(?:rss|feed|RDF)\b""", re.I | re.S | re.X
)
_ROOT = re.compile(r"<((?:[\w.-]+:)?(?:rss|feed|RDF))[\s>/]", re.I)
_TRAILING_COMMENTS = re.compile(r"(?:\s*<!--.*?-->)*\s*$", re.S)

WarningSink = Callable[[str], None]


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


def _published(entry: dict) -> datetime | None:
    """The entry's date, or None when it has none or an impossible one (year 0, after 9999)."""
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if not stamp:
        return None
    try:
        return datetime(*stamp[:6])
    except (TypeError, ValueError, OverflowError):
        return None


def _entry_lang(entry: dict) -> str:
    """The entry's own xml:lang (on its summary, content or title), as the feed declares it."""
    for detail in (entry.get("summary_detail"), *(entry.get("content") or ()), entry.get("title_detail")):
        lang = normal_lang((detail or {}).get("language"))
        if lang:
            return lang
    return ""


def _reason(exc: BaseException, text: str, skipped_lines: int) -> tuple[str, int | None]:
    """feedparser's complaint in words, and its line in the file.

    feedparser puts its own XML declaration in front of a document that does not start with one,
    so the parser's line numbers are one too high for such a document; `skipped_lines` blank
    lines were taken off the file's start.
    """
    message = getattr(exc, "getMessage", lambda: str(exc))()
    line = getattr(exc, "getLineNumber", lambda: None)()
    if not isinstance(line, int) or line <= 0:
        return clean_line(str(message)), None
    if not text.startswith("<?xml"):
        line -= 1
    return clean_line(str(message)), max(line, 1) + skipped_lines


def _cut_off(text: str) -> str | None:
    """The root element's name when the document ends before its closing tag, else None."""
    root = _ROOT.search(text[:8192])
    if root is None:
        return None
    name = root.group(1)
    tail = _TRAILING_COMMENTS.sub("", text)
    if re.search(rf"</\s*{re.escape(name)}\s*>$", tail, re.I):
        return None
    return name


def parse_feed(text: str, *, path: str, warn: WarningSink | None = None, base: str = "") -> list[Article]:
    """Parse a feed into articles, keeping what feedparser recovers from a feed that is not well-formed.

    Entry links are absolute http(s) URLs: relative ones are resolved against
    `base` (the feed's own URL, for a fetched feed) and dropped without one.
    Only the first MAX_FEED_ENTRIES entries are read (see `digest.collect.feedlimit`).
    """
    import feedparser

    # Blank lines before the XML declaration are harmless, but make the document not well-formed.
    stripped = text.lstrip()
    skipped_lines, text = text[: len(text) - len(stripped)].count("\n"), stripped
    data = text.encode("utf-8")
    cut = first_entries(data, MAX_FEED_ENTRIES)
    if cut is not None and warn is not None:
        warn(f"{path}: more than {MAX_FEED_ENTRIES} entries; only the first {MAX_FEED_ENTRIES} are read")
    # Never hand feedparser a str: it fetches a str that looks like a URL (http, ftp, file)
    # and opens a str that names an existing file. A file object is only ever read.
    parsed = feedparser.parse(io.BytesIO(cut if cut is not None else data))
    exc = parsed.get("bozo_exception") if parsed.bozo else None
    if isinstance(exc, feedparser.CharacterEncodingOverride):
        exc = None  # we hand it UTF-8 whatever the declaration says: nothing is wrong
    if exc is not None:
        reason, line = _reason(exc, text, skipped_lines)
        if not parsed.entries:
            raise SourceError(f"not a valid feed: {reason}", path=path, line=line)
        root = _cut_off(text)
        if root is not None:
            raise SourceError(f"feed is cut off: no closing </{root}> ({reason})", path=path, line=line)
    source = clean_line(html_to_text(parsed.feed.get("title", "")))
    feed_lang = normal_lang(parsed.feed.get("language"))  # RSS <language>, or the root's xml:lang
    articles = []
    for entry in parsed.entries:
        title = html_to_text(entry.get("title", ""))
        if not title:
            continue
        published = _published(entry)
        summary = html_to_text(entry.get("summary", "") or "")
        if not summary and entry.get("content"):
            summary = html_to_text(entry.content[0].get("value", ""))
        author = clean_line(entry.get("author", "") or "")
        summary = strip_image_junk(drop_trailing_byline(drop_read_more(summary), author))
        articles.append(
            Article(
                origin=path,
                kind="feed",
                title=title,
                url=absolute_url(entry.get("link"), base),
                source=source,
                published=published,
                author=author,
                paragraphs=(summary,) if summary else (),
                lang=_entry_lang(entry) or feed_lang,
            )
        )
    if not articles:
        raise SourceError("feed has no entries with a title", path=path)
    if exc is not None and warn is not None:
        reason, line = _reason(exc, text, skipped_lines)
        where = f"{path}:{line}" if line else path
        warn(f"{where}: malformed feed ({reason}); kept the {len(articles)} entries feedparser recovered")
    return articles


def _parse(text: str, *, path: str, warn: WarningSink | None = None, base: str = "") -> list[Article]:
    return parse_feed(text, path=path, warn=warn, base=base)


FORMAT = register(Format(
    name="feed", kind="feed", order=10, sniff=looks_like_feed, parse=_parse,
    suffixes=(".rss", ".atom", ".feed"), weak_suffixes=(".xml",),
    content_types=("application/rss+xml", "application/atom+xml", "application/rdf+xml",
                   "application/xml", "text/xml"),
    accept=("application/rss+xml", "application/atom+xml", "application/rdf+xml;q=0.9", "application/xml;q=0.9",
            "text/xml;q=0.9"),
))
