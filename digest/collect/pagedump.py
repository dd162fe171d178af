"""Parse the news-page dump dialect (see pages/*.txt) into an Article.

One paragraph per line. Blank lines (any number of them) and spaces around a line separate
lines and never count; labels match in any case, with `:` or `：`. The grammar, every piece
optional but the title, in this order:

    page         = [breadcrumb] title-block [source-line] [caption] [byline] body [editor] [top-news]
    breadcrumb   = "Position:" crumb {(">" | "›" | "»") crumb}
    title-block  = title-line {title-line}
    source-line  = "Source:" field {"|" field}
    field        = name | date | "Author:" name       date: YYYY-MM-DD [hh:mm[:ss]] (or / .)
    caption      = sentence "(" "PHOTO:" credit ")"
    byline       = "By" name                         at most 8 words, no comma, no closing full stop
    body         = paragraph {paragraph}             every other line up to the editor or Top News
    editor       = "Editor:" name                    wherever it stands
    top-news     = "Top News" {item-title [item-summary]}

For example (the sample in pages/):

    Position: Channel > Section > Article
    China, Central Asian Countries Share
    High-quality Development                     a title wrapped onto two lines
    Source: Name | 2023-05-18 10:42:14 | Author: Name
    Caption sentence. (PHOTO: CREDIT)
    By Byline Name
    Body paragraph…
    Editor: Name
    Top News
    Item title
    Item summary…

Title block rule: the title is the first line after the breadcrumb. It is more than one
line only when a source line or a byline follows the block directly: then the block is up to
MAX_TITLE_LINES lines, none of them a label or a caption, none longer than 30 words or ending
in a full stop after more than 12 words (that is a paragraph), at most 300 characters in all.
The lines are joined with a space (none between CJK characters, none after a hyphen that
breaks a word). Without a source line or byline after it, a wrapped title cannot be told
from the first paragraph, so the first line alone is the title.

A second source line in the head is reported and dropped; a date that is no date
(`2026-13-45`) is reported and the page kept, undated.

Between the title and the first paragraph, source line, caption and byline are recognised by
their own shape, never by their position: any of them may be missing (or come in another
order) and nothing after it shifts. The first line of none of these shapes starts the body.
The author is the byline's name, else the source line's Author field.

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

from digest.collect.formats import Format, register
from digest.collect.promos import drop_promos, strip_initials
from digest.collect.textio import clean_line
from digest.core.errors import SourceError
from digest.core.model import Article, TopNewsItem

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
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")

MAX_TITLE_LINES = 4
MAX_TITLE_CHARS = 300

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


def _is_label(line: str) -> bool:
    return any(rx.match(line) for rx in (_POSITION, _SOURCE, _EDITOR, _TOP_NEWS, _CAPTION))


def _reads_as_sentence(line: str) -> bool:
    # "Talks resume with the U.S." may end a title line; a long line ending in a full stop is a paragraph.
    words = len(line.split())
    return words > 30 or (words > 12 and bool(_SENTENCE_END.search(line)))


def _title_lines(lines: list[tuple[int, str]], start: int) -> int:
    """How many lines from `start` make the title: a block directly before a source line, else 1."""
    for end in range(start + 1, min(start + MAX_TITLE_LINES, len(lines) - 1) + 1):
        if _SOURCE.match(lines[end][1]) or _is_byline(lines[end][1]):
            block = [line for _, line in lines[start:end]]
            fits = sum(len(line) + 1 for line in block) <= MAX_TITLE_CHARS
            if end - start > 1 and fits and not any(_is_label(b) or _reads_as_sentence(b) for b in block):
                return end - start
            return 1
        if _is_label(lines[end][1]):
            return 1
    return 1


def _join_title(parts: list[str]) -> str:
    """Join a wrapped title: a space between words, none between CJK characters or after a word's hyphen."""
    title = parts[0]
    for part in parts[1:]:
        if _CJK.match(title[-1]) and _CJK.match(part[0]):
            title += part
        elif title.endswith("-") and title[-2:-1].isalpha() and part[0].isalpha():
            title += part
        else:
            title += " " + part
    return title


def _parse_source_line(value: str, *, path: str, line: int,
                       warn: WarningSink | None) -> tuple[str, datetime | None, str]:
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
                if warn:
                    warn(f"{path}:{line}: invalid date {part!r}; the page is kept without a date")
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
    skip = 0  # lines of a title block already taken
    source_seen = False

    for index, (number, line) in enumerate(lines):
        if skip:
            skip -= 1
            continue
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
            if source_match and title and source_seen:
                if warn:
                    warn(f"{path}:{number}: a second Source line, dropped")
                continue
            if source_match:
                if not title:
                    raise SourceError("source line before any title", path=path, line=number)
                source, published, author_field = _parse_source_line(
                    source_match.group(1), path=path, line=number, warn=warn
                )
                source_seen = True
                continue
            if not title:
                count = _title_lines(lines, index)
                title, skip = _join_title([text for _, text in lines[index : index + count]]), count - 1
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
    promos = set(drop_promos(body))  # calls to action and print-edition trailers (digest.collect.promos)
    if len(promos) < len(body):
        body = [line for n, line in enumerate(body) if n not in promos]
    if body:
        body[-1] = strip_initials(body[-1])
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


def _parse(text: str, *, path: str, warn: WarningSink | None = None, base: str = "") -> list[Article]:
    # The last resort for files: said so when the text has none of the dialect's labels.
    if warn is not None and not looks_like_page(text):
        # Say what a page dump looks like: the label names alone meant nothing to a new user.
        warn(f"{path}: not a feed or HTML, and no 'Position: …' or 'Source: name | date' line as a page dump "
             "has; read as plain text anyway: first line the title, each other line a paragraph "
             "(the format: docs/sources.md, Page dumps)")
    return [parse_page(text, path=path, warn=warn)]


FORMAT = register(Format(name="pagedump", kind="page", order=90, sniff=looks_like_page, parse=_parse,
                         weak_suffixes=(".txt",), fallback=True))
