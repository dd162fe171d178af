"""Extract the article from a saved HTML page with trafilatura, leaving menus and banners out."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from digest.collect.textio import clean_line
from digest.errors import SourceError
from digest.model import Article, Image

__all__ = ["parse_html", "looks_like_html"]

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


def parse_html(text: str, *, path: str) -> Article:
    """Extract title, author, date, paragraphs, lead image and canonical URL from a page."""
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
            src = (element.get("src") or "").strip()
            if image is None and src.startswith(("http://", "https://")):
                image = Image(src, clean_line(element.get("alt") or element.get("title") or ""))
            continue
        line = clean_line("".join(element.itertext()))
        if line and (element.tag != "p" or element.getparent() is doc.body):
            paragraphs.append(line)
    title = clean_line(doc.title or "")
    if not title:
        raise SourceError("HTML page has no title", path=path)
    if not paragraphs:
        raise SourceError("no article text found in this HTML page", path=path)
    if image is None and doc.image and doc.image.startswith(("http://", "https://")):
        image = Image(doc.image, title)
    url = doc.url or ""
    return Article(
        origin=path,
        kind="html",
        title=title,
        url=url if url.startswith(("http://", "https://")) else "",
        source=clean_line(doc.sitename or ""),
        published=parse_datetime(doc.date),
        author=clean_line(doc.author or ""),
        image=image,
        paragraphs=tuple(paragraphs),
    )
