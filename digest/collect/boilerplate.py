"""Boilerplate that extractors leave in: site names in titles, captions, trailers, repeated bylines.

Every rule here removes only what it can recognise for sure, and never empties a field:

* a title's suffix (or prefix) joined by `|`, `–`, `—`, `-`, `·` or `::` is dropped when it is the
  site's name (og:site_name, the publisher, the host name with or without `www.` and its top-level
  domain) or a date;
* a paragraph that is a photo caption is short and ends with its credit as credits are written:
  after a full sentence or in brackets, a keyword and a few capitalised names (`… vote. Photo: AP`,
  `(Photograph: Reuters)`, `Image credit: NASA/JPL`), never a sentence that happens to hold
  "photo:" or "credit:";
* trailers at the very end of an article (at most three lines) are copyright lines of at most
  15 words (`© 2019 Science X Network`, `Copyright 2020 …`, `… All rights reserved.`) and
  citation lines (`Nature 574, 16-17 (2019)`, `doi:10.1038/…`);
* a summary that ends with "By <author>" repeats the meta line when the author is the item's;
* a summary that ends with its own "Read more" / "Read the full article" link text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

__all__ = [
    "clean_title",
    "is_caption",
    "split_caption",
    "drop_trailers",
    "drop_trailing_byline",
    "drop_read_more",
    "same_name",
    "site_keys",
    "title_parts",
]

# Separators between a title and the site's name: spaced dashes and dots, bars with or without spaces.
_TITLE_SPLIT = re.compile(r"\s+[-–—·•]\s+|\s*[|｜]\s*|\s+::\s+")
_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DATE = re.compile(
    rf"""^(?:
        \d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}                       # 19.01.2020, 1/19/2020
      | \d{{4}}[./-]\d{{1,2}}[./-]\d{{1,2}}                         # 2020-01-19
      | (?:\w+,?\s+)?\d{{1,2}}\.?\s+(?:{_MONTHS})\.?,?\s+\d{{4}}    # (Sunday,) 19 January 2020
      | (?:\w+,?\s+)?(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}  # January 19, 2020
      | (?:{_MONTHS})\.?\s+\d{{4}}                                # January 2020
    )(?:,?\s+\d{{1,2}}[:.]\d{{2}}(?:\s*[ap]\.?m\.?)?)?$""",
    re.IGNORECASE | re.VERBOSE,
)
_NOT_NAME = re.compile(r"[\W_]+", re.UNICODE)

# A caption's credit: a short run of names ("AP", "Getty Images", "AFP/Getty", "Jane Doe/Reuters",
# "AFP via Getty Images", "Courtesy of NASA"): every word capitalised, a digit, or a joining word.
_CREDIT_KEYWORD = r"(?:photo(?:graph)?s?|picture|pic|image|foto|illustration)(?:\s+credit)?|credit"
_CREDIT_TAIL = re.compile(
    rf"(?P<open>[(\[])?(?i:{_CREDIT_KEYWORD})\s*[:：]\s*(?P<credit>[^()\[\]:：]{{1,60}}?)\s*"
    r"(?(open)[)\]])\.?$"
)
_CREDIT_JOINERS = {"via", "for", "and", "&", "of", "de", "da", "van", "von", "der", "la", "le", "courtesy", "/"}
_CREDIT_WORD = re.compile(r"^(?:[A-Z0-9À-Þ][\w.'’&-]*|[A-Z]\.)(?:/[\w.'’&-]+)*$")
_CAPTION_WORDS = 60  # a caption is short; a paragraph that ends "… Photo: AP" after 60 words is an article's
_SENTENCE_END = re.compile(r"(?:[.!?…][\"”’)\]]*|[-–—|/•·])$")
_COPYRIGHT = re.compile(r"^(?:©|\(c\)|copyright\s*(?:©|\(c\)|\d{4}\b)|all rights reserved\b)", re.IGNORECASE)
_RESERVED = re.compile(r"\ball rights reserved\.?$", re.IGNORECASE)
MAX_TRAILERS = 3  # copyright and citation lines taken off an article's end, at most
_CITATION = re.compile(
    r"""^(?:
        # Nature 574, 16-17 (2019)
        [A-Z][\w.&'’ -]{1,60}\s\d{1,5},\s*[A-Za-z]?\d+(?:\s*[-–]\s*[A-Za-z]?\d+)?\s*\(\d{4}\)\.?
        # doi:10.1038/…
      | (?:doi\s*:\s*|https?://(?:dx\.)?doi\.org/)10\.\d{4,9}/\S+
    )$""",
    re.VERBOSE,
)


def _key(text: str) -> str:
    """A name for comparison: NFKC, case-folded, letters and digits only."""
    return _NOT_NAME.sub("", unicodedata.normalize("NFKC", text).casefold())


def same_name(a: str, b: str) -> bool:
    """True when two names differ only in case, spacing or punctuation ("DW.COM" vs "dw.com")."""
    return bool(_key(a)) and _key(a) == _key(b)


def site_keys(names: Iterable[str]) -> set[str]:
    """Comparison keys for a site: each name, and a host name with and without www. and its TLD."""
    keys: set[str] = set()
    for name in names:
        name = (name or "").strip()
        if not name:
            continue
        keys.add(_key(name))
        host = urlsplit(name).hostname if "://" in name else name.lower()
        if host and re.fullmatch(r"[\w-]+(\.[\w-]+)+", host):
            labels = host.removeprefix("www.").split(".")
            keys.add(_key(".".join(labels)))
            keys.add(_key(labels[0] if len(labels) <= 2 else ".".join(labels[:-1])))
            keys.add(_key(labels[-2] if len(labels) >= 2 else labels[0]))
    keys.discard("")
    return keys


def title_parts(text: str) -> list[str]:
    """The parts of a title or site name joined by `|`, `–`, `-`, `·` ("Aktuálně.cz - Víte, …")."""
    parts = [p.strip() for p in _TITLE_SPLIT.split(text or "")]
    return [p for p in parts if p] if len(parts) > 1 else []


def _is_boilerplate_part(part: str, keys: set[str]) -> bool:
    part = part.strip()
    return bool(_DATE.match(part)) or _key(part) in keys


def clean_title(title: str, site_names: Sequence[str]) -> str:
    """Drop site names and dates joined to a title by `|`, `–`, `-`, `·`; never the whole title."""
    keys = site_keys(site_names)
    parts = _TITLE_SPLIT.split(title)
    if len(parts) < 2:
        return title
    end = len(parts)
    while end > 1 and _is_boilerplate_part(parts[end - 1], keys):
        end -= 1
    start = 0
    while start < end - 1 and _key(parts[start]) in keys:
        start += 1
    if (start, end) == (0, len(parts)):
        return title
    # Cut the original text, so separators inside the kept part ("Covid-19 – a year on") stay.
    spans = [m.span() for m in _TITLE_SPLIT.finditer(title)]
    begin = spans[start - 1][1] if start else 0
    finish = spans[end - 1][0] if end < len(parts) else len(title)
    kept = title[begin:finish].strip()
    return kept or title


def _is_credit(text: str) -> bool:
    """True for a credit: one to six words, each a name (capitalised), a number, or a joining word."""
    words = text.replace("/", " / ").split()
    return 0 < len(words) <= 8 and sum(w != "/" for w in words) <= 6 and all(
        w.lower() in _CREDIT_JOINERS or _CREDIT_WORD.match(w) for w in words)


def split_caption(paragraph: str) -> tuple[str, str] | None:
    """A photo caption's text and credit ("… election. Photo: AP" → ("… election.", "AP")), else None.

    Only a credit as credits are written: its keyword (`Photo:`, `Photograph:`, `Image credit:`,
    `Credit:` …) opens the paragraph, follows a full sentence or a dash, or stands in brackets;
    the credit is a few capitalised names; and the paragraph is short. "He took a photo: Mike
    Smith smiled." and "… on credit: Moody's cut the outlook." are sentences, not captions.
    """
    text = paragraph.strip()
    if len(text.split()) > _CAPTION_WORDS:
        return None
    match = _CREDIT_TAIL.search(text)
    if match is None or not _is_credit(match.group("credit")):
        return None
    before = text[: match.start()].rstrip()
    if before and not match.group("open") and not _SENTENCE_END.search(before):
        return None
    return before.rstrip(" ,;–—-|/•·"), match.group("credit").strip()


def is_caption(paragraph: str) -> bool:
    """True for a photo caption: a short paragraph ending with its credit ("… Photo: AP")."""
    return split_caption(paragraph) is not None


def _is_trailer(paragraph: str) -> bool:
    """A copyright line ("© 2019 Science X Network", "Copyright 2020 …", "… All rights reserved.") of at most
    15 words, or a citation line ("Nature 574, 16-17 (2019)", "doi:10.1038/…")."""
    text = paragraph.strip()
    if _CITATION.match(text):
        return True
    if len(text.split()) > 15:
        return False
    return bool(_COPYRIGHT.match(text) or _RESERVED.search(text))


def drop_trailers(paragraphs: Sequence[str]) -> tuple[str, ...]:
    """Remove copyright and citation lines from the very end of an article (at most MAX_TRAILERS; at least
    one paragraph stays)."""
    kept = list(paragraphs)
    while len(kept) > 1 and len(paragraphs) - len(kept) < MAX_TRAILERS and _is_trailer(kept[-1]):
        kept.pop()
    return tuple(kept)


def drop_trailing_byline(text: str, author: str) -> str:
    """Remove a final "By <author>" when it names the item's own author (already on the meta line)."""
    if not author.strip():
        return text
    # "By" opens a sentence of its own: the text's start, or after a sentence's end.
    match = re.search(r"(?:^|(?<=[.!?…\"”’)\]]\s))[-–—]?\s*by\s+([^.!?]{1,120}?)\s*\.?\s*$", text, re.IGNORECASE)
    if match and same_name(match.group(1), author):
        return text[: match.start()].rstrip(" ,;:-–—") or text
    return text


_READ_MORE = re.compile(
    r"[\s(\[]*(?:read\s+more|continue\s+reading|read\s+the\s+(?:full|whole|rest\s+of\s+the)\s+"
    r"(?:article|story|post))(?:\s*(?:»|›|→|\.\.\.|…))?[)\]]*\s*$",
    re.IGNORECASE,
)


def drop_read_more(text: str) -> str:
    """Remove a feed summary's own link text at its end ("… evaluate… Read the full article")."""
    return _READ_MORE.sub("", text).rstrip() or text
