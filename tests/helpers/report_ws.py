"""A workspace with several sent issues and what followed them: bounces, a complaint, unsubscribes, clicks."""

from __future__ import annotations

import asyncio
import html
import time
from email.utils import formatdate
from pathlib import Path

from digest.app.context import Context
from digest.app.send import send_to_lists
from digest.cli import main
from digest.deliver.sender import SendOptions
from digest.deliver.transport import MemoryTransport
from digest.store.bounces import BounceEvent
from tests.conftest import write_list

STORIES = [
    [("Harbour Reopens After Storm", "harbour"), ("Night Market Returns", "market"), ("Choir Wins Prize", "choir")],
    [("Council Approves Library: 5 < 7 & <i>more</i>", "library"), ("Ferry Timetable Changes", "ferry"),
     ("Bakery Turns 100", "bakery")],
    [("Bridge Repairs Finished", "bridge"), ("Winter Festival Programme", "festival"), ("New Bus Line 7", "bus")],
]


def _feed(issue: int, stories: list[tuple[str, str]]) -> str:
    items = "".join(
        f"<item><title>{html.escape(title)}</title>"
        f"<link>https://town.example.org/{slug}</link>"
        f"<pubDate>{formatdate(time.time() + issue * 60 - n, usegmt=True)}</pubDate>"
        f"<description>{title} — the story in a few words, told for issue {issue}.</description></item>"
        for n, (title, slug) in enumerate(stories))
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Town Desk</title>'
            f"<link>https://town.example.org/</link><description>x</description>{items}</channel></rss>")


def make_report_workspace(workspace: Path, runner) -> Context:  # type: ignore[no-untyped-def]
    """Three issues sent to a list of 12 (clicks counted), then bounces, a complaint, unsubscribes and clicks."""
    with (workspace / "digest.toml").open("a", encoding="utf-8") as f:
        f.write("\n[tracking]\nclicks = true\n")
    for page in (workspace / "pages").iterdir():
        page.unlink()
    emails = write_list(workspace / "subscribers" / "town.csv", 12, domain="example.com")
    ctx = Context(workspace)
    for issue, stories in enumerate(STORIES, start=1):
        for old in (workspace / "pages").iterdir():
            old.unlink()
        (workspace / "pages" / f"town-{issue}.rss").write_text(_feed(issue, stories))
        result = runner.invoke(main, ["build"])
        assert result.exit_code == 0, result.output + result.stderr
        asyncio.run(send_to_lists(ctx, workspace / "issues" / str(issue), [workspace / "subscribers" / "town.csv"],
                                  options=SendOptions(), on_problem=print, transport=MemoryTransport()))
    now = time.time()
    events = [BounceEvent(emails[0], "hard", "dsn", "r1", issue=1, status="5.1.1"),
              BounceEvent(emails[1], "soft", "dsn", "r2", issue=1, status="4.2.2"),
              BounceEvent(emails[2], "complaint", "arf", "r3", issue=2, status="abuse"),
              BounceEvent(emails[3], "unsubscribe", "mailto", "r4", issue=3, list_name="town")]
    for event in events:
        ctx.store.record_bounce(event, now=now)
    ctx.store.unsubscribe(emails[4], list_name="town", issue=2)
    for issue in (1, 2, 3):
        rendered_links = ctx.store.link_clicks(issue)  # nothing yet: clicks come below
        assert rendered_links == []
    from digest.app.issue_folder import load_issue

    for issue, humans in ((1, (5, 2, 1)), (2, (3, 4, 0)), (3, (6, 1, 2))):
        _, rendered = load_issue(workspace / "issues" / str(issue))
        for link, count in zip(rendered.links, humans, strict=False):
            for _ in range(count):
                ctx.store.record_click(issue=issue, link=link.link, url=link.url, at=now)
            ctx.store.record_click(issue=issue, link=link.link, url=link.url, machine="agent", at=now)
    return ctx
