"""Hostile and broken answers from real local sites: each one source's problem, never the run's.

Validators that are no header values, redirects to malformed URLs, damaged cache files,
robots.txt on redirect hops, feeds known by their content only, proxies from the environment.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from digest.app.context import Context
from digest.app.fetching import cache_of, fetch_sources
from digest.cli import main
from digest.core.sourcespec import SourceSpec
from digest.sources import articles_from
from digest.sources.guard import RefusedAddress
from digest.store.fetchcache import FetchRecord
from tests.helpers.fetching import FEED, configure, fetch, only
from tests.http_sites import Handler, Proxy, Site, article_page, rss, static

GOOD = rss("Good", [("Harbour wall approved after long debate", "https://example.org/a/1",
                     "Tue, 24 Nov 2026 08:00:00 GMT")])


def odd_validators(h: Handler) -> None:
    """A 200 whose ETag and Last-Modified hold bytes over 0x7F (http.server writes them as Latin-1)."""
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("ETag", '"caf\xc3\xa9\xff"')
    h.send_header("Last-Modified", "Sat, 28 Nov 2026 \xe9")
    h.send_header("Content-Length", str(len(FEED)))
    h.end_headers()
    h.wfile.write(FEED)


def test_validators_that_are_no_header_values_are_not_sent_back_and_break_nothing(workspace: Path, runner):
    shutil.rmtree(workspace / "pages")
    with Site({"/odd.xml": odd_validators, "/good.xml": static(GOOD, etag='"g1"')}) as site:
        configure(workspace, sources=[{"url": site.url("/odd.xml"), "kind": "feed"},
                                      {"url": site.url("/good.xml"), "kind": "feed"}])
        for _ in range(3):  # the first fetch used to store them, and every later one crashed
            fetched = runner.invoke(main, ["fetch"])
            assert fetched.exit_code == 0 and "0 failed" in fetched.stdout, fetched.output
        for hit in site.hits("/odd.xml"):
            assert "if-none-match" not in hit.headers and "if-modified-since" not in hit.headers
        assert [h.status for h in site.hits("/good.xml")] == [200, 304, 304]
        # a validator stored by an older version is not sent either: the body comes whole
        with Context(workspace) as ctx:
            [record] = ctx.store.fetch_records([site.url("/good.xml")]).values()
            ctx.store.save_fetches([FetchRecord(record.url, record.final_url, '"caf\xe9"', "x\xff",
                                                record.content_type, record.body_sha256, record.size,
                                                record.fetched_at, record.checked_at)])
        built = runner.invoke(main, ["build"])
        assert built.exit_code == 0, built.output
        last = site.hits("/good.xml")[-1]
        assert "if-none-match" not in last.headers and last.status == 200
        assert runner.invoke(main, ["build"]).exit_code == 0


def test_a_redirect_to_a_malformed_url_fails_that_source_only(workspace: Path):
    configure(workspace)
    routes = {"/bad": lambda h: h.redirect(302, "http://[::1/feed.xml"), "/good.xml": static(GOOD)}
    with Site(routes) as site:
        bad, good = fetch(workspace, site.url("/bad"), site.url("/good.xml"), kind="feed").results
    assert bad.outcome == "failed" and "invalid URL" in bad.reason
    assert good.outcome == "fetched"


def test_a_password_in_a_url_stays_out_of_the_reasons(workspace: Path, runner):
    configure(workspace)
    routes = {"/a": lambda h: h.redirect(302, "/b"), "/b": lambda h: h.redirect(301, "/a")}
    with Site(routes) as site:
        secret = site.url("/a").replace("http://", "http://reader:s3cret@")
        loop = only(fetch(workspace, secret, kind="feed"))
        printed = runner.invoke(main, ["fetch", secret])
    assert loop.outcome == "failed" and loop.reason == f"redirect loop at {site.url('/a')}"
    assert "s3cret" not in printed.output and site.url("/a") in printed.output


def test_a_full_text_feed_with_a_malformed_entry_link_fetches_the_others(workspace: Path):
    configure(workspace)
    routes: dict[str, Any] = {}
    with Site(routes) as site:
        routes["/feed.xml"] = static(rss("Local", [
            ("Broken link story here", "http://[::1/x", "Tue, 24 Nov 2026 08:00:00 GMT"),
            ("Harbour wall story in full", site.url("/a.html"), "Mon, 23 Nov 2026 08:00:00 GMT")]))
        routes["/a.html"] = static(article_page("Harbour wall story in full"), "text/html")
        with Context(workspace) as ctx:
            report = fetch_sources(ctx, [SourceSpec(site.url("/feed.xml"), kind="feed", full_text=True)])
            found = articles_from(report, cache_of(ctx))
    assert only(report).outcome == "fetched"
    assert [p.url for p in only(report).pages] == [site.url("/a.html")]
    by_title = {a.title: a for a in found.articles}
    assert by_title["Broken link story here"].url == ""  # the malformed link is dropped, the entry kept
    assert by_title["Harbour wall story in full"].kind == "html"


def test_a_damaged_cached_body_is_fetched_whole_again_not_kept_by_a_304(workspace: Path):
    configure(workspace)
    with Site({"/feed.xml": static(FEED, etag='"v1"')}) as site:
        first = only(fetch(workspace, site.url("/feed.xml"), kind="feed"))
        with Context(workspace) as ctx:
            cache = cache_of(ctx)
        cache.path_of(first.body_sha256).write_bytes(b"<rss>damaged on disk")
        second = only(fetch(workspace, site.url("/feed.xml"), kind="feed"))
        assert (second.outcome, second.status) == ("fetched", 200)
        assert "if-none-match" not in site.log[-1].headers  # validators would only earn a 304
        assert cache.get(first.body_sha256) == FEED  # repaired
        assert only(fetch(workspace, site.url("/feed.xml"), kind="feed")).outcome == "not_modified"
    with Context(workspace) as ctx:
        found = articles_from(fetch_sources(ctx, [SourceSpec(site.url("/feed.xml"), kind="feed")], offline=True),
                              cache_of(ctx))
    assert len(found.articles) == 2 and not found.errors


def test_robots_txt_is_asked_on_every_redirect_hop(workspace: Path):
    configure(workspace)
    routes = {"/robots.txt": static(b"User-agent: *\nDisallow: /private/\n", "text/plain"),
              "/go": lambda h: h.redirect(302, "/private/a.html"),
              "/private/a.html": static(article_page("Secret plan"), "text/html")}
    with Site(routes) as site:
        hop = only(fetch(workspace, site.url("/go"), kind="page"))
        assert hop.outcome == "refused" and "robots.txt" in hop.reason
        assert site.hits("/private/a.html") == [] and len(site.hits("/robots.txt")) == 1


STYLED = (b'<?xml version="1.0"?>\n<?xml-stylesheet type="text/xsl" href="/feed.xsl"?>\n'
          b'<rss version="2.0"><channel><title>Styled</title><item><title>Styled feed story</title>'
          b"<link>https://example.org/s</link></item></channel></rss>")
DOCTYPE = (b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
           b'"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel><title>Old</title>'
           b"<item><title>Doctype feed story</title><link>https://example.org/d</link></item></channel></rss>")
PREFIXED = (b'<?xml version="1.0"?><a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:title>NS</a:title>'
            b'<a:entry><a:title>Prefixed feed story</a:title><a:link href="https://example.org/p"/>'
            b"<a:updated>2026-11-24T08:00:00Z</a:updated></a:entry></a:feed>")


def test_feeds_are_known_by_their_content_whatever_the_content_type(workspace: Path):
    configure(workspace)
    routes = {f"/{name}": static(body, "text/plain")
              for name, body in (("styled", STYLED), ("doctype", DOCTYPE), ("prefixed", PREFIXED))}
    with Site(routes) as site:
        report = fetch(workspace, site.url("/styled"), site.url("/doctype"), site.url("/prefixed"))
        with Context(workspace) as ctx:
            found = articles_from(report, cache_of(ctx))
    assert not found.errors, found.errors
    assert [(a.kind, a.title, a.url) for a in found.articles] == [
        ("feed", "Styled feed story", "https://example.org/s"),
        ("feed", "Doctype feed story", "https://example.org/d"),
        ("feed", "Prefixed feed story", "https://example.org/p")]


def test_proxies_from_the_environment_carry_the_requests_and_no_proxy_is_honoured(workspace: Path, monkeypatch):
    configure(workspace)
    with Site({"/feed.xml": static(FEED)}) as site, Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        through = only(fetch(workspace, site.url("/feed.xml"), kind="feed"))
        assert through.outcome == "fetched" and through.size == len(FEED)
        assert [hit.path for hit in proxy.log] == [site.url("/feed.xml")]  # the absolute form: a proxy request
        assert len(site.hits("/feed.xml")) == 1  # relayed by the proxy
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        direct = only(fetch(workspace, site.url("/feed.xml"), kind="feed"))
        assert direct.outcome in ("fetched", "not_modified") and len(proxy.log) == 1
        assert len(site.hits("/feed.xml")) == 2


def test_through_a_proxy_the_guard_judges_the_target_and_trusts_the_chosen_proxy(workspace: Path, monkeypatch):
    configure(workspace, allow_private_networks=False, connect_timeout=2)
    public = "93.184.215.14"  # a public address; the proxy answers for it itself, nothing leaves the machine
    with Proxy(canned={public: (200, FEED, "application/rss+xml")}) as proxy:
        monkeypatch.setenv("ALL_PROXY", proxy.url)
        ok = only(fetch(workspace, f"http://{public}/feed.xml", kind="feed"))
        assert ok.outcome == "fetched" and ok.size == len(FEED)  # the proxy on loopback is the user's choice
        inside = only(fetch(workspace, "http://127.0.0.1:9/feed.xml", kind="feed"))
        assert inside.outcome == "refused" and "loopback" in inside.reason
        assert [hit.path for hit in proxy.log] == [f"http://{public}/feed.xml"]  # the refused one never sent


def test_a_proxy_variable_that_is_no_url_is_one_line(workspace: Path, monkeypatch, runner):
    configure(workspace)
    monkeypatch.setenv("HTTP_PROXY", "http://user:secret@[::1")
    result = runner.invoke(main, ["fetch", "http://127.0.0.1:9/feed.xml"])
    assert result.exit_code == 2 and "proxy" in result.stderr and "secret" not in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("address, word", [("169.254.169.254", "cloud metadata"), ("169.254.1.1", "link-local"),
                                           ("0.0.0.0", "unspecified"),
                                           ("10.0.0.5", "private"), ("127.0.0.1", "loopback")])
def test_the_guard_names_addresses_for_what_they_are(address: str, word: str):
    article = "an" if word[0] in "aeiou" else "a"
    assert f"{article} {word} address" in str(RefusedAddress(address, address))
