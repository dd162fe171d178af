"""Click counting end to end: a real send to the recording SMTP server, the links in it followed
through a real `digest serve` (uvicorn), and what `digest report` then says."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

from digest.app.context import Context
from digest.cli import main
from digest.core.model import Rendered
from tests.conftest import point_smtp_at
from tests.web_helpers import ThreadedUvicorn

BASE = "https://news.example.com"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
           "Accept-Language": "en"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - urllib's signature
        return None


def _open(url: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, str | None]:
    """One request, redirects not followed: the status and the Location header."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, method=method, headers=headers or {})  # noqa: S310 - loopback only
    try:
        with opener.open(request, timeout=20) as response:
            return response.status, response.headers.get("Location")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location")


FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Town Desk</title><link>https://town.example.org/</link><description>x</description>
<item><title>Night Market Returns</title><link>https://town.example.org/market?day=fri&amp;x=1</link>
<pubDate>Tue, 24 Nov 2026 18:00:00 GMT</pubDate><description>Stalls are back on Fridays.</description></item>
<item><title>School Choir Wins Prize</title><link>https://town.example.org/choir</link>
<pubDate>Mon, 23 Nov 2026 12:00:00 GMT</pubDate><description>The choir won the regional contest.</description></item>
<item><title>Write to us</title><link>mailto:desk@town.example.org</link>
<pubDate>Mon, 23 Nov 2026 11:00:00 GMT</pubDate><description>Letters to the editor.</description></item>
</channel></rss>
"""


def _send(workspace: Path, runner, recorder, tracking: str = "") -> list[str]:
    """Build and send issue 1 (from a feed of articles with their own URLs) with `tracking` settings;
    the HTML part of each message received."""
    for page in (workspace / "pages").iterdir():
        page.unlink()
    (workspace / "pages" / "town.rss").write_text(FEED)
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    if tracking:
        with (workspace / "digest.toml").open("a", encoding="utf-8") as f:
            f.write(f"\n[tracking]\n{tracking}\n")
    assert runner.invoke(main, ["build"]).exit_code == 0
    result = runner.invoke(main, ["send", "issues/1", "--list", "subscribers/example.csv"])
    assert result.exit_code == 0, result.output + result.stderr
    parts = []
    for received in handler.received:
        html = received.message.get_body(("html",))
        assert html is not None
        parts.append(html.get_content())
    return parts


def _hrefs(html: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', html)]


def test_tracking_off_sends_the_articles_own_links(workspace: Path, runner, recorder):
    [html, *_] = _send(workspace, runner, recorder)
    rendered = Rendered.from_json(json.loads((workspace / "issues" / "1" / "rendered.json").read_text()))
    hrefs = _hrefs(html)
    assert not [h for h in hrefs if "/c/" in h]
    lead = json.loads((workspace / "issues" / "1" / "issue.json").read_text())["lead"]["url"]
    assert lead in hrefs and rendered.links == ()
    assert "We count" not in html  # no privacy note when nothing is counted


def test_clicks_on_counts_a_followed_link_and_refuses_an_altered_one(workspace: Path, runner, recorder):
    parts = _send(workspace, runner, recorder, "clicks = true")
    html = parts[0]
    text = recorder[1].received[0].message.get_body(("plain",)).get_content()
    tracked = [h for h in _hrefs(html) if h.startswith(f"{BASE}/c/")]
    lead = json.loads((workspace / "issues" / "1" / "issue.json").read_text())["lead"]["url"]
    assert tracked and lead not in _hrefs(html)
    assert lead in text and "/c/" not in text  # the text part keeps the real URLs
    # Unsubscribe and view-in-browser are never rewritten; every message carries the same links.
    assert any(h.startswith(f"{BASE}/u/") for h in _hrefs(html))
    assert f"{BASE}/archive/1" in _hrefs(html)
    assert all([h for h in _hrefs(p) if "/c/" in h] == tracked for p in parts)
    assert "We count clicks on the article links" in html
    ctx = Context(workspace)
    from digest.web.server import create_app

    with ThreadedUvicorn(create_app(ctx)) as served:
        local = tracked[0].replace(BASE, served.url)
        status, location = _open(local, headers=BROWSER)
        assert status == 302 and location == lead
        token = local.rsplit("/", 1)[1]
        body, mac = token.split(".")
        for bad in (f"{body[:-2]}{'AA' if not body.endswith('AA') else 'BB'}.{mac}", f"{body}.{mac[::-1]}",
                    "nothing", f"{body}x.{mac}"):
            status, location = _open(f"{served.url}/c/{bad}", headers=BROWSER)
            assert 400 <= status < 500 and location is None, bad
        assert _open(local, method="HEAD", headers=BROWSER)[0] == 302
        assert _open(local, headers={"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"})[0] == 302
    [clicks] = ctx.store.link_clicks(1)
    assert (clicks.human, clicks.machine, clicks.url) == (1, 2, lead)
    report = runner.invoke(main, ["report", "1", "--json"])
    assert report.exit_code == 0, report.output + report.stderr
    data = json.loads(report.output)
    [issue] = data["issues"]
    [link] = [x for x in issue["links"] if x["url"] == lead]
    assert (link["human"], link["machine"]) == (1, 2) and link["title"]
    table = runner.invoke(main, ["report", "1"])
    assert table.exit_code == 0 and link["title"][:20] in table.output


def test_per_reader_clicks_are_erased_with_the_reader(workspace: Path, runner, recorder):
    parts = _send(workspace, runner, recorder, "clicks = true\nper_reader = true")
    ctx = Context(workspace)
    from digest.web.server import create_app

    readers = []
    with ThreadedUvicorn(create_app(ctx)) as served:
        for html in parts[:2]:
            [first, *_] = [h for h in _hrefs(html) if h.startswith(f"{BASE}/c/")]
            assert "?r=" in first
            readers.append(first)
            assert _open(first.replace(BASE, served.url), headers=BROWSER)[0] == 302
    assert readers[0] != readers[1]  # the reader part differs, the link token does not
    assert readers[0].split("?")[0] == readers[1].split("?")[0]
    assert ctx.store.unique_clickers(1) == 2
    who = recorder[1].received[0].rcpt_tos[0]
    assert ctx.store.forget_clicks(who) == 1
    assert ctx.store.unique_clickers(1) == 1 and ctx.store.reader_clicks(who) == []


def test_opens_only_when_asked_and_apple_privacy_protection_apart(workspace: Path, runner, recorder):
    [html, *_] = _send(workspace, runner, recorder, "opens = true")
    [pixel] = re.findall(r'<img src="(https://news\.example\.com/o/[^"]+)"', html)
    assert not [h for h in _hrefs(html) if "/c/" in h]  # opens on, clicks off: links stay the articles' own
    assert "We count opens" in html
    ctx = Context(workspace)
    from digest.web.server import create_app

    with ThreadedUvicorn(create_app(ctx)) as served:
        local = pixel.replace(BASE, served.url)
        assert _open(local, headers=BROWSER)[0] == 200
        assert _open(local, headers={"User-Agent": "Mozilla/5.0"})[0] == 200  # Apple's proxy
        assert _open(local[:-3] + "xyz", headers=BROWSER)[0] == 404
    assert ctx.store.opens(1) == {"": 1, "apple": 1}
    data = json.loads(runner.invoke(main, ["report", "--json"]).output)
    assert data["issues"][0]["opens"] == {"people": 1, "apple": 1, "machine": 0}


def test_a_fast_click_without_a_browser_look_is_a_machine(workspace: Path, runner, recorder):
    parts = _send(workspace, runner, recorder, "clicks = true")
    [first, *_] = [h for h in _hrefs(parts[0]) if h.startswith(f"{BASE}/c/")]
    ctx = Context(workspace)
    from digest.web.server import create_app

    with ThreadedUvicorn(create_app(ctx)) as served:
        # Seconds after delivery, a browser-like agent but no Accept-Language: a gateway's look.
        assert _open(first.replace(BASE, served.url), headers={"User-Agent": BROWSER["User-Agent"]})[0] == 302
    [clicks] = [c for c in ctx.store.link_clicks(1) if c.url == first or c.link == 1]
    assert (clicks.human, clicks.machine) == (0, 1)


def test_a_link_hammered_from_one_client_counts_once_a_minute(workspace: Path, runner, recorder):
    parts = _send(workspace, runner, recorder, "clicks = true")
    [first, *_] = [h for h in _hrefs(parts[0]) if h.startswith(f"{BASE}/c/")]
    ctx = Context(workspace)
    from digest.web.server import create_app

    with ThreadedUvicorn(create_app(ctx)) as served:
        for _ in range(30):
            assert _open(first.replace(BASE, served.url), headers=BROWSER)[0] == 302  # every one still redirects
    assert [(c.human, c.machine) for c in ctx.store.link_clicks(1)] == [(1, 0)]


def test_a_script_changing_its_agent_still_counts_once_a_minute_and_long_urls_stay_untracked():
    from starlette.requests import Request

    from digest.render.tracking import rewrite_links
    from digest.web.clicks import _agent_kind

    def request(agent: str) -> Request:
        return Request({"type": "http", "method": "GET", "path": "/", "headers": [(b"user-agent", agent.encode())]})

    kinds = {_agent_kind(request(f"Mozilla/5.0 (X11) AppleWebKit/537.{n} Chrome/120.0 Safari/537.36"))
             for n in range(40)}
    assert kinds == {"other"} and _agent_kind(request("curl/8.0")) == "machine"
    long_url = "https://news.example.com/a?x=" + "x" * 5000
    page = f'<a href="{long_url}">Long</a> <a href="https://news.example.com/b">Short</a>'
    rewritten, _ = rewrite_links(page, secret=b"k" * 32, issue=1, base_url="https://n.example.org",
                                 links=[(long_url, "Long"), ("https://news.example.com/b", "Short")])
    assert f'href="{long_url}"' in rewritten and 'href="https://n.example.org/c/' in rewritten
