"""Extract the article from a saved HTML page with trafilatura, leaving menus and banners out.

What trafilatura leaves in is cleaned with digest.collect.boilerplate: the site's name and a date
after the title, photo captions among the paragraphs (a caption before any text becomes the
article's caption), copyright and citation trailers. An extract that is only a caption, or
shorter than MIN_BODY_WORDS, gives way to the page's own description (og:description, meta
description) when that is longer, with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from digest.collect.boilerplate import clean_title, drop_trailers, split_caption
from digest.collect.formats import Format, register
from digest.collect.textio import clean_line
from digest.core.errors import SourceError
from digest.core.model import Article, Image
from digest.core.urls import absolute_url

__all__ = ["parse_html", "looks_like_html", "MIN_BODY_WORDS"]

MIN_BODY_WORDS = 30  # fewer words than this is not an article but a teaser, a caption or a paywall

_HTML_START = re.compile(r"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)


def looks_like_html(text: str) -> bool:
    """True when the text starts like an HTML document."""
    return bool(_HTML_START.match(text[:4096]))


def parse_datetime(value: str | None) -> datetime | None:
    """Parse an ISO-like date or datetime; aware values become naive UTC."""
    if not value:
        return None
    value = value.strip()
    # Python 3.11 fromisoformat does not take "+0000" without a colon.
    value = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", value).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _body(
    paragraphs: list[str], description: str, *, path: str, warn: Callable[[str], None] | None
) -> tuple[tuple[str, ...], str, str]:
    """The body without captions and trailers, the lead caption and its credit.

    A caption-only or very short body is replaced by the page's description when that says more.
    """
    caption, credit = "", ""
    body: list[str] = []
    for paragraph in paragraphs:
        split = split_caption(paragraph)
        if split is None:
            body.append(paragraph)
        elif not body and not caption and split[0]:
            caption, credit = split  # the lead photo's caption, before any text
    body = list(drop_trailers(body))
    words = sum(len(p.split()) for p in body)
    if words < MIN_BODY_WORDS and len(description.split()) > words:
        if warn is not None:
            what = "only a photo caption" if not body else f"only {words} words of article text"
            warn(f"{path}: {what} found in the page; using its description instead")
        body = [description]
    if not body:
        raise SourceError("no article text found in this HTML page (only a photo caption)", path=path)
    return tuple(body), caption, credit


def parse_html(text: str, *, path: str, warn: Callable[[str], None] | None = None, base: str = "") -> Article:
    """Extract title, author, date, paragraphs, lead image and canonical URL from a page.

    URLs are absolute http(s) ones: relative ones are resolved against `base` (the page's
    own URL, for a fetched page) and dropped without one, as are malformed ones.
    """
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(
            text,
            with_metadata=True,
            include_images=True,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            date_extraction_params={"outputformat": "%Y-%m-%dT%H:%M:%S%z", "original_date": True},
        )
    except Exception as exc:  # trafilatura raises many kinds on broken markup
        raise SourceError(f"cannot parse HTML: {type(exc).__name__}", path=path) from None
    if doc is None or isinstance(doc, dict) or doc.body is None:
        raise SourceError("no article text found in this HTML page", path=path)

    paragraphs: list[str] = []
    image: Image | None = None
    for element in doc.body.iter("p", "graphic", "item", "quote"):
        if element.tag == "graphic":
            src = absolute_url(element.get("src"), base)
            if image is None and src:
                image = Image(src, clean_line(element.get("alt") or element.get("title") or ""))
            continue
        line = clean_line("".join(element.itertext()))
        if line and (element.tag != "p" or element.getparent() is doc.body):
            paragraphs.append(line)
    url = absolute_url(doc.url, base)
    sitename = clean_line(doc.sitename or "")
    title = clean_title(clean_line(doc.title or ""), [sitename, doc.hostname or "", urlsplit(url).hostname or ""])
    if not title:
        raise SourceError("HTML page has no title", path=path)
    if not paragraphs:
        raise SourceError("no article text found in this HTML page", path=path)
    body, caption, credit = _body(paragraphs, clean_line(doc.description or ""), path=path, warn=warn)
    if image is None and absolute_url(doc.image, base):
        image = Image(absolute_url(doc.image, base), caption or title)
    elif image is not None and not image.alt:
        image = Image(image.url, caption or title)
    return Article(
        origin=path,
        kind="html",
        title=title,
        url=url,
        source=sitename,
        published=parse_datetime(doc.date),
        author=clean_line(doc.author or ""),
        caption=caption,
        caption_credit=credit,
        image=image,
        paragraphs=body,
    )


def _parse(text: str, *, path: str, warn: Callable[[str], None] | None = None, base: str = "") -> list[Article]:
    return [parse_html(text, path=path, warn=warn, base=base)]


FORMAT = register(Format(
    name="html", kind="page", order=20, sniff=looks_like_html, parse=_parse, suffixes=(".html", ".htm"),
    content_types=("text/html", "application/xhtml+xml"), accept=("text/html", "application/xhtml+xml;q=0.9"),
    # A feed's URL may answer with a page (an article, or one that links to the feed): better than nothing.
    fallback_accept="text/html;q=0.8",
))
