"""Building from web sources: one site down still builds, --offline rebuilds exactly, duplicates merge, the CLI."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from digest.cli import main
from digest.core.model import Article
from digest.curate.dedupe import merge_duplicates
from tests.helpers.fetching import configure
from tests.http_sites import Site, article_page, rss, static


def three_sites() -> tuple[Site, Site, str]:
    """A feed site, an article site, and the URL of a site that is down."""
    pages = Site({})
    pages.routes["/harbour.html"] = static(article_page("Harbour wall approved after long debate"), "text/html")
    feed = rss("Coast News", [
        ("Harbour wall approved after long debate", pages.url("/harbour.html"), "Tue, 24 Nov 2026 08:00:00 GMT"),
        ("Ferry timetable changes for winter", "https://coast.example/ferry", "Mon, 23 Nov 2026 08:00:00 GMT"),
        ("Lighthouse reopens to visitors", "https://coast.example/lighthouse", "Sun, 22 Nov 2026 08:00:00 GMT")])
    feeds = Site({"/feed.xml": static(feed, etag='"f1"')})
    down = Site({})
    down_url = down.url("/rss.xml")
    down.stop()
    return feeds, pages, down_url


def issue_json(root: Path) -> dict[str, Any]:
    [folder] = (root / "issues").iterdir()
    return json.loads((folder / "issue.json").read_text())


def test_a_build_from_three_sites_with_one_down_names_it_and_builds_from_the_rest(workspace: Path, runner):
    shutil.rmtree(workspace / "pages")
    feeds, pages, down_url = three_sites()
    with feeds, pages:
        configure(workspace, connect_timeout=2, sources=[
            {"url": feeds.url("/feed.xml"), "kind": "feed"},
            {"url": pages.url("/harbour.html"), "kind": "page"},
            {"url": down_url}])
        result = runner.invoke(main, ["build"])
        assert result.exit_code == 0, result.output
        assert f"skipped {down_url}: failed: connection refused" in result.stderr
        issue = issue_json(workspace)
        html = (workspace / "issues" / "1" / "issue.html").read_bytes()
        # the lead is the article page; its feed entry (same URL) is merged into it, not repeated
        assert issue["lead"]["title"] == "Harbour wall approved after long debate"
        assert issue["lead"]["kind"] == "html" and issue["lead"]["published"].startswith("2026-11-24")
        assert [t["title"] for t in issue["top_news"]] == ["Ferry timetable changes for winter",
                                                         "Lighthouse reopens to visitors"]
        # strict: the down site is an error
        strict = runner.invoke(main, ["build", "--strict"])
        assert strict.exit_code == 2 and down_url in strict.stderr
    # the sites are gone: --offline rebuilds the same issue from the cache, byte for byte
    offline = runner.invoke(main, ["build", "--offline"])
    assert offline.exit_code == 0, offline.output
    assert (workspace / "issues" / "1" / "issue.html").read_bytes() == html
    assert "not in the cache" in offline.stderr  # the site that was down never gave anything
    # and online now, every source fails: nothing to build from is an error
    dead = runner.invoke(main, ["build"])
    assert dead.exit_code == 2 and "digest: error:" in dead.stderr


def test_fetch_prints_one_line_per_source_and_a_second_run_is_not_modified(workspace: Path, runner):
    feeds, pages, down_url = three_sites()
    with feeds, pages:
        configure(workspace, connect_timeout=2, sources=[{"url": feeds.url("/feed.xml"), "kind": "feed"},
                                                         {"url": down_url, "kind": "feed"}])
        first = runner.invoke(main, ["fetch"])
        assert first.exit_code == 0, first.output
        *lines, summary = first.stdout.splitlines()  # one line per source as each finishes, then a summary
        [good] = [line for line in lines if feeds.url("/feed.xml") in line]
        [bad] = [line for line in lines if down_url in line]
        assert good.startswith("fetched") and " 200 " in good and "KB" in good
        assert bad.startswith("failed") and "connection refused" in bad
        assert "1 fetched, 0 not modified, 1 failed" in summary
        second = runner.invoke(main, ["fetch", feeds.url("/feed.xml")])
        assert second.stdout.startswith("not modified  304")
        assert runner.invoke(main, ["fetch", "--strict"]).exit_code == 2
        everything_down = runner.invoke(main, ["fetch", down_url])
        assert everything_down.exit_code == 2 and "every source failed" in everything_down.stderr
        assert runner.invoke(main, ["fetch", "file:///etc/passwd"]).exit_code == 2


def test_no_sources_at_all_is_an_error(workspace: Path, runner):
    shutil.rmtree(workspace / "pages")
    result = runner.invoke(main, ["fetch"])
    assert result.exit_code == 2 and "no sources" in result.stderr


def test_urls_as_sources_of_build_and_collect(workspace: Path, runner):
    feeds, pages, _ = three_sites()
    with feeds, pages:
        configure(workspace)
        listed = runner.invoke(main, ["collect", "--json", feeds.url("/feed.xml"), "pages"])
        assert listed.exit_code == 0, listed.output
        kinds = [a["kind"] for a in json.loads(listed.stdout)]
        assert kinds == ["page", "feed", "feed", "feed"]
        built = runner.invoke(main, ["build", pages.url("/harbour.html"), "--lead", "Harbour"])
        assert built.exit_code == 0, built.output
        assert issue_json(workspace)["lead"]["url"] == pages.url("/harbour.html")
        assert runner.invoke(main, ["build", "gopher://x.example/feed"]).exit_code == 2


def test_the_same_story_through_a_feed_and_a_page_is_one_article_the_fuller_one():
    when = datetime(2026, 11, 24, 8)
    feed = Article("feed-a", "feed", "Harbour wall approved after debate",
                   url="https://www.coast.example/h?utm_source=rss", published=when, paragraphs=("Short summary.",))
    again = Article("feed-b", "feed", "Harbour Wall Approved after Debate!", url="https://other.example/syndicated",
                    paragraphs=("Short.",))
    page = Article("page", "html", "Harbour wall approved after debate", url="https://coast.example/h/",
                   paragraphs=("The council agreed the plan.", "It costs a lot."))
    other = Article("feed-a", "feed", "Ferry changes", url="https://coast.example/f")
    kept, merged = merge_duplicates([feed, again, page, other])
    assert [a.origin for a in kept] == ["page", "feed-a"]
    assert kept[0].published == when  # the page had no date: the feed's is kept
    assert sorted((m.origin, m.kept, m.why) for m in merged) == [("feed-a", "page", "same URL"),
                                                                 ("feed-b", "feed-a", "same title")]


def test_two_fetches_at_once_share_the_cache_safely(workspace: Path, runner):
    import subprocess
    import sys

    routes: dict[str, Any] = {}
    with Site(routes) as site:
        for i in range(12):
            routes[f"/f{i}.xml"] = static(rss(f"Feed {i}", [(f"Story {i}", f"https://x.example/{i}",
                                                            "Tue, 24 Nov 2026 08:00:00 GMT")]), etag=f'"e{i}"')
        configure(workspace, sources=[{"url": site.url(f"/f{i}.xml"), "kind": "feed"} for i in range(12)])
        both = [subprocess.Popen([sys.executable, "-m", "digest", "fetch"], cwd=workspace, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [p.communicate(timeout=120) for p in both]
        assert [p.returncode for p in both] == [0, 0], outputs
        again = runner.invoke(main, ["fetch"])
        assert again.exit_code == 0 and "0 fetched, 12 not modified, 0 failed" in again.stdout
    shutil.rmtree(workspace / "pages")
    offline = runner.invoke(main, ["build", "--offline"])
    assert offline.exit_code == 0, offline.output
    assert len(issue_json(workspace)["top_news"]) == 6
