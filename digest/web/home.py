"""The archive as the newsletter's home page: its header, the subscribe form, pages, and meta for sharing.

Everything here is HTML text built from settings and sent issues; every value
from outside (subjects, preheaders, names, URLs) is escaped. No script: a
reader reads and subscribes with plain links and a plain form. The same
functions make the served pages (`digest serve`, links under /archive/) and
the static ones (`digest archive --out`, relative links that work in any
folder, the form posting to base_url's /subscribe).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from digest.core.settings import Settings

__all__ = ["Links", "page_html", "site_header", "subscribe_form", "issue_list", "pager", "share_meta",
           "wrap_issue", "PER_PAGE"]

PER_PAGE = 20  # issues per page of the index


@dataclass(frozen=True, slots=True)
class Links:
    """Where the archive's pages are from the page being made: served (/archive/…) or static (relative)."""

    static: bool = False
    depth: int = 0  # static: how many folders below the archive's root the page is

    def to(self, path: str) -> str:
        """A link to `path` under the archive ("" the index, "3" an issue, "page/2", "feed.xml")."""
        if not self.static:
            return "/archive/" + path + ("/" if path.startswith("page/") else "")
        up = "../" * self.depth
        if not path:
            return up or "./"
        return up + path + ("" if path.endswith(".xml") else "/")


def _css(settings: Settings) -> str:
    t = settings.theme
    # Scoped to .dg-site so an issue's own styles (its web version) and these never meet.
    return (
        f".dg-site{{font:17px/1.5 {t.font_family};color:{t.text_color};background:{t.background_color};"
        "max-width:40rem;margin:0 auto;padding:1rem 1.25rem;box-sizing:border-box}"
        f".dg-site a{{color:{t.brand_color};text-decoration:underline}}"
        ".dg-site h1,.dg-site h2{line-height:1.25;margin:.5rem 0}"
        ".dg-site .dg-name{font-size:1.75rem;font-weight:700}"
        ".dg-site ol{list-style:none;padding:0}.dg-site li{margin:0 0 1.25rem}"
        f".dg-site .dg-meta{{color:{t.muted_color};font-size:.9rem}}"
        f".dg-site form{{background:{t.content_background};padding:1rem 1.25rem;border-radius:8px}}"
        ".dg-site label{display:block;margin:.75rem 0 .25rem;font-weight:600}"
        ".dg-site input,.dg-site select{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;"
        f"border:1px solid #6e7781;border-radius:6px;color:{t.text_color};background:{t.content_background}}}"
        f".dg-site button{{font:inherit;margin-top:1rem;padding:.6rem 1.2rem;border-radius:6px;border:0;"
        f"background:{t.brand_color};color:#fff;cursor:pointer}}"
        ".dg-site .dg-hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}"
        ".dg-site nav ul{list-style:none;padding:0;display:flex;gap:1.5rem;flex-wrap:wrap}"
        f"body{{margin:0;background:{t.background_color}}}"
        f"@media (prefers-color-scheme:dark){{body,.dg-site{{background:{t.dark_background_color};"
        f"color:{t.dark_text_color}}}.dg-site a{{color:{t.dark_brand_color}}}"
        f".dg-site .dg-meta{{color:{t.dark_muted_color}}}.dg-site form,.dg-site input,.dg-site select"
        f"{{background:{t.dark_content_background};color:{t.dark_text_color}}}"
        f".dg-site button{{background:{t.dark_brand_color};color:#0d1117}}}}"
    )


def site_header(settings: Settings, links: Links) -> str:
    """The newsletter's name (to the home page) and its description."""
    n = settings.newsletter
    description = f"<p>{html.escape(n.description)}</p>" if n.description else ""
    return (f'<header class="dg-site"><a class="dg-name" href="{html.escape(links.to(""))}">{html.escape(n.name)}'
            f"</a>{description}</header>")


def subscribe_form(settings: Settings, lists: tuple[str, ...], links: Links) -> str:
    """The double opt-in form of /subscribe: a plain POST, no script; the answer is the signup page's."""
    base = settings.newsletter.base_url.rstrip("/")
    action = f"{base}/subscribe" if links.static else "/subscribe"
    if len(lists) == 1:
        which = f'<input type="hidden" name="list" value="{html.escape(lists[0])}">'
    else:
        options = "".join(f'<option value="{html.escape(n)}">{html.escape(n)}</option>' for n in lists)
        which = f'<label for="dg-list">List</label><select id="dg-list" name="list">{options}</select>'
    return (
        f'<section class="dg-site" aria-labelledby="dg-subscribe"><form method="post" action="{html.escape(action)}">'
        f'<h2 id="dg-subscribe">Subscribe to {html.escape(settings.newsletter.name)}</h2>'
        '<label for="dg-email">Email address</label>'
        '<input id="dg-email" name="email" type="email" required autocomplete="email" maxlength="254">'
        '<label for="dg-name">Name (optional)</label>'
        '<input id="dg-name" name="name" autocomplete="name" maxlength="200">'
        f"{which}"
        '<div class="dg-hp" aria-hidden="true"><label for="dg-website">Leave this empty</label>'
        '<input id="dg-website" name="website" tabindex="-1" autocomplete="off"></div>'
        '<button type="submit">Subscribe</button>'
        '<p class="dg-meta">We send you a message to confirm. Every issue has a one-click unsubscribe link.</p>'
        "</form></section>")


def _feed_footer(settings: Settings, links: Links) -> str:
    n = settings.newsletter
    return (f'<footer class="dg-site"><p class="dg-meta"><a href="{html.escape(links.to("feed.xml"))}">Atom feed'
            f"</a> · {html.escape(n.name)} · {html.escape(n.postal_address)}</p></footer>")


def _feed_link(settings: Settings, links: Links) -> str:
    return (f'<link rel="alternate" type="application/atom+xml" href="{html.escape(links.to("feed.xml"))}" '
            f'title="{html.escape(settings.newsletter.name)}">')


def page_html(settings: Settings, *, title: str, main: str, links: Links, form: str = "", head: str = "") -> str:
    """A whole page of the site: header, `main`, the subscribe form, the footer."""
    n = settings.newsletter
    description = (f'<meta name="description" content="{html.escape(n.description)}">'
                   if n.description and "name=\"description\"" not in head else "")
    return (
        f'<!DOCTYPE html><html lang="{html.escape(n.language)}" dir="{html.escape(n.direction)}"><head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="color-scheme" content="light dark"><title>{html.escape(title)}</title>{description}{head}'
        f"{_feed_link(settings, links)}<style>{_css(settings)}</style></head><body>"
        f"{site_header(settings, links)}<main class=\"dg-site\">{main}</main>{form}"
        f"{_feed_footer(settings, links)}</body></html>")


def issue_list(items: list[tuple[int, str, str, str]], links: Links) -> str:
    """(number, day, subject, preheader) newest first, as the index lists them."""
    if not items:
        return "<p>No issue has been sent yet.</p>"
    rows = "".join(
        f'<li><h2><a href="{html.escape(links.to(str(number)))}">Issue {number}: {html.escape(subject)}</a></h2>'
        f'<p class="dg-meta"><time datetime="{html.escape(day)}">{html.escape(day)}</time></p>'
        + (f"<p>{html.escape(preheader)}</p>" if preheader else "") + "</li>"
        for number, day, subject, preheader in items)
    return f"<ol>{rows}</ol>"


def pager(page: int, pages: int, links: Links) -> str:
    """Newer / older links between the index's pages (page 1 is the index itself)."""
    if pages <= 1:
        return ""
    parts = []
    if page > 1:
        parts.append(f'<li><a href="{html.escape(links.to("" if page == 2 else f"page/{page - 1}"))}" '
                     'rel="prev">Newer issues</a></li>')
    if page < pages:
        parts.append(f'<li><a href="{html.escape(links.to(f"page/{page + 1}"))}" rel="next">Older issues</a></li>')
    return f'<nav aria-label="Pages"><p class="dg-meta">Page {page} of {pages}</p><ul>{"".join(parts)}</ul></nav>'


def share_meta(settings: Settings, *, title: str, description: str, url: str, image: str = "",
               image_alt: str = "") -> str:
    """Canonical URL, Open Graph and Twitter card meta for a shared link."""
    e = html.escape
    tags = [f'<link rel="canonical" href="{e(url)}">',
            f'<meta name="description" content="{e(description)}">',
            '<meta property="og:type" content="article">',
            f'<meta property="og:site_name" content="{e(settings.newsletter.name)}">',
            f'<meta property="og:title" content="{e(title)}">',
            f'<meta property="og:description" content="{e(description)}">',
            f'<meta property="og:url" content="{e(url)}">',
            f'<meta name="twitter:card" content="{"summary_large_image" if image else "summary"}">',
            f'<meta name="twitter:title" content="{e(title)}">',
            f'<meta name="twitter:description" content="{e(description)}">']
    if image:
        tags += [f'<meta property="og:image" content="{e(image)}">',
                 f'<meta name="twitter:image" content="{e(image)}">']
        if image_alt:
            tags += [f'<meta property="og:image:alt" content="{e(image_alt)}">',
                     f'<meta name="twitter:image:alt" content="{e(image_alt)}">']
    return "".join(tags)


_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
_BODY_START = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_TITLE = re.compile(r"<title>.*?</title>", re.IGNORECASE | re.DOTALL)


def wrap_issue(settings: Settings, web: str, *, title: str, head: str, links: Links, nav: str, form: str) -> str:
    """An issue's web version (a whole page of its own) with the site's header, nav, form and meta around it."""
    head_extra = f"{head}{_feed_link(settings, links)}<style>{_css(settings)}</style>"
    if _TITLE.search(web):
        web = _TITLE.sub(lambda _: f"<title>{html.escape(title)}</title>", web, count=1)
    else:
        head_extra = f"<title>{html.escape(title)}</title>" + head_extra
    if not (_HEAD_END.search(web) and _BODY_START.search(web) and _BODY_END.search(web)):
        return page_html(settings, title=title, main=web + nav, links=links, form=form, head=head)
    web = _HEAD_END.sub(lambda m: head_extra + m.group(0), web, count=1)
    web = _BODY_START.sub(lambda m: m.group(0) + site_header(settings, links) + "<main>", web, count=1)
    tail = f'</main><div class="dg-site">{nav}</div>{form}{_feed_footer(settings, links)}'
    index = [m for m in _BODY_END.finditer(web)][-1].start()
    return web[:index] + tail + web[index:]
