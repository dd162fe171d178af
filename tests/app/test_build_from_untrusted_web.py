"""Building from web sources, attacked: plans that name URLs, canonical links from other sites, the preview,
warnings and links of fetched feeds, big feeds, passwords in URLs, the order of `digest fetch`, pruning."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from digest.app.context import Context
from digest.app.fetching import cache_of, fetch_sources
from digest.cli import main
from digest.core.sourcespec import SourceSpec
from digest.sources import articles_from
from tests.helpers.fetching import configure, fetch, only
from tests.helpers.web import json_status
from tests.http_sites import Handler, Site, rss, static
from tests.web_helpers import free_port

WHEN = "Tue, 24 Nov 2026 08:00:00 GMT"
LEAD = "Harbour wall approved after a long debate"


def feed_site() -> Site:
    site = Site({})
    site.routes["/feed.xml"] = static(rss("Coast News", [
        (LEAD, site.url("/harbour.html"), WHEN),
        ("Ferry timetable changes for the winter", "https://coast.example/ferry", "Mon, 23 Nov 2026 08:00:00 GMT")]),
        etag='"f1"')
    return site


def plan_text(root: Path) -> str:
    return (root / "issues" / "1" / "plan.toml").read_text()


def test_a_plan_of_web_sources_names_their_urls_and_builds_from_any_folder(workspace: Path, runner, tmp_path,
                                                                           monkeypatch):
    shutil.rmtree(workspace / "pages")
    with feed_site() as site:
        configure(workspace, sources=[{"url": site.url("/feed.xml"), "kind": "feed"}])
        built = runner.invoke(main, ["build"])
        assert built.exit_code == 0, built.output
    assert f'source = "{site.url("/feed.xml")}"' in plan_text(workspace)  # a URL, not the path "http:/…"
    html = (workspace / "issues" / "1" / "issue.html").read_bytes()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    again = runner.invoke(main, ["-C", str(workspace), "build", "--offline"])
    assert again.exit_code == 0, again.output
    assert (workspace / "issues" / "1" / "issue.html").read_bytes() == html


def test_a_page_cannot_take_another_sites_article_by_its_canonical_link_and_merges_are_shown(workspace: Path,
                                                                                             runner):
    shutil.rmtree(workspace / "pages")
    other = "http://localhost:9/real-story.html"  # another site's article, listed by a feed
    page = (b"<!doctype html><html><head><title>Impostor page on the harbour wall</title>"
            b"<link rel='canonical' href='" + other.encode() + b"'><meta name='date' content='2026-11-24'></head>"
            b"<body><article><h1>Impostor page on the harbour wall</h1>"
            + b"<p>The impostor says many things about the wall, at length, again and again.</p>" * 6
            + b"</article></body></html>")
    site = Site({"/impostor.html": static(page, "text/html")})
    site.routes["/feed.xml"] = static(rss("Coast News", [
        ("The real story of the harbour vote", other, WHEN),
        ("Impostor page on the harbour wall", site.url("/impostor.html"), WHEN)]))
    with site:
        configure(workspace, sources=[{"url": site.url("/feed.xml"), "kind": "feed"},
                                      {"url": site.url("/impostor.html"), "kind": "page"}])
        built = runner.invoke(main, ["build"])
    assert built.exit_code == 0, built.output
    issue = json.loads((workspace / "issues" / "1" / "issue.json").read_text())
    assert issue["lead"]["url"] == site.url("/impostor.html")  # its own URL, not the other site's
    assert [t["title"] for t in issue["top_news"]] == ["The real story of the harbour vote"]
    assert f"its canonical URL {other} is on another site" in built.stderr
    # its own feed entry is the same article (same URL): merged, and said so
    assert "merged" in built.stdout and "Impostor page on the harbour wall" in built.stdout


def test_fetched_feeds_keep_their_warnings_and_resolve_relative_links(workspace: Path):
    configure(workspace)
    atom = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title>'
            b'<entry><title>A relative link story</title><link href="/a1.html"/>'
            b"<updated>2026-11-24T08:00:00Z</updated><summary>Short.</summary></entry></feed>")
    broken = rss("Broken", [("Bare ampersand & story", "https://example.org/b", WHEN)])  # a bare & in the title
    with Site({"/atom.xml": static(atom), "/broken.xml": static(broken)}) as site:
        report = fetch(workspace, site.url("/atom.xml"), site.url("/broken.xml"), kind="feed")
        with Context(workspace) as ctx:
            found = articles_from(report, cache_of(ctx))
    by_title = {a.title: a for a in found.articles}
    assert by_title["A relative link story"].url == site.url("/a1.html")
    assert any(w.startswith(site.url("/broken.xml")) and "malformed feed" in w for w in found.warnings)


def test_a_feed_of_thousands_of_entries_is_read_up_to_its_first_thousand(workspace: Path):
    configure(workspace)
    entries = [(f"Story number {i}", f"https://example.org/{i}", WHEN) for i in range(1500)]
    with Site({"/many.xml": static(rss("Many", entries))}) as site:
        with Context(workspace) as ctx:
            spec = SourceSpec(site.url("/many.xml"), kind="feed", max_items=5)
            found = articles_from(fetch_sources(ctx, [spec]), cache_of(ctx))
    assert len(found.articles) == 5
    assert any("more than 1000 entries; only the first 1000 are read" in w for w in found.warnings)


def test_a_password_in_a_source_url_is_used_but_never_printed_or_written_to_the_plan(workspace: Path, runner):
    shutil.rmtree(workspace / "pages")
    with feed_site() as site:
        secret = site.url("/feed.xml").replace("http://", "http://reader:s3cret@")
        configure(workspace, sources=[{"url": secret, "kind": "feed"}])
        fetched = runner.invoke(main, ["fetch"])
        built = runner.invoke(main, ["build"])
        assert site.hits("/feed.xml")[0].headers["authorization"].startswith("Basic ")  # still sent to the site
    assert fetched.exit_code == 0 and built.exit_code == 0, built.output
    for output in (fetched.output, built.output):
        assert "s3cret" not in output
    assert site.url("/feed.xml") in fetched.stdout
    assert "s3cret" not in plan_text(workspace)
    assert "s3cret" not in (workspace / "issues" / "1" / "issue.json").read_text()


def test_fetch_prints_its_lines_in_the_order_of_the_sources(workspace: Path, runner):
    def slow(h: Handler) -> None:
        time.sleep(0.6)
        static(rss("Slow", [("Slow story of the week", "https://example.org/s", WHEN)]))(h)

    with Site({"/slow.xml": slow, "/fast.xml": static(rss("Fast", [("Fast one", "https://example.org/f", WHEN)]))}
              ) as site:
        configure(workspace, sources=[{"url": site.url("/slow.xml"), "kind": "feed"},
                                      {"url": site.url("/fast.xml"), "kind": "feed"}])
        result = runner.invoke(main, ["fetch"])
    assert result.exit_code == 0, result.output
    first, second, _summary = result.stdout.splitlines()
    assert site.url("/slow.xml") in first and site.url("/fast.xml") in second


def test_prune_deletes_the_bodies_no_record_points_to_and_offline_still_builds(workspace: Path, runner):
    routes: dict[str, Any] = {}
    with Site(routes) as site:
        routes["/feed.xml"] = static(rss("V1", [("First version of the story", "https://example.org/1", WHEN)]))
        configure(workspace, sources=[{"url": site.url("/feed.xml"), "kind": "feed"}])
        old = only(fetch(workspace, site.url("/feed.xml"), kind="feed"))
        routes["/feed.xml"] = static(rss("V2", [("Second version of the story", "https://example.org/2", WHEN)]))
        new = only(fetch(workspace, site.url("/feed.xml"), kind="feed"))
    with Context(workspace) as ctx:
        cache = cache_of(ctx)
    hour_ago = time.time() - 7200
    for digest in (old.body_sha256, new.body_sha256):
        os.utime(cache.path_of(digest), (hour_ago, hour_ago))
    pruned = runner.invoke(main, ["fetch", "--prune"])
    assert pruned.exit_code == 0 and "Pruned 1 cached body" in pruned.stdout, pruned.output
    assert not cache.path_of(old.body_sha256).exists() and cache.intact(new.body_sha256)
    built = runner.invoke(main, ["build", "--offline"])
    assert built.exit_code == 0, built.output
    assert "Second version of the story" in (workspace / "issues" / "1" / "issue.json").read_text()


def _preview(workspace: Path, *sources: str) -> dict[str, Any]:
    """Run `digest preview` as a user does, until its first build; its status."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "digest", "preview", "--port", str(port), *sources],
                               cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"digest preview exited: {process.communicate()[0]}")
            try:
                status = json_status(f"http://127.0.0.1:{port}")
            except OSError:
                time.sleep(0.2)
                continue
            if status["version"] >= 1:
                return status
            time.sleep(0.2)
        raise AssertionError("digest preview never built")
    finally:
        process.terminate()
        process.wait(30)


def test_preview_builds_web_sources_from_the_cache_and_never_fetches(workspace: Path, runner):
    shutil.rmtree(workspace / "pages")  # a workspace of [[sources]] only
    with feed_site() as site:
        configure(workspace, sources=[{"url": site.url("/feed.xml"), "kind": "feed"}])
        built = runner.invoke(main, ["build"])  # fetches, and writes the plan from the web sources
        assert built.exit_code == 0, built.output
        requests = len(site.log)
        configured = _preview(workspace)
        given = _preview(workspace, site.url("/feed.xml"))
        assert len(site.log) == requests  # a keystroke never costs a request
    assert configured["error"] is None and LEAD in configured["subject"]
    assert given["error"] is None and LEAD in given["subject"]
