"""Plain data passed between the pipeline stages: Article, Issue, Rendered, Subscriber."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime
from typing import Any

__all__ = ["Image", "TopNewsItem", "Article", "Issue", "Rendered", "Subscriber", "TrackedLink"]


@dataclass(frozen=True, slots=True)
class Image:
    """An image with the alt text a screen reader reads instead."""

    url: str
    alt: str = ""

    def to_json(self) -> dict[str, str]:
        """Return the JSON form used by `collect --json` and issue.json."""
        return {"url": self.url, "alt": self.alt}


@dataclass(frozen=True, slots=True)
class TopNewsItem:
    """One line of a Top News block: a title, an optional summary and link."""

    title: str
    summary: str = ""
    url: str = ""
    origin: str = ""
    published: datetime | None = None
    lang: str = ""  # the item's own language when its page or feed declares one

    def to_json(self, *, with_origin: bool = False) -> dict[str, Any]:
        """Return the JSON form; issue.json also names the file it came from ("lang" only when set)."""
        data: dict[str, Any] = {"title": self.title, "summary": self.summary, "url": self.url}
        if with_origin:
            data["origin"] = self.origin
        if self.lang:
            data["lang"] = self.lang
        return data


@dataclass(frozen=True, slots=True)
class Article:
    """One collected article, whatever the source kind."""

    origin: str
    kind: str  # "page" | "html" | "feed"
    title: str
    url: str = ""
    source: str = ""
    published: datetime | None = None
    author: str = ""
    editor: str = ""
    breadcrumb: tuple[str, ...] = ()
    caption: str = ""
    caption_credit: str = ""
    image: Image | None = None
    paragraphs: tuple[str, ...] = ()
    top_news: tuple[TopNewsItem, ...] = ()
    # Indices into `paragraphs` of the lines that are subheadings (shown as such by the web version).
    subheadings: tuple[int, ...] = ()
    lang: str = ""  # the language the page or feed declares for it; "" when it declares none

    @property
    def word_count(self) -> int:
        """Words in the body, used to break ties between leads."""
        return sum(len(p.split()) for p in self.paragraphs)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object `digest collect --json` prints for this article."""
        return {
            "origin": self.origin,
            "kind": self.kind,
            "title": self.title,
            "url": self.url or None,
            "source": self.source,
            "published": self.published.isoformat() if self.published else None,
            "author": self.author,
            "editor": self.editor,
            "breadcrumb": list(self.breadcrumb),
            "caption": self.caption,
            "caption_credit": self.caption_credit,
            "image": self.image.to_json() if self.image else None,
            "paragraphs": list(self.paragraphs),
            "top_news": [item.to_json() for item in self.top_news],
            **({"subheadings": list(self.subheadings)} if self.subheadings else {}),
            **({"lang": self.lang} if self.lang else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Article:
        """Rebuild an article from its JSON form (issue.json)."""
        published = data.get("published")
        image = data.get("image")
        return cls(
            origin=data.get("origin", ""),
            kind=data.get("kind", "page"),
            title=data["title"],
            url=data.get("url") or "",
            source=data.get("source", ""),
            published=datetime.fromisoformat(published) if published else None,
            author=data.get("author", ""),
            editor=data.get("editor", ""),
            breadcrumb=tuple(data.get("breadcrumb", ())),
            caption=data.get("caption", ""),
            caption_credit=data.get("caption_credit", ""),
            image=Image(image["url"], image.get("alt", "")) if image else None,
            paragraphs=tuple(data.get("paragraphs", ())),
            top_news=tuple(
                TopNewsItem(t["title"], t.get("summary", ""), t.get("url") or "", lang=t.get("lang", ""))
                for t in data.get("top_news", ())
            ),
            subheadings=tuple(int(n) for n in data.get("subheadings", ())),
            lang=data.get("lang", ""),
        )


@dataclass(frozen=True, slots=True)
class Issue:
    """One edition of the newsletter: the lead, its excerpt and the Top News.

    `intro` is the editor's note in Markdown (rendered above the lead); `date`
    is the date the issue shows, when the editor's plan sets it.
    """

    number: int
    subject: str
    preheader: str
    lead: Article
    excerpt: tuple[str, ...]
    top_news: tuple[TopNewsItem, ...]
    content_key: str = ""
    # Top News articles without a URL of their own, in full: the web version carries them.
    articles: tuple[Article, ...] = ()
    intro: str = ""
    date: Date | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the issue.json form ("articles", "intro" and "date" only when set)."""
        data: dict[str, Any] = {
            "number": self.number,
            "subject": self.subject,
            "preheader": self.preheader,
            "lead": self.lead.to_json(),
            "excerpt": list(self.excerpt),
            "top_news": [item.to_json(with_origin=True) for item in self.top_news],
            "content_key": self.content_key,
        }
        if self.articles:
            data["articles"] = [article.to_json() for article in self.articles]
        # Only when set: the content key of an issue curated by the rules alone stays what it was.
        if self.intro:
            data["intro"] = self.intro
        if self.date is not None:
            data["date"] = self.date.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Issue:
        """Rebuild an issue from issue.json."""
        return cls(
            number=int(data["number"]),
            subject=data["subject"],
            preheader=data["preheader"],
            lead=Article.from_json(data["lead"]),
            excerpt=tuple(data.get("excerpt", ())),
            top_news=tuple(
                TopNewsItem(t["title"], t.get("summary", ""), t.get("url") or "", t.get("origin", ""),
                            lang=t.get("lang", ""))
                for t in data.get("top_news", ())
            ),
            content_key=data.get("content_key", ""),
            articles=tuple(Article.from_json(a) for a in data.get("articles", ())),
            intro=data.get("intro", ""),
            date=Date.fromisoformat(data["date"]) if data.get("date") else None,
        )


@dataclass(frozen=True, slots=True)
class TrackedLink:
    """One article link of an issue whose clicks are counted: its number in the issue, URL and title."""

    link: int
    url: str
    title: str


@dataclass(frozen=True, slots=True)
class Rendered:
    """An issue rendered once: inlined HTML and plain text holding placeholder markers.

    `marker` is a per-render random word; the personal field number N stands in
    the text as `<marker>f<N>z` and `fields[N]` names it (`email`, `name`,
    `unsubscribe_url`, `attrs.city`, …). Content cannot forge a marker because
    it cannot know the random part.
    """

    number: int
    subject: str
    preheader: str
    html: str
    text: str
    marker: str
    fields: tuple[str, ...]
    view_url: str = ""
    links: tuple[TrackedLink, ...] = ()  # the article links counted (render.tracking), when clicks count

    def to_json(self) -> dict[str, Any]:
        """Return the rendered.json form stored beside the issue."""
        return {
            "number": self.number,
            "subject": self.subject,
            "preheader": self.preheader,
            "html": self.html,
            "text": self.text,
            "marker": self.marker,
            "fields": list(self.fields),
            "view_url": self.view_url,
            "links": [{"link": x.link, "url": x.url, "title": x.title} for x in self.links],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rendered:
        """Rebuild from rendered.json."""
        return cls(
            number=int(data["number"]),
            subject=data["subject"],
            preheader=data["preheader"],
            html=data["html"],
            text=data["text"],
            marker=data["marker"],
            fields=tuple(data["fields"]),
            view_url=data.get("view_url", ""),
            links=tuple(TrackedLink(int(x["link"]), str(x["url"]), str(x["title"])) for x in data.get("links", ())),
        )


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One person on a list, as read from a CSV row."""

    email: str
    name: str = ""
    tags: tuple[str, ...] = ()
    attrs: Mapping[str, str] = field(default_factory=dict)
    origin: str = ""
    line: int = 0

    @property
    def key(self) -> str:
        """The address as compared for duplicates and suppression."""
        return self.email.strip().lower()
