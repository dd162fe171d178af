"""The weekly cycle: which articles are new for the next issue, and what earlier issues already sent.

An editor's `pages/` keeps last week's files and a feed keeps last week's
entries; a weekly issue must carry only what is new. Two rules decide:

* **The window.** The next issue's window starts where the last issue *sent to
  readers* ended: its cut-off, recorded in the store when its plan was made. A
  feed entry is new when it was published after the cut-off (as RSS-driven
  campaigns send only items published since the last one, so a feed added later
  does not flood the issue with its back catalogue). A file is new when digest
  first saw it after the cut-off, whatever date its article carries (an editor
  may add last month's page on purpose); an undated item likewise by its first
  sighting. `--since`/`--until`/`--week` choose by hand instead.
* **Nothing twice.** A story an earlier issue sent (to any list; proofs do not
  count) is left out of the lead and the Top News, matched by canonical URL or by
  the normalised-title rule of the cross-page dedupe, unless the editor names it in
  a plan on purpose (a plan is shown as written).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from digest.app.context import Context
from digest.app.planning import sending_began
from digest.core.model import Article, Issue
from digest.core.urls import is_url
from digest.curate import AlreadySent, SentStory, summary_key, title_key, url_key
from digest.store.carried import CarriedItem

__all__ = ["Window", "window_for", "fresh_articles", "already_sent", "record_carried", "stamp_cutoff"]


@dataclass(frozen=True, slots=True)
class Window:
    """Where the next issue's window starts: the cut-off of the last issue sent to readers."""

    after_issue: int
    cutoff: float  # unix time

    def describe(self, zone: object | None = None) -> str:
        """'issue 3 (made 2026-12-04 09:00)' in the newsletter's time zone."""
        when = datetime.fromtimestamp(self.cutoff, tz=zone if zone is not None else UTC)  # type: ignore[arg-type]
        return f"issue {self.after_issue} (made {when:%Y-%m-%d %H:%M})"


@dataclass
class Fresh:
    """The articles of the window, and how many were left out as seen before it."""

    articles: list[Article]
    older: list[str] = field(default_factory=list)  # titles first seen before the window
    dated_before: list[str] = field(default_factory=list)  # feed entries first seen now, dated before it


def _sent_numbers(ctx: Context, *, before: int | None = None) -> list[int]:
    """Issues whose sending to readers began (proofs do not count), oldest first."""
    if not ctx.has_store():
        return []
    numbers = set(ctx.store.issues_carrying()) | set(ctx.store.cutoffs())
    return [n for n in sorted(numbers) if (before is None or n < before) and sending_began(ctx, n)]


def window_for(ctx: Context) -> Window | None:
    """The window of the next issue, or None before any issue went to readers (everything is new)."""
    cutoffs = ctx.store.cutoffs() if ctx.has_store() else {}
    for number in reversed(_sent_numbers(ctx)):
        if number in cutoffs:
            return Window(number, cutoffs[number])
    return None


def _file_key(origin: str, root: Path) -> str | None:
    """A file source's key: its content (a page replaced in place is a new page; a copy under another name is not)."""
    if not origin or is_url(origin):
        return None
    path = Path(origin) if Path(origin).is_absolute() else root / origin
    try:
        with path.open("rb") as handle:
            return "file:" + hashlib.file_digest(handle, "sha256").hexdigest()[:32]
    except OSError:
        return None


def _item_key(article: Article) -> str:
    return "item:" + (url_key(article.url) or title_key(article.title))


def _sighting_key(article: Article, root: Path) -> str:
    """What first sighting an article goes by: a feed entry or web page its own, a file's article its file's."""
    if article.kind == "feed" or is_url(article.origin):
        return _item_key(article)
    return _file_key(article.origin, root) or _item_key(article)


def _dated(article: Article) -> bool:
    """True when the article's own date decides (a dated feed entry or web page), not its first sighting."""
    return article.published is not None and (article.kind == "feed" or is_url(article.origin))


def _utc(moment: datetime) -> float:
    """A naive datetime read as UTC (feedparser gives UTC), an aware one as it is."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def fresh_articles(ctx: Context, articles: Sequence[Article], window: Window | None, *,
                   now: float | None = None) -> Fresh:
    """The articles new in the window (all of them without one); records first sightings either way."""
    root = ctx.root
    keys = {id(a): _sighting_key(a, root) for a in articles}
    seen = ctx.store.mark_seen((k for k in keys.values() if k), now=time.time() if now is None else now)
    if window is None:
        return Fresh(list(articles))
    fresh = Fresh([])
    for article in articles:
        first_seen_after = seen.get(keys[id(article)], window.cutoff) > window.cutoff
        if not first_seen_after:
            # In an earlier window already (a future-dated entry too, or one an editor deleted from a plan).
            fresh.older.append(article.title)
        elif _dated(article) and int(_utc(article.published)) < int(window.cutoff):  # type: ignore[arg-type]
            # Published before the cut-off: a feed added later must not flood the issue with its back
            # catalogue. (Feed dates have whole seconds: an entry of the cut-off's own second is new.)
            fresh.dated_before.append(article.title)
        else:
            fresh.articles.append(article)
    return fresh


def already_sent(ctx: Context, *, before: int | None = None) -> AlreadySent:
    """What issues sent to readers carried (before issue `before`, when given)."""
    sent = AlreadySent()
    numbers = _sent_numbers(ctx, before=before)
    for item in ctx.store.carried_items(numbers) if numbers else []:
        sent.add(SentStory(item.issue, item.url_key, item.title_key, item.summary_key, item.origin))
    return sent


def carried_items(issue: Issue, *, also: Iterable[tuple[str, str]] = ()) -> list[CarriedItem]:
    """The stories an issue carries, as the store keeps them; `also`: (title, summary) of original titles."""
    lead = issue.lead
    stories = [(lead.title, lead.url, lead.origin, lead.paragraphs[0] if lead.paragraphs else "")]
    stories += [(item.title, item.url, item.origin, item.summary) for item in issue.top_news]
    stories += [(title, "", "", summary) for title, summary in also]
    return [CarriedItem(issue.number, position, url_key(url), title_key(title), origin, title, summary_key(summary))
            for position, (title, url, origin, summary) in enumerate(stories)]


def record_carried(ctx: Context, issue: Issue, *, also: Iterable[tuple[str, str]] = ()) -> None:
    """Remember what the issue carries. Before it went out a rebuild replaces the record; once it went out,
    a correction only adds: what readers received stays sent."""
    items = carried_items(issue, also=also)
    if sending_began(ctx, issue.number):
        kept = ctx.store.carried_items([issue.number])
        have = {(i.url_key, i.title_key, i.summary_key) for i in kept}
        added = [i for i in items if (i.url_key, i.title_key, i.summary_key) not in have]
        items = kept + [CarriedItem(issue.number, len(kept) + n, i.url_key, i.title_key, i.origin, i.title,
                                    i.summary_key) for n, i in enumerate(added)]
    ctx.store.record_carried(issue.number, items)


def stamp_cutoff(ctx: Context, number: int, *, at: float | None = None) -> float:
    """Record where the issue's window ended (first build wins); return the recorded cut-off."""
    return ctx.store.set_cutoff(number, time.time() if at is None else at)
