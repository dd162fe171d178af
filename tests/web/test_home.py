"""The archive as the home page: branding, pages, the form, share meta, the feed's content, the sitemap."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
from pathlib import Path

import feedparser
import pytest
from starlette.testclient import TestClient

from digest.app.context import Context
from digest.app.send import send_to_lists
from digest.cli import main
from digest.core.errors import ConfigError
from digest.core.settings import Newsletter, Settings
from digest.core.settingscheck import check_settings
from digest.deliver.sender import SendOptions
from digest.deliver.transport import MemoryTransport
from digest.web.archive import ArchivedIssue, index_page, sitemap
from digest.web.server import create_app

LOCAL = "http://127.0.0.1"


def _sent(workspace: Path, runner, *, description: str = "") -> Context:
    if description:
        toml = workspace / "digest.toml"
        toml.write_text(toml.read_text().replace("[newsletter]\n", f'[newsletter]\ndescription = "{description}"\n', 1))
    assert runner.invoke(main, ["build"]).exit_code == 0
    ws = Context(workspace)
    asyncio.run(send_to_lists(ws, workspace / "issues" / "1", [workspace / "subscribers" / "example.csv"],
                              options=SendOptions(), on_problem=print, transport=MemoryTransport()))
    return ws


def test_home_page_issue_page_feed_and_sitemap(workspace: Path, runner):
    ws = _sent(workspace, runner, description="Science news from Central Asia, <b>every</b> week.")
    client = TestClient(create_app(ws), base_url=LOCAL)
    home = client.get("/archive/").text
    assert "Science news from Central Asia, &lt;b&gt;every&lt;/b&gt; week." in home  # escaped, shown
    assert '<link rel="alternate" type="application/atom+xml" href="/archive/feed.xml"' in home
    assert '<form method="post" action="/subscribe">' in home and 'name="list" value="example"' in home
    assert "<script" not in home.lower()
    assert re.search(r"Issue 1: Science &amp; Cooperation Weekly: China", home)
    page = client.get("/archive/1").text
    assert '<link rel="canonical" href="https://news.example.com/archive/1">' in page
    assert '<meta property="og:title" content="Science &amp; Cooperation Weekly: China' in page
    assert '<meta name="twitter:card"' in page and '<meta property="og:description"' in page
    assert "Science news from Central Asia" in page and 'action="/subscribe"' in page  # same header and form
    assert "All issues" in page and "<script" not in page.lower()
    assert client.get("/archive/page/2/").status_code == 404  # one page only
    feed = feedparser.parse(client.get("/archive/feed.xml").content)
    assert not feed.bozo
    [entry] = feed.entries
    assert "China, Central Asian Countries Share High-quality Development" in entry.content[0].value
    assert entry.content[0].type == "text/html" and entry.published_parsed
    site_map = client.get("/archive/sitemap.xml").text
    assert "<loc>https://news.example.com/archive/1</loc>" in site_map


def test_pages_of_twenty_newest_first_with_links_both_ways():
    settings = Settings()
    issues = [ArchivedIssue(n, f"Subject {n}", f"Pre {n}", f"2026-01-{n % 28 + 1:02d}T08:00:00Z")
              for n in range(45, 0, -1)]
    first = index_page(settings, issues)
    assert "Issue 45:" in first and "Issue 26:" in first and "Issue 25:" not in first
    assert 'href="/archive/page/2/" rel="next">Older issues' in first and "Newer issues" not in first
    second = index_page(settings, issues, page=2)
    assert "Issue 25:" in second and 'href="/archive/" rel="prev">Newer' in second
    assert 'href="/archive/page/3/" rel="next"' in second
    static = index_page(settings, issues, page=3, relative=True)
    assert 'href="../../5/"' in static and 'href="../../page/2/" rel="prev"' in static
    assert "Older issues" not in static
    assert sitemap(settings, issues).count("<url>") == 1 + 2 + 45


def test_untrusted_subjects_and_list_names_are_text():
    evil = '"><script>alert(1)</script>'
    settings = dataclasses.replace(Settings(), newsletter=Newsletter(name=evil, description=evil))
    page = index_page(settings, [ArchivedIssue(1, evil, evil, "2026-01-01T00:00:00Z")], lists=(evil, "b"))
    assert "<script>" not in page and html.escape(evil) in page


def test_description_must_be_one_short_paragraph():
    for bad in ("line\nbreak", "x" * 501, "bell\x07"):
        settings = dataclasses.replace(Settings(), newsletter=Newsletter(description=bad))
        with pytest.raises(ConfigError, match="description"):
            check_settings(settings, "digest.toml")


def test_issue_pages_link_to_the_previous_and_next_issue(workspace: Path, runner):
    ws = _sent(workspace, runner)
    ws.close()
    (workspace / "pages" / "next.txt").write_text("Another Story\n\nSource: Wire | 2026-11-27\n\nMore news.\n")
    assert runner.invoke(main, ["build"]).exit_code == 0
    assert runner.invoke(main, ["send", "--list", "example"]).exit_code == 0
    client = TestClient(create_app(Context(workspace)), base_url=LOCAL)
    first, second = client.get("/archive/1").text, client.get("/archive/2").text
    assert 'href="/archive/2" rel="next">Next issue:' in first and 'rel="prev"' not in first
    assert 'href="/archive/1" rel="prev">Previous issue:' in second and 'rel="next"' not in second
    home = client.get("/archive/").text
    assert home.index("Issue 2:") < home.index("Issue 1:")  # newest first


def test_page_one_of_the_archive_is_the_home_page(workspace: Path, runner):
    ws = Context(workspace)
    client = TestClient(create_app(ws), base_url=LOCAL)
    moved = client.get("/archive/page/1/", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == "/archive/"
