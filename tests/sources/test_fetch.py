"""Fetching sources from real local web sites: validators and 304, gzip, redirects, limits, robots, the guard."""

from __future__ import annotations

import ssl
import time
from pathlib import Path
from typing import Any

import pytest

from digest.app.context import Context
from digest.app.fetching import cache_of, fetch_sources
from digest.core.sourcespec import SourceSpec
from digest.sources import articles_from
from tests.helpers.fetching import FEED, configure, fetch, only
from tests.http_sites import Handler, Site, article_page, drip, endless, http_date, rss, static

NOW = http_date(time.time() - 3600)
def test_second_fetch_sends_the_validators_and_a_304_downloads_nothing(workspace: Path):
    configure(workspace)
    with Site({"/feed.xml": static(FEED, etag='"v1"', last_modified=NOW)}) as site:
        first = only(fetch(workspace, site.url("/feed.xml"), kind="feed"))
        assert (first.outcome, first.status, first.size) == ("fetched", 200, len(FEED))
        second = only(fetch(workspace, site.url("/feed.xml"), kind="feed"))
        assert (second.outcome, second.status) == ("not_modified", 304)
        [one, two] = site.hits("/feed.xml")
        assert "if-none-match" not in one.headers and "if-modified-since" not in one.headers
        assert two.headers["if-none-match"] == '"v1"' and two.headers["if-modified-since"] == NOW
        assert two.status == 304
        assert one.headers["user-agent"].startswith("digest/") and "(+https://" in one.headers["user-agent"]
    # the cached body still builds the articles
    with Context(workspace) as ctx:
        found = articles_from(fetch_sources(ctx, [SourceSpec(site.url("/feed.xml"), kind="feed")], offline=True),
                              cache_of(ctx))
    assert [a.title for a in found.articles] == ["Harbour wall approved", "Ferry timetable changes"]


def test_last_modified_alone_is_sent_back(workspace: Path):
    configure(workspace)
    with Site({"/feed.xml": static(FEED, last_modified=NOW)}) as site:
        fetch(workspace, site.url("/feed.xml"), kind="feed")
        assert only(fetch(workspace, site.url("/feed.xml"), kind="feed")).outcome == "not_modified"
        assert site.hits("/feed.xml")[1].headers["if-modified-since"] == NOW


def test_gzip_is_asked_for_and_decoded(workspace: Path):
    configure(workspace)
    with Site({"/feed.xml": static(FEED, gzipped=True)}) as site:
        result = only(fetch(workspace, site.url("/feed.xml")))
        assert result.outcome == "fetched" and result.size == len(FEED)
        assert "gzip" in site.log[-1].headers["accept-encoding"] and "br" in site.log[-1].headers["accept-encoding"]


def test_a_redirect_chain_is_followed_and_a_permanent_one_reported(workspace: Path):
    configure(workspace)
    routes = {"/feed.xml": static(FEED),
              "/old": lambda h: h.redirect(301, "/older"), "/older": lambda h: h.redirect(308, "/feed.xml"),
              "/tmp": lambda h: h.redirect(302, "/old")}
    with Site(routes) as site:
        moved = only(fetch(workspace, site.url("/old"), kind="feed"))
        assert moved.outcome == "fetched" and moved.moved_to == site.url("/feed.xml")
        assert "update the URL" in moved.reason
        temporary = only(fetch(workspace, site.url("/tmp"), kind="feed"))
        assert temporary.outcome == "fetched" and temporary.moved_to == ""


def test_a_redirect_loop_and_too_many_redirects_fail(workspace: Path):
    configure(workspace, max_redirects=3)
    routes: dict[str, Any] = {"/a": lambda h: h.redirect(302, "/b"), "/b": lambda h: h.redirect(302, "/a")}
    for i in range(6):
        routes[f"/hop{i}"] = (lambda n: lambda h: h.redirect(302, f"/hop{n + 1}"))(i)
    with Site(routes) as site:
        loop = only(fetch(workspace, site.url("/a"), kind="feed"))
        assert loop.outcome == "failed" and "redirect loop" in loop.reason
        long = only(fetch(workspace, site.url("/hop0"), kind="feed"))
        assert long.outcome == "failed" and "more than 3 redirects" in long.reason
        assert len(site.hits("/hop3")) == 1 and not site.hits("/hop4")


def test_https_redirecting_down_to_http_is_refused(workspace: Path, tmp_path: Path, monkeypatch):
    from tests.helpers.tls import self_signed

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    configure(workspace)
    with Site({"/feed.xml": static(FEED)}) as plain:
        with Site({"/feed.xml": static(FEED), "/down": lambda h: h.redirect(302, plain.url("/feed.xml"))},
                  tls=context) as secure:
            assert only(fetch(workspace, secure.url("/feed.xml"))).outcome == "fetched"  # TLS itself works
            down = only(fetch(workspace, secure.url("/down")))
        assert down.outcome == "refused" and "https down to http" in down.reason
        assert plain.log == []


def test_429_waits_for_retry_after_then_a_long_one_skips(workspace: Path):
    configure(workspace, retry_after_max=5)
    calls = {"n": 0}

    def busy_once(h: Handler) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            h.answer(429, b"slow down", "text/plain", {"Retry-After": "1"})
        else:
            static(FEED)(h)

    routes = {"/busy": busy_once,
              "/later": lambda h: h.answer(503, b"", headers={"Retry-After": http_date(time.time() + 3600)})}
    with Site(routes) as site:
        started = time.monotonic()
        assert only(fetch(workspace, site.url("/busy"), kind="feed")).outcome == "fetched"
        assert time.monotonic() - started >= 0.9 and len(site.hits("/busy")) == 2
        later = only(fetch(workspace, site.url("/later"), kind="feed"))
        assert later.outcome == "skipped" and "service unavailable" in later.reason and later.status == 503
        assert len(site.hits("/later")) == 1


def test_410_is_reported_as_gone(workspace: Path):
    configure(workspace)
    with Site({"/feed.xml": lambda h: h.answer(410, b"gone")}) as site:
        gone = only(fetch(workspace, site.url("/feed.xml"), kind="feed"))
    assert gone.outcome == "gone" and "take it out" in gone.reason


def test_a_slow_drip_hits_the_whole_request_timeout(workspace: Path):
    configure(workspace, timeout=1)
    with Site({"/slow": drip(5, step=0.1)}) as site:
        started = time.monotonic()
        slow = only(fetch(workspace, site.url("/slow"), kind="feed"))
    assert slow.outcome == "failed" and slow.reason.startswith("timeout")
    assert time.monotonic() - started < 4


def test_an_endless_body_is_abandoned_at_the_size_cap(workspace: Path):
    configure(workspace, max_bytes=200_000)
    with Site({"/endless": endless()}) as site:
        big = only(fetch(workspace, site.url("/endless"), kind="feed"))
    assert big.outcome == "failed" and "too large" in big.reason and "while streaming" in big.reason


def test_a_declared_length_over_the_cap_is_refused_before_reading(workspace: Path):
    configure(workspace, max_bytes=1024)
    with Site({"/big": static(b"<rss>" + b"x" * 5000 + b"</rss>")}) as site:
        big = only(fetch(workspace, site.url("/big"), kind="feed"))
    assert big.outcome == "failed" and "declared" in big.reason


def test_robots_txt_disallows_a_page_and_is_fetched_once_per_host(workspace: Path):
    configure(workspace)
    routes = {"/robots.txt": static(b"User-agent: *\nDisallow: /private/\n", "text/plain"),
              "/private/a.html": static(article_page("Secret plan"), "text/html"),
              "/public/a.html": static(article_page("Open plan"), "text/html"),
              "/public/b.html": static(article_page("Other plan"), "text/html")}
    with Site(routes) as site:
        report = fetch(workspace, site.url("/private/a.html"), site.url("/public/a.html"), site.url("/public/b.html"))
        private, public, other = report.results
        assert private.outcome == "refused" and "robots.txt" in private.reason
        assert public.outcome == other.outcome == "fetched"
        assert site.hits("/private/a.html") == [] and len(site.hits("/robots.txt")) == 1


def test_a_full_text_feed_brings_its_article_pages(workspace: Path):
    configure(workspace)
    routes: dict[str, Any] = {}
    with Site(routes) as site:
        entries = [(f"Story {i}", site.url(f"/a/{i}.html"), f"Tue, 2{i} Nov 2026 08:00:00 GMT") for i in range(1, 4)]
        routes["/feed.xml"] = static(rss("Local", entries))
        for i in (1, 2):
            routes[f"/a/{i}.html"] = static(article_page(f"Story {i} in full", date=f"2026-11-2{i}"), "text/html")
        routes["/robots.txt"] = static(b"User-agent: *\nDisallow: /a/2.html\n", "text/plain")
        with Context(workspace) as ctx:
            spec = SourceSpec(site.url("/feed.xml"), kind="feed", full_text=True, max_items=5)
            report = fetch_sources(ctx, [spec])
            found = articles_from(report, cache_of(ctx))
        pages = {p.url: p for p in only(report).pages}
        assert "robots.txt" in pages[site.url("/a/2.html")].reason
        assert "404" in pages[site.url("/a/3.html")].reason
        assert site.hits("/a/2.html") == []
    by_title = {a.title: a for a in found.articles}
    story1 = by_title["Story 1 in full"]
    assert story1.kind == "html" and len(story1.paragraphs) == 3 and story1.url == site.url("/a/1.html")
    # the ones without a page keep the feed's summary, with a warning saying why
    assert by_title["Story 2"].kind == "feed" and by_title["Story 3"].kind == "feed"
    assert any("robots.txt" in w for w in found.warnings)


def test_the_guard_refuses_loopback_and_never_sends_the_request(workspace: Path):
    configure(workspace, allow_private_networks=False)
    with Site({"/feed.xml": static(FEED)}) as site:
        report = fetch(workspace, site.url("/feed.xml"), f"http://localhost:{site.port}/feed.xml", kind="feed")
        assert site.log == []
    for result in report.results:
        assert result.outcome == "refused" and "loopback" in result.reason
        assert "allow_private_networks" in result.reason


def test_the_guard_checks_every_redirect_hop(workspace: Path):
    """A redirect from an allowed host to a refused one: the second hop's connection is checked too."""
    from digest.sources.guard import GuardedBackend

    configure(workspace)
    with Site({"/feed.xml": static(FEED)}) as inner:
        with Site({"/jump": lambda h: h.redirect(302, f"http://localhost:{inner.port}/feed.xml")}) as outer:
            original = GuardedBackend.connect_tcp

            async def only_outer(self, host, port, **kwargs):  # the outer site plays a public host
                self.allow_private = port == outer.port
                return await original(self, host, port, **kwargs)

            GuardedBackend.connect_tcp = only_outer  # type: ignore[method-assign]
            try:
                jump = only(fetch(workspace, outer.url("/jump"), kind="feed"))
            finally:
                GuardedBackend.connect_tcp = original  # type: ignore[method-assign]
        assert len(outer.log) == 1 and inner.log == []
    assert jump.outcome == "refused" and "loopback" in jump.reason


def test_a_down_site_and_a_bad_body_are_failures_not_crashes(workspace: Path):
    configure(workspace, connect_timeout=2)
    with Site({"/x": static(b"\x00\x01binary" * 50, "application/octet-stream")}) as site:
        dead = Site({})
        dead_url = dead.url("/feed.xml")
        dead.stop()
        report = fetch(workspace, dead_url, site.url("/x"), kind="feed")
        with Context(workspace) as ctx:
            found = articles_from(report, cache_of(ctx))
    down, binary = report.results
    assert down.outcome == "failed" and "refused" in down.reason
    assert binary.outcome == "fetched"
    assert [str(e) for e in found.errors] == [f"{dead_url}: failed: connection refused",
                                              f"{site.url('/x')}: malformed: binary file, not text"]


def test_offline_without_a_cache_says_so(workspace: Path):
    result = only(fetch(workspace, "https://example.org/feed.xml", offline=True))
    assert result.outcome == "failed" and "not in the cache" in result.reason


@pytest.mark.parametrize("url", ["ftp://example.org/feed", "file:///etc/passwd", "http://", "https://exa mple.org/"])
def test_only_http_and_https_urls_are_sources(workspace: Path, url: str):
    from digest.core.errors import ConfigError
    from digest.sources import check_url

    with pytest.raises(ConfigError):
        check_url(url)


def test_dns_and_untrusted_tls_failures_are_one_line_reasons(workspace: Path, tmp_path: Path):
    from tests.helpers.tls import self_signed

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    configure(workspace, connect_timeout=3)
    with Site({"/feed.xml": static(FEED)}, tls=context) as secure:
        nowhere, untrusted = fetch(workspace, "http://no-such-host.invalid/feed.xml", secure.url("/feed.xml"),
                                   kind="feed").results
    assert (nowhere.outcome, nowhere.reason) == ("failed", "DNS: the host name does not resolve")
    assert untrusted.outcome == "failed" and untrusted.reason.startswith("TLS: certificate not trusted")


def test_a_304_nobody_asked_for_is_a_failure_not_a_crash(workspace: Path):
    configure(workspace)
    with Site({"/feed.xml": lambda h: h.answer(304)}) as site:
        odd = only(fetch(workspace, site.url("/feed.xml"), kind="feed"))
    assert odd.outcome == "failed" and "no validators" in odd.reason


def test_the_guard_answers_before_connecting_so_closed_ports_cannot_be_told_from_open_ones(workspace: Path):
    configure(workspace, allow_private_networks=False)
    with Site({"/feed.xml": static(FEED)}) as site:
        closed = Site({})
        closed_url = closed.url("/feed.xml")
        closed.stop()
        open_port, closed_port = fetch(workspace, site.url("/feed.xml"), closed_url, kind="feed").results
    assert open_port.outcome == closed_port.outcome == "refused"
    assert open_port.reason == closed_port.reason and "loopback" in open_port.reason
