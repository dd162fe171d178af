"""What a page says about itself in its markup: its title, its authors and its language.

The title is the one the page declares for sharing and for the browser tab, in the order Mozilla
Readability reads it (JSON-LD headline, Dublin Core, Open Graph, Twitter, Parse.ly, then `<title>`): a page's only
`<h1>` is often the site's tagline or a teaser, not the article's headline.

The authors are the people its JSON-LD article names (digest.collect.bylines keeps the names).

The language is never guessed from the words: it is the `<html lang>` (or `xml:lang`), the
Content-Language meta, or og:locale. When two of them disagree on the language (an English CMS
default on a German article), the article gets none — no lang rather than a wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from digest.collect.textio import clean_line

__all__ = ["page_title", "page_lang", "page_authors", "normal_lang"]

_TITLE_METAS = ("dc:title", "dcterm:title", "dcterms:title", "og:title", "twitter:title", "parsely-title", "title")
_ARTICLE_TYPES = re.compile(r"(?:Article|BlogPosting|Report|Review|NewsArticle|WebPage)$")
# BCP 47 in the shapes pages use: "en", "pt-BR", "zh-Hans-CN", "en_US" (og:locale's underscore).
_LANG = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z0-9]{2,8}))*$")
_MAX_TITLE = 500
_CDATA = re.compile(r"^\s*<!\[CDATA\[|\]\]>\s*$")


def normal_lang(value: str | None) -> str:
    """A language tag as written in HTML ("en_US" → "en-US"); "" for anything that is not one."""
    value = (value or "").strip()
    if len(value) > 35 or not _LANG.match(value) or value.lower() in {"und", "mul", "zxx", "xx"}:
        return ""
    parts = value.replace("_", "-").split("-")
    # Case as BCP 47 writes it: language lower, script title, region upper.
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(part.title() if len(part) == 4 else part.upper() if len(part) == 2 else part.lower())
    return "-".join(out)


def _metas(tree: Any) -> dict[str, str]:
    """The page's <meta> values by lower-cased name or property ("DC.title" is "dc:title").

    A `property` wins over a `name` (RDFa is the newer, stricter form); otherwise the first wins.
    """
    found: dict[str, str] = {}
    by_property: set[str] = set()
    for meta in tree.iter("meta"):
        content = meta.get("content")
        if content is None or not content.strip():
            continue
        for attr in ("property", "name", "http-equiv", "itemprop"):
            for name in (meta.get(attr) or "").lower().split():
                name = name.replace(".", ":") if name.startswith(("dc.", "dcterm")) else name
                if attr == "property" and name not in by_property:
                    found[name] = content
                    by_property.add(name)
                else:
                    found.setdefault(name, content)
    return found


def _jsonld_articles(tree: Any) -> Iterator[dict[str, Any]]:
    """The page's JSON-LD objects of an article type (Article, NewsArticle, BlogPosting, …)."""
    import json

    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:  # some pages wrap it in CDATA, as XHTML once asked
            data = json.loads(_CDATA.sub("", script.text))
        except (ValueError, RecursionError):  # broken, or nested deep enough to exhaust the stack
            continue
        items = data if isinstance(data, list) else data.get("@graph", [data]) if isinstance(data, dict) else []
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict):
                continue
            kind = item.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if any(isinstance(k, str) and _ARTICLE_TYPES.search(k) for k in kinds):
                yield item


def _jsonld_headline(tree: Any, tab: str) -> str:
    """The headline of the page's JSON-LD article object, if it declares one."""
    for item in _jsonld_articles(tree):
        # Readability's choice: of a differing name and headline, the one closer to <title>.
        found = [clean_line(v)[:_MAX_TITLE] for v in (item.get("headline"), item.get("name")) if isinstance(v, str)]
        found = [v for v in found if v and not v.endswith(("...", "…"))]  # cut to fit a search result
        if found:
            return max(found, key=lambda v: len(_words(v) & _words(tab)))
    return ""


def page_authors(tree: Any) -> str:
    """The people the page's JSON-LD article names as its authors, joined by "; " ("" if none)."""
    for item in _jsonld_articles(tree):
        authors = item.get("author")
        authors = authors if isinstance(authors, list) else [authors]
        names = []
        for author in authors:
            if isinstance(author, dict) and author.get("@type") in ("Person", None):
                author = author.get("name")
            if isinstance(author, str) and clean_line(author) and "://" not in author:
                names.append(clean_line(author)[:_MAX_TITLE])
        if names:
            return "; ".join(names)
    return ""


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def page_title(tree: Any) -> str:
    """The title the page declares (Dublin Core, og:title, twitter:title, `<title>`), or ""."""
    element = next(tree.iter("title"), None)
    tab = ""
    if element is not None:
        tab = clean_line(element.text_content() if hasattr(element, "text_content") else element.text or "")
    headline = _jsonld_headline(tree, tab)
    if headline:
        return headline
    metas = _metas(tree)
    for name in _TITLE_METAS:
        title = clean_line(metas.get(name, ""))[:_MAX_TITLE]
        if title:
            return title
    return tab[:_MAX_TITLE]


def page_lang(tree: Any) -> str:
    """The page's declared language, or "" when it declares none or declares two different ones."""
    metas = _metas(tree)
    root = tree.getroottree().getroot() if hasattr(tree, "getroottree") else tree
    declared = [
        normal_lang(root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
                    or root.get("xml:lang")),
        normal_lang(metas.get("content-language", "").split(",")[0]),
        normal_lang(metas.get("og:locale")),
    ]
    tags = [tag for tag in declared if tag]
    if not tags or len({tag.split("-")[0] for tag in tags}) > 1:
        return ""
    # "en" and "en-GB" say the same, the longer more; "en-US" and "en-GB" agree only on "en".
    return max(tags, key=len) if _agrees(tags) else tags[0].split("-")[0]


def _agrees(tags: list[str]) -> bool:
    """True when the longer tags only add to the shortest ("en" and "en-GB", not "en-US" and "en-GB")."""
    longest = max(tags, key=len)
    return all(longest.lower().startswith(tag.lower()) for tag in tags)
