"""Articles from fetched bytes: a feed or an article page that came from a URL, not a file.

The same parsers as for files, fed bytes already in hand: nothing here fetches.
"""

from __future__ import annotations

import dataclasses
from email.message import Message

from digest.collect import formats
from digest.collect.textio import decode
from digest.core.errors import SourceError
from digest.core.model import Article
from digest.core.urls import same_site

__all__ = ["parse_fetched", "sniff_kind", "charset_of"]



def charset_of(content_type: str) -> str | None:
    """The charset parameter of a Content-Type header, if any."""
    if not content_type:
        return None
    message = Message()
    message["content-type"] = content_type
    charset = message.get_content_charset()
    return str(charset) if charset else None


def sniff_kind(text: str, content_type: str) -> str:
    """"feed" or "page": the body's start first, then the Content-Type (the registered formats decide)."""
    return formats.for_body(text, content_type).kind


def parse_fetched(data: bytes, *, url: str, content_type: str = "", kind: str = "auto",
                  warnings: list[str] | None = None) -> list[Article]:
    """Parse a fetched body as a feed (one article per entry) or an article page (one article).

    `url` is where the body came from (after redirects): it names the source in
    errors, resolves relative entry links, and becomes the article's link when
    the page declares no canonical URL, or one on another site (a page must not
    claim to be another site's article: dedupe would let it replace that one).
    """
    if not data.strip():
        raise SourceError("empty answer, no article in it", path=url)
    warn = warnings.append if warnings is not None else None
    charset = charset_of(content_type)
    try:
        decoded = decode(data, path=url, encoding=charset)
    except SourceError as exc:
        if not charset:
            raise
        decoded = decode(data, path=url)  # a wrong charset label is common; detect instead
        if warn is not None:
            warn(f"{url}: charset {charset!r} from the Content-Type did not work ({exc.message}); "
                 f"decoded as {decoded.encoding}")
    if decoded.guessed and warn is not None:
        warn(f"{url}: no charset given and not UTF-8, decoded as {decoded.encoding}")
    text = decoded.text
    try:
        fmt = formats.for_body(text, content_type) if kind == "auto" else formats.for_kind(kind, text, content_type)
    except SourceError as exc:
        raise SourceError(exc.message, path=url) from None
    articles = fmt.parse(text, path=url, warn=warn, base=url)
    if fmt.kind == "feed":
        return articles
    return [_own_site(article, url, warn) for article in articles]


def _own_site(article: Article, url: str, warn: formats.WarningSink | None) -> Article:
    """A page's article with its canonical URL, unless that is on another site: then the page's own URL.

    A page must not claim to be another site's article: dedupe would let it replace that one.
    """
    if article.url and not same_site(article.url, url):
        if warn is not None:
            warn(f"{url}: its canonical URL {article.url} is on another site; the page's own URL is used")
        article = dataclasses.replace(article, url="")
    return article if article.url else dataclasses.replace(article, url=url)
