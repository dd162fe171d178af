"""The editor's plan of an issue: what the rules chose, as data the editor may change, and the issue it makes.

A plan names the lead (an article: its source file and its title or URL),
lists the Top News in order (each entry is shown as written), and sets the
subject, the preheader, the date and an intro. The plan wins over the rules:
`apply_plan` makes the issue from it and reports what changed in the sources
since it was made (new articles, entries whose source file is gone).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date as Date
from pathlib import Path

from digest.core.errors import PlanError
from digest.core.model import Article, Issue, TopNewsItem
from digest.core.urls import is_url, redact
from digest.curate import Curated, body_paragraphs, excerpt, one_line, preheader_for, says_more, title_key, url_key

__all__ = ["PlanLead", "PlanEntry", "IssuePlan", "Planned", "Following", "plan_from_curated", "apply_plan",
           "source_name",
           "candidates", "named_in_workspace"]


@dataclass(frozen=True, slots=True)
class PlanLead:
    """[lead]: which article leads (source, title or URL), how it is shown (headline, words, excerpt)."""

    title: str = ""
    url: str = ""
    source: str = ""
    headline: str = ""  # shown instead of the article's title
    words: int = 120  # length of the excerpt taken from the article
    excerpt: tuple[str, ...] = ()  # the editor's own excerpt, paragraphs
    line: int = 0


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """One [[top]] entry, shown exactly as written."""

    title: str
    summary: str = ""
    url: str = ""
    source: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class IssuePlan:
    """A whole plan; `known` lists the articles (URL or title) the sources held when it was made."""

    subject: str
    lead: PlanLead
    top: tuple[PlanEntry, ...] = ()
    preheader: str = ""
    intro: str = ""
    date: Date | None = None
    known: tuple[str, ...] = ()
    path: str = ""


@dataclass
class Planned:
    """The issue a plan makes, and what the sources hold that the plan does not know."""

    issue: Issue
    new: list[TopNewsItem] = field(default_factory=list)  # found since the plan was made
    vanished: list[PlanEntry] = field(default_factory=list)  # entries whose source file is gone


def source_name(origin: str, root: Path, *, base: Path | None = None) -> str:
    """A source as the plan names it: a URL as it is (without a password); a file relative to the
    workspace when inside it, POSIX slashes.

    A file's `origin` is relative to `base` (by default the workspace: names read from a
    plan, and origins already named by `named_in_workspace`).
    """
    if not origin:
        return ""
    if is_url(origin):
        return redact(origin)
    path = Path(origin)
    if not path.is_absolute():
        path = (base or root) / path
    resolved, top = path.resolve(), root.resolve()
    return resolved.relative_to(top).as_posix() if resolved.is_relative_to(top) else resolved.as_posix()


def named_in_workspace(articles: Iterable[Article], root: Path, *, base: Path | None = None) -> list[Article]:
    """The articles (and their Top News items) with their origins named as the plan names them.

    Collected origins are relative to `base` (default: the current folder); named,
    they are the same whatever folder the command ran in (`digest -C ws …`), so the
    issue's content, its number and its plan do not depend on it.
    """
    here = base or Path.cwd()
    named = []
    for article in articles:
        items = tuple(replace(item, origin=source_name(item.origin, root, base=here)) for item in article.top_news)
        named.append(replace(article, origin=source_name(article.origin, root, base=here), top_news=items))
    return named


def candidates(articles: Iterable[Article]) -> list[TopNewsItem]:
    """Everything an issue could hold: each article and each item of its Top News block."""
    found = []
    for article in articles:
        found.append(TopNewsItem(article.title, "", article.url, article.origin, article.published,
                                 lang=article.lang))
        found.extend(article.top_news)
    return found


_KNOWN_KEY = re.compile(r"[ut]:[0-9a-f]{16}")
MAX_KNOWN = 20_000  # [known] entries a plan keeps (about 500 KB); more are listed as new, never lost


def _short(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _known_label(item: TopNewsItem) -> str:
    """How [known] names an article: a hash of its URL (else title) key, the same size whatever a feed holds.

    A feed of 600 items with 2 KB links once made a plan larger than a plan may be, which the
    next build refused; 64 bits per key tell a week's articles apart with room to spare.
    """
    if item.url:
        return "u:" + _short(url_key(item.url))
    return "t:" + _short(title_key(item.title)) if item.title else ""


def plan_from_curated(curated: Curated, period: Sequence[Article], *, root: Path, words: int) -> IssuePlan:
    """The plan of what the rules chose: lead and Top News in order; no intro, and no subject, preheader or
    date of its own (they follow the lead and the day the issue is made until the editor sets them)."""
    issue = curated.issue
    lead = issue.lead
    known: list[str] = []
    seen: set[str] = set()
    for item in candidates(period):
        label = _known_label(item)
        if label and label not in seen and len(known) < MAX_KNOWN:
            seen.add(label)
            known.append(label)
    return IssuePlan(
        subject="",
        lead=PlanLead(title=lead.title, url=lead.url, source=source_name(lead.origin, root), words=words),
        top=tuple(PlanEntry(item.title, item.summary, item.url, source_name(item.origin, root))
                  for item in issue.top_news),
        known=tuple(known),
    )


def _find_lead(lead: PlanLead, articles: Sequence[Article], root: Path) -> Article | None:
    """The article the plan's lead names: in its source (when given), by URL, else by title."""
    pool = list(articles)
    if lead.source:
        wanted = source_name(lead.source, root, base=root)
        pool = [a for a in pool if source_name(a.origin, root) == wanted]
    if lead.url:
        key = url_key(lead.url)
        for article in pool:
            if article.url and url_key(article.url) == key:
                return article
    if lead.title:
        key = title_key(lead.title)
        for article in pool:
            if title_key(article.title) == key:
                return article
    return None


def _lead_error(plan: IssuePlan, articles: Sequence[Article], root: Path) -> PlanError:
    lead = plan.lead
    named = f"titled {lead.title!r}" if lead.title else f"at {lead.url}"
    if lead.source:
        wanted = source_name(lead.source, root, base=root)
        there = [a.title for a in articles if source_name(a.origin, root) == wanted]
        if not there:
            sources = sorted({source_name(a.origin, root) for a in articles})
            return PlanError(f"the lead is not among the articles: its source {lead.source} is gone "
                             f"(sources now: {', '.join(sources[:6])})", path=plan.path, line=lead.line)
        return PlanError(f"the lead is not among the articles: no article {named} in {lead.source} "
                         f"(articles there: {'; '.join(there[:5])}); to show another title, set headline",
                         path=plan.path, line=lead.line)
    titles = [a.title for a in articles]
    return PlanError(f"the lead is not among the articles: no article {named} (articles: {'; '.join(titles[:5])})",
                     path=plan.path, line=lead.line)


@dataclass(frozen=True, slots=True)
class Following:
    """What a plan's subject, preheader and date follow when the editor has not set them."""

    subject: Callable[[str], str]  # the subject for a lead title ([newsletter] subject)
    day: Date  # the day the issue is made (or goes out)


def _entry_lang(entry: PlanEntry, articles: Sequence[Article], root: Path) -> str:
    """The language of the article a Top News entry came from (its source and URL or title)."""
    if not entry.source:
        return ""
    wanted = source_name(entry.source, root, base=root)
    pool = [a for a in articles if source_name(a.origin, root) == wanted]
    for article in pool:
        if (entry.url and article.url and url_key(article.url) == url_key(entry.url)) or len(pool) == 1 \
                or title_key(article.title) == title_key(entry.title):
            return article.lang
    return ""


def apply_plan(plan: IssuePlan, articles: Sequence[Article], *, period: Sequence[Article], root: Path,
               following: Following | None = None) -> Planned:
    """Make the issue the plan describes (numbered 0) from the collected articles.

    The lead must be among `articles`; Top News entries are shown as written.
    Articles of `period` the plan does not know come back as `new`; entries
    whose source file was not collected come back as `vanished`. Subject,
    preheader and date not set in the plan follow the lead and `following.day`.
    """
    found = _find_lead(plan.lead, articles, root)
    if found is None:
        raise _lead_error(plan, articles, root)
    lead = replace(found, title=plan.lead.headline or found.title, url=plan.lead.url or found.url,
                   origin=source_name(found.origin, root))
    shown = plan.lead.excerpt or excerpt(body_paragraphs(found), words=plan.lead.words)
    subject = plan.subject or (following.subject(lead.title) if following else lead.title)
    preheader = plan.preheader or preheader_for(replace(lead, paragraphs=tuple(shown), subheadings=()))
    issue = Issue(
        number=0,
        subject=one_line(subject),
        preheader=one_line(preheader),
        lead=lead,
        excerpt=shown,
        top_news=tuple(TopNewsItem(e.title, e.summary, e.url, e.source, lang=_entry_lang(e, articles, root))
                       for e in plan.top),
        intro=plan.intro,
        date=plan.date or (following.day if following else None),
    )
    key = hashlib.sha256(json.dumps(issue.to_json(), sort_keys=True).encode()).hexdigest()
    collected = {source_name(a.origin, root) for a in articles}
    vanished = [e for e in plan.top if e.source and source_name(e.source, root, base=root) not in collected]
    return Planned(replace(issue, content_key=key, articles=_full_articles(issue, articles, root)),
                   _new_since(plan, found, period), vanished)


def _full_articles(issue: Issue, articles: Sequence[Article], root: Path) -> tuple[Article, ...]:
    """The Top News articles without a URL that have more to read, for the web version (as `curate` keeps)."""
    shown = {(item.origin, title_key(item.title)) for item in issue.top_news if not item.url}
    full = []
    for article in articles:
        named = replace(article, origin=source_name(article.origin, root))
        if not article.url and (named.origin, title_key(article.title)) in shown and says_more(article):
            full.append(named)
    return tuple(full)


def _new_since(plan: IssuePlan, lead: Article, period: Sequence[Article]) -> list[TopNewsItem]:
    urls: set[str] = set()
    titles: set[str] = set()
    hashed: set[str] = set()
    for label in plan.known:
        if _KNOWN_KEY.fullmatch(label):
            hashed.add(label)
        else:  # plans written before [known] held hashes: the URL or the title itself
            (urls if "://" in label else titles).add(url_key(label) if "://" in label else title_key(label))
    for title, url in [(lead.title, lead.url), (plan.lead.title, plan.lead.url), (plan.lead.headline, ""),
                       *((e.title, e.url) for e in plan.top)]:
        if title:
            titles.add(title_key(title))
        if url:
            urls.add(url_key(url))
    new: list[TopNewsItem] = []
    for item in candidates(period):
        tkey, ukey = title_key(item.title), url_key(item.url)
        if tkey in titles or (ukey and ukey in urls) or _known_label(item) in hashed:
            continue
        titles.add(tkey)
        if ukey:
            urls.add(ukey)
        new.append(item)
    return new
