"""Extract the article from a saved HTML page with trafilatura, leaving menus and banners out.

Every paragraph, list item and subheading of trafilatura's body tree is kept, at whatever depth
(digest.collect.articlebody); when what digest keeps is under LOSS_RATIO of the words of
trafilatura's own text output of the same tree, a warning names the file and both counts. The
title is the one the page declares (digest.collect.pagemeta), the byline only people's names
(digest.collect.bylines), the language the page's own declaration, never a guess.

What trafilatura leaves in is cleaned with digest.collect.boilerplate: the site's name and a date
after the title, photo captions among the paragraphs (a caption before any text becomes the
article's caption), copyright and citation trailers; calls to action and promos
(digest.collect.promos). An extract that is only a caption, or
shorter than MIN_BODY_WORDS, gives way to the page's own description (og:description, meta
description) when that is longer, with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from copy import deepcopy
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from digest.collect.articlebody import Block, Body, body_blocks, count_words, plain_words
from digest.collect.boilerplate import clean_title, drop_trailers, same_name, split_caption, title_parts
from digest.collect.bylines import clean_byline, split_authors
from digest.collect.formats import Format, register
from digest.collect.pagemeta import page_authors, page_lang, page_title
from digest.collect.promos import drop_promos, strip_initials
from digest.collect.textio import clean_line
from digest.core.errors import SourceError
from digest.core.model import Article, Image
from digest.core.urls import absolute_url

__all__ = ["parse_html", "looks_like_html", "loss_warning", "MIN_BODY_WORDS", "LOSS_RATIO"]

MIN_BODY_WORDS = 30  # fewer words than this is not an article but a teaser, a caption or a paywall
RETRY_WORDS = 250  # under this many words, trafilatura's balanced setting is tried as well
TITLE_WORDS = 12  # a page without a title is named by its first line's first words
# Keeping fewer words than this share of what trafilatura's own text output has is worth a warning.
LOSS_RATIO = 0.8

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


def _blocks(body: Body, title: str) -> list[Block]:
    """The article's blocks without a repeat of the title, promos and subheadings with nothing under them."""
    blocks = [b for b in body.blocks if not (b.kind == "head" and same_name(b.text, title))]
    promos = set(drop_promos([b.text for b in blocks]))
    if len(promos) < len(blocks):
        blocks = [b for n, b in enumerate(blocks) if n not in promos]
    while len(blocks) > 1 and blocks[-1].kind == "head":
        blocks.pop()  # "Related articles", "Comments": a subheading that ends the text heads nothing
    return blocks


def _body(
    blocks: list[Block], description: str, *, path: str, warn: Callable[[str], None] | None
) -> tuple[list[Block], str, str]:
    """The body without captions and trailers, the lead caption and its credit.

    A caption-only or very short body is replaced by the page's description when that says more.
    """
    caption, credit = "", ""
    body: list[Block] = []
    for block in blocks:
        split = split_caption(block.text) if block.kind != "head" else None
        if split is None:
            body.append(block)
        elif not any(b.kind != "head" for b in body) and not caption and split[0]:
            caption, credit = split  # the lead photo's caption, before any text
    kept = drop_trailers([b.text for b in body])
    body = body[: len(kept)]
    if body:
        body[-1] = Block(body[-1].kind, strip_initials(body[-1].text))
    words = sum(count_words(b.text) for b in body if b.kind != "head")
    if words < MIN_BODY_WORDS and count_words(description) > words:
        if warn is not None:
            what = "only a photo caption" if not body else f"only {words} words of article text"
            warn(f"{path}: {what} found in the page; using its description instead")
        body = [Block("p", description)]
    if not any(b.kind != "head" for b in body):
        raise SourceError("no article text found in this HTML page (only a photo caption)", path=path)
    return body, caption, credit


def _first_line_title(blocks: list[Block], *, path: str, warn: Callable[[str], None] | None) -> str:
    """A title for a page that declares none: its first subheading, or its first line's first words."""
    head = next((b.text for b in blocks if b.kind == "head"), "")
    words = (head or blocks[0].text).split()
    title = " ".join(words[:TITLE_WORDS]) + (" …" if len(words) > TITLE_WORDS else "")
    if warn is not None:
        warn(f"{path}: the page has no title; using its first {'subheading' if head else 'line'}: {title}")
    return title


def loss_warning(kept: int, read: int, found: int, *, path: str) -> str | None:
    """The warning when digest keeps under LOSS_RATIO of the words trafilatura's own text output has.

    `read` is what digest read from the tree before its rules dropped captions, trailers and
    promos (all short lines, dropped on purpose): those words are not counted as lost.
    """
    dropped = max(0, read - kept)
    expected = found - dropped
    if expected <= 0 or kept >= LOSS_RATIO * expected:
        return None
    aside = f", not counting {dropped:,} words of captions and boilerplate" if dropped else ""
    return (f"{path}: kept {kept:,} of {expected:,} words trafilatura finds ({100 * kept / expected:.0f} %){aside}: "
            "text may be lost")


def _bare(tree: Any, *, precision: bool) -> Any:
    import trafilatura

    return trafilatura.bare_extraction(
        tree,
        with_metadata=True,
        include_images=True,
        include_comments=False,
        include_tables=True,
        favor_precision=precision,
        date_extraction_params={"outputformat": "%Y-%m-%dT%H:%M:%S%z", "original_date": True},
    )


def _usable(doc: Any) -> bool:
    return doc is not None and not isinstance(doc, dict) and doc.body is not None


def _extract(text: str, *, path: str) -> tuple[Any, Any, int]:
    """The page's HTML tree, trafilatura's document (metadata and body tree) and the words of
    trafilatura's own text output of that body.

    trafilatura is asked for precision first (menus and teasers out). When that finds little
    (under RETRY_WORDS), its balanced setting is tried too and wins when it finds at least twice
    as much: on some pages precision throws the article away with the clutter.
    """
    from trafilatura.utils import load_html

    try:
        tree = load_html(text)
        if tree is None:
            raise SourceError("no article text found in this HTML page", path=path)
        doc = _bare(tree, precision=True)
        words = plain_words(deepcopy(doc.body)) if _usable(doc) else 0
        if words < RETRY_WORDS:
            balanced = _bare(tree, precision=False)
            more = plain_words(deepcopy(balanced.body)) if _usable(balanced) else 0
            if more >= 2 * max(words, 1):
                doc, words = balanced, more
    except SourceError:
        raise
    except Exception as exc:  # trafilatura raises many kinds on broken markup
        raise SourceError(f"cannot parse HTML: {type(exc).__name__}", path=path) from None
    if not _usable(doc):
        raise SourceError("no article text found in this HTML page", path=path)
    return tree, doc, words


def parse_html(text: str, *, path: str, warn: Callable[[str], None] | None = None, base: str = "") -> Article:
    """Extract title, author, date, paragraphs, lead image and canonical URL from a page.

    URLs are absolute http(s) ones: relative ones are resolved against `base` (the page's
    own URL, for a fetched page) and dropped without one, as are malformed ones.
    """
    tree, doc, found = _extract(text, path=path)
    try:
        body = body_blocks(doc.body)
    except RecursionError:  # libxml2 caps HTML depth well below this; a guard, not a path
        raise SourceError("HTML page is nested too deep to read", path=path) from None
    image: Image | None = None
    for graphic in body.graphics:
        src = absolute_url(graphic.get("src"), base)
        if src:
            image = Image(src, clean_line(graphic.get("alt") or graphic.get("title") or ""))
            break
    url = absolute_url(doc.url, base)
    sitename = clean_line(doc.sitename or "")
    # A title ends with the site's name ("Aktuálně.cz - Víte, co se právě děje"), or a blog's author.
    names = [sitename, *title_parts(sitename), doc.hostname or "", urlsplit(url).hostname or ""]
    title = clean_title(page_title(tree) or clean_line(doc.title or ""), [*names, *split_authors(doc.author or "")])
    blocks = _blocks(body, title)
    if not blocks:
        raise SourceError("no article text found in this HTML page", path=path)
    if not title:
        title = _first_line_title(blocks, path=path, warn=warn)
    kept, caption, credit = _body(blocks, clean_line(doc.description or ""), path=path, warn=warn)
    if warn is not None:
        message = loss_warning(sum(count_words(b.text) for b in kept) + count_words(caption),
                               sum(count_words(b.text) for b in body.blocks), found, path=path)
        if message:
            warn(message)
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
        author=clean_byline(page_authors(tree) or clean_line(doc.author or ""), site_names=names),
        caption=caption,
        caption_credit=credit,
        image=image,
        paragraphs=tuple(b.text for b in kept),
        subheadings=tuple(n for n, b in enumerate(kept) if b.kind == "head"),
        lang=page_lang(tree),
    )


def _parse(text: str, *, path: str, warn: Callable[[str], None] | None = None, base: str = "") -> list[Article]:
    return [parse_html(text, path=path, warn=warn, base=base)]


FORMAT = register(Format(
    name="html", kind="page", order=20, sniff=looks_like_html, parse=_parse, suffixes=(".html", ".htm"),
    content_types=("text/html", "application/xhtml+xml"), accept=("text/html", "application/xhtml+xml;q=0.9"),
    # A feed's URL may answer with a page (an article, or one that links to the feed): better than nothing.
    fallback_accept="text/html;q=0.8",
))
