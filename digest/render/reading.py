"""Where a reader reads on: the email's "Continue reading" link and the web version's full articles.

The email shows the lead's excerpt. An article with its own URL links there ("Read more").
One without (a page dump) links to the issue's web version instead, to the paragraph where the
excerpt stopped (`#continue`), when the excerpt is shorter than the article. Top News articles
without a URL that have more to read than their summary (Issue.articles) are carried in full by
the web version, each under its own anchor, and their Top News headlines link there.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from digest.collect.boilerplate import same_name
from digest.core.model import Article, Issue, TopNewsItem
from digest.curate import title_key

__all__ = ["format_date", "meta_line", "continue_at", "reading_context", "CONTINUE_ANCHOR"]

CONTINUE_ANCHOR = "continue"


def format_date(value: date | None) -> str:
    """A date as the reader sees it: "18 May 2023"."""
    return f"{value.day} {value:%B %Y}" if value else ""


def meta_line(article: Article) -> str:
    """Source · date · author; an author who is only the publisher is not said twice."""
    author = "" if same_name(article.author, article.source) else article.author
    return " · ".join(p for p in (article.source, format_date(article.published), author) if p)


def continue_at(issue: Issue) -> int | None:
    """Index of the lead's first paragraph the email does not show whole; None when it shows all."""
    paragraphs, shown = issue.lead.paragraphs, issue.excerpt
    if tuple(shown) == tuple(paragraphs):
        return None
    whole = len(shown) if tuple(shown) == tuple(paragraphs[: len(shown)]) else len(shown) - 1
    return max(whole, 0) if whole < len(paragraphs) else None


def _anchor(number: int) -> str:
    return f"article-{number}"


def _linked_top_news(issue: Issue, base: str) -> tuple[TopNewsItem, ...]:
    """Top News items whose full article is in the web version link to its anchor there."""
    anchors = {(a.origin, title_key(a.title)): _anchor(n) for n, a in enumerate(issue.articles, start=1)}
    linked = []
    for item in issue.top_news:
        anchor = None if item.url else anchors.get((item.origin, title_key(item.title)))
        linked.append(replace(item, url=f"{base}#{anchor}") if anchor else item)
    return tuple(linked)


def reading_context(issue: Issue, view_url: str, *, web: bool) -> dict[str, Any]:
    """The template values for reading on, in the email (web=False) or the web version (web=True)."""
    lead = issue.lead
    own_url = lead.url.startswith(("http://", "https://"))
    cut = None if own_url else continue_at(issue)
    full = []
    if web:
        full = [
            {"anchor": _anchor(n), "article": article, "meta_line": meta_line(article)}
            for n, article in enumerate(issue.articles, start=1)
        ]
    return {
        "web": web,
        # The web version shows a lead without its own URL in full; one with a URL keeps its excerpt.
        "excerpt": lead.paragraphs if web and not own_url else issue.excerpt,
        "continue_at": cut if cut is not None else -1,
        "continue_url": f"{view_url}#{CONTINUE_ANCHOR}" if cut is not None and not web else "",
        # In the web version the anchors are on the same page.
        "top_news": _linked_top_news(issue, "" if web else view_url),
        "full_articles": full,
    }
