"""Parse the news-page dump dialect (see pages/*.txt) into an Article.

The dialect, one paragraph per line, blank lines between them; every part
but the title is optional and labels match in any case:

    Position: Channel > Section > Article      breadcrumb (`>` or `›`)
    Title
    Source: Name | 2023-05-18 10:42:14 | Author: Name
    Caption sentence. (PHOTO: CREDIT)            photo caption with its credit
    By Byline Name                               short, no closing full stop
    Body paragraph…                              until `Editor:` or `Top News`
    Editor: Name
    Top News
    Item title
    Item summary…

Top News pairing rule: a line is a *summary* when it reads as a sentence,
that is it ends in a full stop (`.` `。` `．` `…`, a closing quote or bracket
may follow) or runs longer than 40 words; any other line is a *title*. A
title followed by a summary makes one item; a title followed by another
title (or by the end) is an item without a summary, so a missing summary
never shifts the pairs. A summary with no title before it is reported and
dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from digest.collect.textio import clean_line
from digest.errors import SourceError
from digest.model import Article, TopNewsItem

__all__ = ["parse_page", "looks_like_page"]

_LABEL = r"\s*[:：]\s*"
_POSITION = re.compile(rf"^position{_LABEL}(.*)$", re.IGNORECASE)
_SOURCE = re.compile(rf"^source{_LABEL}(.*)$", re.IGNORECASE)
_AUTHOR_FIELD = re.compile(rf"^author{_LABEL}(.*)$", re.IGNORECASE)
_EDITOR = re.compile(rf"^editor{_LABEL}(.*)$", re.IGNORECASE)
_TOP_NEWS = re.compile(r"^top\s*news\s*[:：]?$", re.IGNORECASE)
_CAPTION = re.compile(r"^(.*?)\s*[(（]\s*photo\s*[:：]\s*([^)）]*?)\s*[)）]\s*$", re.IGNORECASE)
_BYLINE = re.compile(r"^by\s+(\S.*)$", re.IGNORECASE)
_DATETIME = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_SENTENCE_END = re.compile(r"[.。．…]['\"”’)\]）»]*$")
_CRUMB_SPLIT = re.compile(r"\s*[>›»]\s*")

WarningSink = Callable[[str], None]


def looks_like_page(text: str) -> bool:
    """True when the text carries a label of the page dialect in its first lines."""
    head = [clean_line(line) for line in text.splitlines()[:12]]
    return any(_POSITION.match(h) or _SOURCE.match(h) for h in head if h)


def _is_summary(line: str) -> bool:
    return bool(_SENTENCE_END.search(line)) or len(line.split()) > 40


def _is_byline(line: str) -> str | None:
    match = _BYLINE.match(line)
    if not match:
        return None
    name = match.group(1).strip()
    # "By the end of May, …" is a sentence, not a byline.
    if len(name.split()) > 8 or _SENTENCE_END.search(name) or "," in name:
        return None
    return name


def _parse_source_line(value: str, *, path: str, line: int) -> tuple[str, datetime | None, str]:
    source, published, author = "", None, ""
    for part in (p.strip() for p in value.split("|")):
        if not part:
            continue
        author_match = _AUTHOR_FIELD.match(part)
        if author_match:
            author = author_match.group(1).strip()
            continue
        date_match = _DATETIME.fullmatch(part)
        if date_match:
            y, mo, d, h, mi, s = (int(g) if g else 0 for g in date_match.groups())
            try:
                published = datetime(y, mo, d, h, mi, s)
            except ValueError:
                raise SourceError(f"invalid date {part!r}", path=path, line=line) from None
            continue
        if not source:
            source = part
    return source, published, author


def parse_page(text: str, *, path: str, warn: WarningSink | None = None) -> Article:
    """Parse one page dump; raise SourceError naming file and line when it is not one."""
    lines = [(n, clean_line(raw)) for n, raw in enumerate(text.splitlines(), start=1)]
    lines = [(n, line) for n, line in lines if line]
    if not lines:
        raise SourceError("empty file, no article in it", path=path)

    breadcrumb: tuple[str, ...] = ()
    title = ""
    source, published, author_field = "", None, ""
    caption, caption_credit, byline, editor = "", "", "", ""
    body: list[str] = []
    top_news: list[TopNewsItem] = []
    pending_title: str | None = None
    section = "head"  # head → body → top

    for number, line in lines:
        editor_match = _EDITOR.match(line)
        if editor_match:
            editor = editor_match.group(1).strip()
            continue
        if section != "top" and _TOP_NEWS.match(line):
            section = "top"
            continue
        if section == "top":
            if _is_summary(line):
                if pending_title is None:
                    if warn:
                        warn(f"{path}:{number}: Top News summary without a title, dropped")
                    continue
                top_news.append(TopNewsItem(pending_title, line, origin=path))
                pending_title = None
            else:
                if pending_title is not None:
                    top_news.append(TopNewsItem(pending_title, origin=path))
                pending_title = line
            continue
        if section == "head":
            position = _POSITION.match(line)
            if position and not breadcrumb and not title:
                breadcrumb = tuple(c for c in _CRUMB_SPLIT.split(position.group(1)) if c)
                continue
            source_match = _SOURCE.match(line)
            if source_match and not source and not published:
                source, published, author_field = _parse_source_line(
                    source_match.group(1), path=path, line=number
                )
                if not title:
                    raise SourceError("source line before any title", path=path, line=number)
                continue
            if not title:
                title = line
                continue
            caption_match = _CAPTION.match(line)
            if caption_match and not caption:
                caption, caption_credit = caption_match.group(1).strip(), caption_match.group(2)
                continue
            name = _is_byline(line)
            if name and not byline:
                byline = name
                continue
            section = "body"
        body.append(line)

    if pending_title is not None:
        top_news.append(TopNewsItem(pending_title, origin=path))
    if not title:
        raise SourceError("no title found", path=path)
    if len(title) > 300:
        raise SourceError("first line is too long to be a title; not a page dump", path=path)
    return Article(
        origin=path,
        kind="page",
        title=title,
        source=source,
        published=published,
        author=byline or author_field,
        editor=editor,
        breadcrumb=breadcrumb,
        caption=caption,
        caption_credit=caption_credit,
        paragraphs=tuple(body),
        top_news=tuple(top_news),
    )
