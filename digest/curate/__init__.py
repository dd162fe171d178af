"""Curate stage: choose the lead and the Top News of a period, write subject and preheader."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from urllib.parse import urlsplit, urlunsplit

from digest.core.errors import ConfigError, NothingNewError
from digest.core.model import Article, Issue, TopNewsItem
from digest.core.settings import check_subject

__all__ = [
    "CurateOptions",
    "Curated",
    "curate",
    "title_key",
    "url_key",
    "excerpt",
    "sentences",
    "preheader_for",
    "LEAD_RULE",
    "in_period",
    "says_more",
    "one_line",
    "distinctive",
    "DISTINCTIVE_WORDS",
    "AlreadySent",
    "SentStory",
    "summary_key",
    "subject_line",
    "body_paragraphs",
]

LEAD_RULE = (
    "Lead: with --lead TEXT, the one article whose title contains TEXT (case-insensitive); "
    "otherwise the most recent page or HTML article, ties broken by the longer body."
)

# Excerpts are bounded in characters as well as words: CJK text has no spaces, and junk may
# have none either. 25 a word leaves room for long words and for unspaced scripts.
CHARS_PER_WORD = 25
MAX_TITLE = 300
MAX_SUMMARY = 60 * CHARS_PER_WORD
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?。！？…])['\"”’)\]]*\s+")
_PUNCT_OR_SPACE = re.compile(r"[\W_]+", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
#: Query parameters that track the reader, not name the page (utm_*, and the ESPs' and sites' own).
_TRACKING = ("utm_", "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "at_medium", "at_campaign",
             "at_custom", "igshid", "_hsenc", "_hsmi", "mkt_tok", "oly_enc_id", "oly_anon_id", "vero_id", "wt_mc",
             "ref=", "cmp=", "smid=", "ocid=", "cmpid=", "src=rss", "rss=")
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")
#: A title of fewer words ("Letters", "Weather", "In brief") does not name one story across sources.
DISTINCTIVE_WORDS = 4


@dataclass(frozen=True, slots=True)
class CurateOptions:
    """How to pick an issue out of the collected articles."""

    lead: str | None = None
    top: int = 6
    excerpt_words: int = 120
    since: date | None = None
    until: date | None = None
    subject_template: str = "{newsletter}: {lead_title}"
    newsletter: str = "Digest"


@dataclass
class Curated:
    """The issue (numbered 0 until the state database numbers it) and what was noticed."""

    issue: Issue
    undated: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    already_sent: list[tuple[str, int]] = field(default_factory=list)  # (title, the issue that sent it)
    overflow: list[str] = field(default_factory=list)  # titles past --top: not in this issue


@dataclass(frozen=True, slots=True)
class SentStory:
    """A story an issue sent, as the nothing-twice rule compares it."""

    issue: int
    url: str  # url_key
    title: str  # title_key
    summary: str  # summary_key
    origin: str


@dataclass
class AlreadySent:
    """The stories earlier issues sent, keyed as the cross-page dedupe keys them (canonical URL, title)."""

    urls: dict[str, int] = field(default_factory=dict)
    titles: dict[str, list[SentStory]] = field(default_factory=dict)
    summaries: dict[str, int] = field(default_factory=dict)

    def add(self, story: SentStory) -> None:
        """Remember a story as sent."""
        if story.url:
            self.urls.setdefault(story.url, story.issue)
        if story.title:
            self.titles.setdefault(story.title, []).append(story)
        if story.summary and not story.url:
            self.summaries.setdefault(story.summary, story.issue)

    def issue_of(self, title: str, url: str, origin: str, summary: str = "") -> int | None:
        """The issue that already sent this story, if any (None: it is new).

        The same canonical URL; or the same title — a distinctive one from any source, a short one
        ("Letters") from the same source — unless both have URLs of their own on the same site (a
        recurring column: "Letters to the Editor" of this week is not last week's); or, for stories
        without a URL (a page dump's Top News), the same summary under a short or edited title.
        """
        ukey = url_key(url)
        if ukey and ukey in self.urls:
            return self.urls[ukey]
        tkey = title_key(title)
        skey = summary_key(summary)
        for seen in self.titles.get(tkey, ()):
            if ukey and seen.url and _site(ukey) == _site(seen.url) and not (skey and skey == seen.summary):
                continue  # the same site's new page under a title it reuses (a column), saying something else
            if distinctive(tkey) or seen.origin == origin:
                return seen.issue
        if skey and not ukey:
            return self.summaries.get(skey)
        return None


def _first(article: Article) -> str:
    return article.paragraphs[0] if article.paragraphs else ""


def _site(key: str) -> str:
    """The host of a url_key ("example.org/a/b" → "example.org")."""
    return key.lstrip("/").split("/", 1)[0]


def summary_key(summary: str) -> str:
    """A summary's first twenty words, folded as titles are: the same Top News text whatever its title."""
    words = title_key(summary).split()
    return " ".join(words[:20]) if len(words) >= 8 else ""


def title_key(title: str) -> str:
    """Compare titles after NFKC, case folding, and folding whitespace and punctuation (soft hyphens and
    zero-width characters, which NFKC keeps, dropped)."""
    folded = _INVISIBLE.sub("", unicodedata.normalize("NFKC", title)).casefold()
    return _PUNCT_OR_SPACE.sub(" ", folded).strip()


def url_key(url: str) -> str:
    """Compare URLs without scheme, www., fragment, trailing slash or tracking parameters (the port kept).

    A URL `urllib` cannot take apart (`http://[::1/x`) is its own key, trimmed.
    """
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().removeprefix("www.")
        port = parts.port
    except ValueError:
        return url.strip()
    if ":" in host:
        host = f"[{host}]"  # IPv6
    if port is not None and port != {"http": 80, "https": 443}.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    query = "&".join(
        q for q in sorted(parts.query.split("&")) if q and not q.lower().startswith(_TRACKING)
    )
    path = parts.path.rstrip("/")
    path = path.removesuffix("/amp") if path.lower().endswith("/amp") else path  # the AMP copy of a page
    return urlunsplit(("", host, path or "/", query, ""))


def one_line(text: str) -> str:
    """Fold control characters and line breaks into spaces: header-safe text."""
    return " ".join(_CONTROL.sub(" ", text).split())


def sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences at closing punctuation followed by space."""
    return [s for s in _SENTENCE_SPLIT.split(paragraph.strip()) if s]


def _within(parts: Sequence[str], budget: int) -> tuple[str, ...]:
    """At most `budget` characters: one unbroken 19 MB "word" must not become a 19 MB email."""
    out: list[str] = []
    used = 0
    for part in parts:
        if used + len(part) <= budget:
            out.append(part)
            used += len(part)
            continue
        room = budget - used
        if room > 20 or not out:
            cut = part[: max(room, 20)]
            if " " in cut[len(cut) // 2 :]:
                cut = cut.rsplit(" ", 1)[0]  # end on a whole word where there is one
            out.append(cut.rstrip(" ,;:") + "…")
        break
    return tuple(out)


def _bounded(item: TopNewsItem) -> TopNewsItem:
    """A Top News item with its title and summary within sane lengths (a page may hold anything)."""
    if len(item.title) <= MAX_TITLE and len(item.summary) <= MAX_SUMMARY:
        return item
    return replace(item, title="".join(_within([item.title], MAX_TITLE)),
                   summary="".join(_within([item.summary], MAX_SUMMARY)) if item.summary else "")


def excerpt(paragraphs: Sequence[str], *, words: int) -> tuple[str, ...]:
    """The first paragraphs up to `words` words, ending on a whole sentence (at least one).

    Also at most CHARS_PER_WORD × `words` characters, whatever the spacing.
    """
    out: list[str] = []
    count = 0
    for paragraph in paragraphs:
        n = len(paragraph.split())
        if count + n <= words:
            out.append(paragraph)
            count += n
            continue
        taken: list[str] = []
        for sentence in sentences(paragraph):
            m = len(sentence.split())
            if count + m > words and (out or taken):
                break
            taken.append(sentence)
            count += m
        if taken:
            out.append(" ".join(taken))
        break
    return _within(out, words * CHARS_PER_WORD)


def body_paragraphs(article: Article) -> tuple[str, ...]:
    """The article's paragraphs without its subheadings: what an excerpt or a preheader is made of."""
    if not article.subheadings:
        return article.paragraphs
    return tuple(p for n, p in enumerate(article.paragraphs) if n not in article.subheadings)


def preheader_for(article: Article, *, limit: int = 100) -> str:
    """The lead's first sentence, cut at a word boundary to at most `limit` characters."""
    first = next((p for p in body_paragraphs(article) if p.strip()), article.title)
    sentence = one_line(sentences(first)[0] if sentences(first) else first)
    if len(sentence) <= limit:
        return sentence
    cut = sentence[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def says_more(article: Article) -> bool:
    """True when an article has more to read than its Top News summary (one paragraph, cut at 60 words)."""
    return len(article.paragraphs) > 1 or (bool(article.paragraphs) and len(article.paragraphs[0].split()) > 60)


def distinctive(key: str) -> bool:
    """True when a normalised title names one story: DISTINCTIVE_WORDS words or more (CJK: characters)."""
    return len(key.split()) + len(_CJK.findall(key)) >= DISTINCTIVE_WORDS


def _seen_title(seen: list[tuple[str, str]] | None, key: str, item: TopNewsItem) -> bool:
    """True when an item repeats a title already taken: any copy of a distinctive title; a short generic
    one only from the same source, and never when both have a URL of their own."""
    if not seen:
        return False
    if distinctive(key):
        return True
    return any(origin == item.origin and not (url and item.url) for origin, url in seen)


def in_period(articles: Sequence[Article], options: CurateOptions) -> list[Article]:
    """The articles of the chosen period (undated ones included)."""
    return [a for a in articles if _in_period(a, options)]


def _in_period(article: Article, options: CurateOptions) -> bool:
    if article.published is None:
        return True
    if options.since and article.published < datetime.combine(options.since, time.min):
        return False
    return not (options.until and article.published > datetime.combine(options.until, time.max))


def _choose_lead(articles: Sequence[Article], wanted: str | None) -> Article:
    if wanted:
        needle = wanted.casefold()
        matches = [a for a in articles if needle in a.title.casefold()]
        if len(matches) == 1:
            return matches[0]
        candidates = "; ".join(a.title for a in (matches or articles)[:8])
        problem = "matches several articles" if matches else "matches no article"
        raise ConfigError(f"--lead {wanted!r} {problem}: {candidates}")
    full = [a for a in articles if a.kind in ("page", "html")] or list(articles)
    return max(full, key=lambda a: (a.published or datetime.min, a.word_count))


def subject_line(options: CurateOptions, lead_title: str) -> str:
    """The subject for a lead title: [newsletter] subject with {newsletter} and {lead_title} filled in."""
    fields = {"newsletter": options.newsletter, "lead_title": lead_title}
    try:
        # Plain {field} references only: a format spec like {lead_title:>999999999} is refused.
        check_subject(options.subject_template)
    except ValueError as exc:
        raise ConfigError(f"digest.toml: [newsletter] subject: {exc}") from None
    # Only the editor's template is formatted; the lead title is inserted as data.
    return one_line(options.subject_template.format_map(fields))[:250]


def curate(articles: Sequence[Article], options: CurateOptions | None = None, *,
           sent: AlreadySent | None = None) -> Curated:
    """Pick the lead, gather the deduplicated Top News, and write subject and preheader.

    With `sent`, stories earlier issues carried are left out (an explicit --lead may still name one).
    """
    options = options or CurateOptions()
    chosen = in_period(articles, options)
    if not chosen:
        raise NothingNewError("no article in the chosen period")
    already: list[tuple[str, int]] = []
    unsent = chosen
    if sent is not None:
        unsent = [a for a in chosen if sent.issue_of(a.title, a.url, a.origin, _first(a)) is None]
        if not unsent and not options.lead:
            raise NothingNewError(f"every article of the period was already sent ({len(chosen)} article(s))")
    lead = _choose_lead(chosen if options.lead else unsent, options.lead)

    # A title seen, with where it came from: a short generic one ("Letters") repeats only within its source.
    seen_titles: dict[str, list[tuple[str, str]]] = {title_key(lead.title): [(lead.origin, lead.url)]}
    seen_urls = {url_key(lead.url)} - {""}
    candidates: list[TopNewsItem] = []
    for article in chosen:
        if article is not lead:
            # The first paragraph that is not a subheading.
            summary = next((p for n, p in enumerate(article.paragraphs) if n not in article.subheadings), "")
            if summary and len(summary.split()) > 60:
                summary = " ".join(excerpt([summary], words=60))
            candidates.append(
                TopNewsItem(article.title, summary, article.url, article.origin, article.published, lang=article.lang)
            )
        for item in article.top_news:
            candidates.append(replace(item, published=item.published or article.published))
    unique: list[TopNewsItem] = []
    left_out: list[str] = []
    for item in candidates:
        tkey, ukey = title_key(item.title), url_key(item.url)
        number = sent.issue_of(item.title, item.url, item.origin, item.summary) if sent is not None else None
        if number is not None:
            already.append((item.title, number))
            continue
        if _seen_title(seen_titles.get(tkey), tkey, item) or (ukey and ukey in seen_urls):
            left_out.append(item.title)
            continue
        seen_titles.setdefault(tkey, []).append((item.origin, item.url))
        if ukey:
            seen_urls.add(ukey)
        unique.append(item)
    # Most recent first; a stable sort keeps the order of the sources among equals.
    unique.sort(key=lambda i: i.published or datetime.min, reverse=True)
    top_news = tuple(_bounded(item) for item in unique[: max(options.top, 0)])
    shown = {(item.origin, title_key(item.title)) for item in top_news if not item.url}
    full = tuple(
        a for a in chosen
        if a is not lead and not a.url and (a.origin, title_key(a.title)) in shown and says_more(a)
    )

    issue = Issue(
        number=0,
        subject=subject_line(options, lead.title),
        preheader=preheader_for(lead),
        lead=lead,
        excerpt=excerpt(body_paragraphs(lead), words=options.excerpt_words),
        top_news=top_news,
    )
    # The key leaves the full Top News articles out, as issues built before they were kept did.
    key = hashlib.sha256(json.dumps(issue.to_json(), sort_keys=True).encode()).hexdigest()
    return Curated(
        issue=replace(issue, content_key=key, articles=full),
        undated=[a.origin for a in chosen if a.published is None],
        left_out=left_out,
        already_sent=already,
        overflow=[item.title for item in unique[max(options.top, 0):]],
    )
