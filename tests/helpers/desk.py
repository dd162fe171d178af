"""A week of local news (two pages, one with a Top News block, and a feed) for the plan and run tests."""

from __future__ import annotations

from pathlib import Path

from digest.cli import main

HARBOUR = """position: News > Local > Article

Harbour Reopens After Storm

Source: Harbour Gazette | 2026-11-26 10:00:00 | Author: Ada Berg

The harbour reopened on Thursday after three days of storm damage repairs.

Ferries resume their normal timetable next week, the port authority said.

Top News

Ferry Timetable Changes

Winter ferries leave twenty minutes earlier from December.
"""


COUNCIL = """position: News > Politics > Article

Council Approves New Library

Source: Harbour Gazette | 2026-11-25 09:00:00

The council voted to build a new library on the old market square.

Construction starts in spring.
"""


FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Town Desk</title><link>https://news.example.com/</link><description>x</description>
<item><title>Night Market Returns</title><link>https://news.example.com/market</link>
<pubDate>Tue, 24 Nov 2026 18:00:00 GMT</pubDate><description>Stalls are back on Fridays.</description></item>
<item><title>School Choir Wins Prize</title><link>https://news.example.com/choir</link>
<pubDate>Mon, 23 Nov 2026 12:00:00 GMT</pubDate><description>The choir won the regional contest.</description></item>
</channel></rss>
"""


def make_desk(workspace: Path) -> Path:
    """Fill the workspace's pages/ with the week of local news."""
    for page in (workspace / "pages").iterdir():
        page.unlink()
    (workspace / "pages" / "a-harbour.txt").write_text(HARBOUR)
    (workspace / "pages" / "b-council.txt").write_text(COUNCIL)
    (workspace / "pages" / "c-feed.rss").write_text(FEED)
    return workspace


def build(runner, *args: str):  # type: ignore[no-untyped-def]
    """`digest build ARGS` through click's runner; it must succeed."""
    result = runner.invoke(main, ["build", *args])
    assert result.exit_code == 0, result.output + result.stderr
    return result
