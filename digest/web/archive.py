"""The archive of sent issues: web versions (not personalised), a paged index, an Atom feed, a sitemap."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

# escape() writes the Atom feed; nothing here parses XML.
from xml.sax.saxutils import escape as xml_escape  # nosec B406

from digest.app.context import Context
from digest.app.issue_folder import load_issue
from digest.back.signup import offered_lists
from digest.core.errors import IssueError, TemplateError
from digest.core.files import write_atomically
from digest.core.settings import Settings
from digest.render import fill_markers, render_web_version
from digest.web.home import PER_PAGE, Links, issue_list, page_html, pager, share_meta, subscribe_form, wrap_issue

__all__ = [
    "ArchivedIssue",
    "sent_issues",
    "web_version",
    "email_version",
    "index_page",
    "issue_page",
    "feed_content",
    "atom_feed",
    "sitemap",
    "pages_of",
    "export_archive",
]


@dataclass(frozen=True, slots=True)
class ArchivedIssue:
    """An issue that went out: its number, subject, preheader and when it was first sent."""

    number: int
    subject: str
    preheader: str
    sent_at: str
    date: str = ""  # the issue's own date (YYYY-MM-DD), as the email and the issue page show it

    @property
    def day(self) -> str:
        """The date the archive shows: the issue's own, else the day it was first sent."""
        return self.date or self.sent_at[:10]


def sent_issues(ctx: Context) -> list[ArchivedIssue]:
    """Issues with at least one delivered message and a build folder, newest first."""
    if not ctx.has_store():
        return []
    found = []
    for sent in ctx.store.sent_issues():
        try:
            issue, _ = load_issue(ctx.workspace.issues / str(sent.number))
        except IssueError:
            continue  # the folder was removed: nothing to show
        found.append(ArchivedIssue(sent.number, issue.subject, issue.preheader, sent.first_sent_at,
                                   issue.date.isoformat() if issue.date else ""))
    return found


def web_version(ctx: Context, number: int) -> str:
    """The issue's web version: the lead and the Top News articles without a URL in full.

    Rendered from issue.json with the workspace's templates; not personalised (no name, no
    address, no unsubscribe token). A template error is raised as a TemplateError.
    """
    issue, _ = load_issue(ctx.workspace.issues / str(number))
    return render_web_version(issue, ctx.settings, templates=ctx.workspace.templates)


def email_version(ctx: Context, number: int) -> str:
    """The issue's email HTML as anyone may see it: no name, no address, no unsubscribe token."""
    _, rendered = load_issue(ctx.workspace.issues / str(number))
    settings = ctx.settings
    values = []
    for field in rendered.fields:
        if field in ("unsubscribe_url", "manage_url"):
            values.append(html.escape(settings.newsletter.base_url, quote=True))
        else:
            values.append("")
    return fill_markers(rendered.html, rendered.marker, values)


def _base(settings: Settings) -> str:
    return settings.newsletter.base_url.rstrip("/")


def pages_of(issues: list[ArchivedIssue]) -> int:
    """How many pages the index has (at least one)."""
    return max(1, -(-len(issues) // PER_PAGE))


def index_page(settings: Settings, issues: list[ArchivedIssue], *, relative: bool = False, page: int = 1,
               lists: tuple[str, ...] = ("newsletter",)) -> str:
    """One page of the archive's home: the newsletter, its issues newest first, the subscribe form."""
    links = Links(static=relative, depth=0 if page == 1 else 2)
    shown = issues[(page - 1) * PER_PAGE:page * PER_PAGE]
    items = issue_list([(n.number, n.day, n.subject, n.preheader) for n in shown], links)
    pages = pages_of(issues)
    path = "" if page == 1 else f"page/{page}/"
    name = settings.newsletter.name
    head = share_meta(settings, title=name, description=settings.newsletter.description or f"Past issues of {name}",
                      url=f"{_base(settings)}/archive/{path}")
    main = f"<h1>Past issues</h1>{items}{pager(page, pages, links)}"
    title = name if page == 1 else f"{name}: past issues, page {page}"
    return page_html(settings, title=title, main=main, links=links, head=head,
                     form=subscribe_form(settings, lists, links))


def _lead_image(ctx: Context, number: int) -> tuple[str, str]:
    try:
        issue, _ = load_issue(ctx.workspace.issues / str(number))
    except IssueError:
        return "", ""
    image = issue.lead.image
    if image is None or not image.url.startswith("https://"):
        return "", ""
    return image.url, image.alt


def issue_page(ctx: Context, issues: list[ArchivedIssue], number: int, *, relative: bool = False,
               lists: tuple[str, ...] = ("newsletter",)) -> str:
    """An issue's page: its web version with the site's header, previous/next links, form and share meta.

    A broken workspace template does not take the page down: the email as it was sent is shown.
    """
    settings = ctx.settings
    position = next(i for i, n in enumerate(issues) if n.number == number)
    this = issues[position]
    try:
        web = web_version(ctx, number)
    except TemplateError:
        web = email_version(ctx, number)
    links = Links(static=relative, depth=1)
    newer = issues[position - 1] if position > 0 else None
    older = issues[position + 1] if position + 1 < len(issues) else None
    parts = []
    if older is not None:
        parts.append(f'<li><a href="{html.escape(links.to(str(older.number)))}" rel="prev">Previous issue: '
                     f"{html.escape(older.subject)}</a></li>")
    if newer is not None:
        parts.append(f'<li><a href="{html.escape(links.to(str(newer.number)))}" rel="next">Next issue: '
                     f"{html.escape(newer.subject)}</a></li>")
    parts.append(f'<li><a href="{html.escape(links.to(""))}">All issues</a></li>')
    nav = f'<nav aria-label="Issues"><ul>{"".join(parts)}</ul></nav>'
    image, alt = _lead_image(ctx, number)
    head = share_meta(settings, title=this.subject, description=this.preheader or settings.newsletter.description,
                      url=f"{_base(settings)}/archive/{number}", image=image, image_alt=alt)
    return wrap_issue(settings, web, title=this.subject, head=head, links=links, nav=nav,
                      form=subscribe_form(settings, lists, links))


_BODY = re.compile(r"<body\b[^>]*>(.*)</body\s*>", re.IGNORECASE | re.DOTALL)


def feed_content(ctx: Context, number: int) -> str:
    """What a feed entry carries: the body of the issue's web version (the email's when a template breaks)."""
    try:
        page = web_version(ctx, number)
    except TemplateError:
        page = email_version(ctx, number)
    except IssueError:
        return ""
    found = _BODY.search(page)
    return found.group(1) if found else page


def sitemap(settings: Settings, issues: list[ArchivedIssue]) -> str:
    """A sitemap (sitemaps.org 0.9) of the archive: the index, its pages and every issue."""
    base = _base(settings)
    urls = [(f"{base}/archive/", issues[0].sent_at[:10] if issues else "")]
    urls += [(f"{base}/archive/page/{p}/", "") for p in range(2, pages_of(issues) + 1)]
    urls += [(f"{base}/archive/{n.number}", n.sent_at[:10]) for n in issues]
    body = "".join(f"<url><loc>{xml_escape(u)}</loc>" + (f"<lastmod>{xml_escape(d)}</lastmod>" if d else "")
                   + "</url>" for u, d in urls)
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>\n')


def _day_start(day: str, settings: Settings) -> str:
    """An issue's date as an RFC 3339 moment: its first minute in the newsletter's time zone."""
    try:
        start = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=settings.newsletter.zone)
    except ValueError:
        return day
    return start.isoformat()


def atom_feed(settings: Settings, issues: list[ArchivedIssue], contents: dict[int, str] | None = None) -> str:
    """An Atom 1.0 feed (RFC 4287) of the sent issues; `contents`: each issue's web version (HTML)."""
    contents = contents or {}
    base = _base(settings)
    updated = issues[0].sent_at if issues else "1970-01-01T00:00:00Z"
    entries = "".join(
        "<entry>"
        f"<title>{xml_escape(n.subject)}</title>"
        f'<link rel="alternate" type="text/html" href="{xml_escape(base)}/archive/{n.number}"/>'
        f"<id>{xml_escape(base)}/archive/{n.number}</id>"
        f"<published>{xml_escape(_day_start(n.day, settings))}</published>"
        f"<updated>{xml_escape(n.sent_at)}</updated>"
        f"<summary>{xml_escape(n.preheader)}</summary>"
        + (f'<content type="html">{xml_escape(contents[n.number])}</content>' if contents.get(n.number) else "")
        + "</entry>"
        for n in issues
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{xml_escape(settings.newsletter.name)}</title>"
        f'<link rel="self" href="{xml_escape(base)}/archive/feed.xml"/>'
        f'<link rel="alternate" href="{xml_escape(base)}/archive/"/>'
        f"<id>{xml_escape(base)}/archive/</id>"
        f"<updated>{xml_escape(updated)}</updated>"
        f"<author><name>{xml_escape(settings.newsletter.name)}</name></author>"
        f"{entries}</feed>\n"
    )


def export_archive(ctx: Context, out: Path) -> list[Path]:
    """Write the archive as static files: index.html, page/N/index.html, N/index.html, feed.xml, sitemap.xml.

    The pages are the served ones (the same form, offering the same lists), with relative links.
    """
    settings = ctx.settings
    lists = offered_lists(settings.signup, subscribers=ctx.workspace.subscribers)
    issues = sent_issues(ctx)
    files: dict[Path, str] = {out / "index.html": index_page(settings, issues, relative=True, lists=lists)}
    for page in range(2, pages_of(issues) + 1):
        files[out / "page" / str(page) / "index.html"] = index_page(settings, issues, relative=True, page=page,
                                                                    lists=lists)
    for issue in issues:
        # Rendered first, so a broken template is an error here and not a page showing the email.
        web_version(ctx, issue.number)
        files[out / str(issue.number) / "index.html"] = issue_page(ctx, issues, issue.number, relative=True,
                                                                   lists=lists)
    contents = {n.number: feed_content(ctx, n.number) for n in issues}
    files[out / "feed.xml"] = atom_feed(settings, issues, contents)
    files[out / "sitemap.xml"] = sitemap(settings, issues)
    for path, text in files.items():
        write_atomically(path, text)
    return list(files)
