"""One story, one article: the same article arriving through two feeds, or a feed and its page, is merged.

Two articles are the same when their canonical URLs match (`url_key`: scheme,
`www.`, fragment, trailing slash and tracking parameters ignored; the port
kept), or else when their normalised titles match (`title_key`) and the title
says enough to name one story: at least DISTINCTIVE_WORDS words (each CJK
character counting as one). A short generic title ("Letters", "Weather",
"In brief") matches only within one source, and never two articles that each
have a URL of their own (a daily "Weather" is a new article every day). The
fuller copy is kept — an article page over a feed's summary, then the longer
body — and it takes the other's date when it has none, so the week window
still places it. Every merge is reported (`Merge`), so none happens unseen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from digest.core.model import Article
from digest.curate import DISTINCTIVE_WORDS, distinctive, title_key, url_key

__all__ = ["Merge", "merge_duplicates", "DISTINCTIVE_WORDS", "distinctive"]

_RICHNESS = {"page": 2, "html": 2, "feed": 0}


@dataclass(frozen=True, slots=True)
class Merge:
    """One article merged into another copy of the same story."""

    origin: str  # where the copy that was dropped came from
    kept: str  # where the copy that stays came from
    title: str  # the title of the copy that stays
    why: str  # "same URL" | "same title"

    def describe(self) -> str:
        """One line for the build's output."""
        return f"{self.origin}: {self.title!r} merged into the copy from {self.kept} ({self.why})"


def _fuller(a: Article, b: Article) -> tuple[Article, Article]:
    """The better of two copies of one story (with the other's date if it lacks one), and the other."""
    best, other = (a, b) if (_RICHNESS.get(a.kind, 1), a.word_count) >= (_RICHNESS.get(b.kind, 1), b.word_count) \
        else (b, a)
    if best.published is None and other.published is not None:
        best = dataclasses.replace(best, published=other.published)
    if not best.url and other.url:
        best = dataclasses.replace(best, url=other.url)
    return best, other


def _title_keys(article: Article) -> list[str]:
    """The keys a title is found by: the title alone when distinctive, else the title within its source."""
    key = title_key(article.title)
    if not key:
        return []
    keys = [key] if distinctive(key) else []
    if article.source.strip():
        keys.append(f"{title_key(article.source)}\x00{key}")
    return keys


def merge_duplicates(articles: Sequence[Article]) -> tuple[list[Article], list[Merge]]:
    """The articles with duplicates merged, in first-seen order; and each merge made."""
    kept: list[Article] = []
    by_url: dict[str, int] = {}
    by_title: dict[str, int] = {}
    merges: list[Merge] = []
    for article in articles:
        ukey = url_key(article.url)
        index = by_url.get(ukey) if ukey else None
        why = "same URL"
        if index is None:
            why = "same title"
            for key in _title_keys(article):
                found = by_title.get(key)
                other = kept[found] if found is not None else None
                if other is None:
                    continue
                if not distinctive(title_key(article.title)) and article.url and other.url:
                    continue  # two URLs of their own under a short title: two articles
                index = found
                break
        if index is None:
            index = len(kept)
            kept.append(article)
        else:
            kept[index], dropped = _fuller(kept[index], article)
            merges.append(Merge(dropped.origin, kept[index].origin, kept[index].title, why))
        for key in (url_key(kept[index].url), ukey):
            if key:
                by_url.setdefault(key, index)
        for key in (*_title_keys(kept[index]), *_title_keys(article)):
            by_title.setdefault(key, index)
    return kept, merges
