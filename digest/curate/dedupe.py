"""One story, one article: the same article arriving through two feeds, or a feed and its page, is merged.

Two articles are the same when their canonical URLs match (`url_key`: scheme,
`www.`, fragment, trailing slash and tracking parameters ignored), or else
when their normalised titles match (`title_key`). The fuller one is kept — an
article page over a feed's summary, then the longer body — and it takes the
other's date when it has none, so the week window still places it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from digest.curate import title_key, url_key
from digest.model import Article

__all__ = ["merge_duplicates"]

_RICHNESS = {"page": 2, "html": 2, "feed": 0}


def _fuller(a: Article, b: Article) -> Article:
    """The better of two copies of one story, with the other's date if it lacks one."""
    best, other = (a, b) if (_RICHNESS.get(a.kind, 1), a.word_count) >= (_RICHNESS.get(b.kind, 1), b.word_count) \
        else (b, a)
    if best.published is None and other.published is not None:
        best = dataclasses.replace(best, published=other.published)
    if not best.url and other.url:
        best = dataclasses.replace(best, url=other.url)
    return best


def merge_duplicates(articles: Sequence[Article]) -> tuple[list[Article], list[str]]:
    """The articles with duplicates merged, in first-seen order; and the origins merged away."""
    kept: list[Article] = []
    by_url: dict[str, int] = {}
    by_title: dict[str, int] = {}
    merged: list[str] = []
    for article in articles:
        ukey, tkey = url_key(article.url), title_key(article.title)
        index = by_url.get(ukey) if ukey else None
        if index is None:
            index = by_title.get(tkey) if tkey else None
        if index is None:
            index = len(kept)
            kept.append(article)
        else:
            before = kept[index]
            kept[index] = _fuller(before, article)
            merged.append(article.origin if kept[index] is before else before.origin)
        for key, table in ((url_key(kept[index].url), by_url), (ukey, by_url),
                           (title_key(kept[index].title), by_title), (tkey, by_title)):
            if key:
                table.setdefault(key, index)
    return kept, merged
