"""The archive of sent issues: web versions (not personalised), an index, and an Atom feed."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

# escape() writes the Atom feed; nothing here parses XML.
from xml.sax.saxutils import escape as xml_escape  # nosec B406

from digest.app.context import Context
from digest.app.issue_folder import load_issue
from digest.core.errors import IssueError
from digest.core.files import write_atomically
from digest.core.settings import Settings
from digest.render import fill_markers, render_web_version

__all__ = [
    "ArchivedIssue",
    "sent_issues",
    "web_version",
    "email_version",
    "index_page",
    "atom_feed",
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


def index_page(settings: Settings, issues: list[ArchivedIssue], *, relative: bool = False) -> str:
    """The archive index: every sent issue, newest first."""
    name = html.escape(settings.newsletter.name)
    items = "\n".join(
        f'<li><a href="{n.number}{"/" if relative else ""}">Issue {n.number}: {html.escape(n.subject)}</a>'
        f"<br><small>{html.escape(n.day)} · {html.escape(n.preheader)}</small></li>"
        for n in issues
    ) or "<li>No issue has been sent yet.</li>"
    return (
        f'<!DOCTYPE html><html lang="{html.escape(settings.newsletter.language)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{name} archive</title>'
        f'<link rel="alternate" type="application/atom+xml" href="feed.xml" title="{name}">'
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}"
        "li{margin:0 0 1rem}</style></head>"
        f"<body><h1>{name}</h1><p>Past issues</p><ul>{items}</ul>"
        f'<p><a href="feed.xml">Atom feed</a></p></body></html>'
    )


def _day_start(day: str, settings: Settings) -> str:
    """An issue's date as an RFC 3339 moment: its first minute in the newsletter's time zone."""
    try:
        start = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=settings.newsletter.zone)
    except ValueError:
        return day
    return start.isoformat()


def atom_feed(settings: Settings, issues: list[ArchivedIssue]) -> str:
    """An Atom 1.0 feed (RFC 4287) of the sent issues."""
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
        "</entry>"
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
    """Write the archive as static files: index.html, <n>/index.html, feed.xml."""
    settings = ctx.settings
    issues = sent_issues(ctx)
    written = [out / "index.html", out / "feed.xml"]
    write_atomically(written[0], index_page(settings, issues, relative=True))
    write_atomically(written[1], atom_feed(settings, issues))
    for issue in issues:
        path = out / str(issue.number) / "index.html"
        write_atomically(path, web_version(ctx, issue.number))
        written.append(path)
    return written
