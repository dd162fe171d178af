"""One-click unsubscribe, the archive, and the Atom feed: starlette TestClient and a real uvicorn."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import feedparser
import pytest
from starlette.testclient import TestClient

from digest.app.context import Context
from digest.app.send import send_to_lists
from digest.cli import main
from digest.compose import sign_token
from digest.deliver.sender import SendOptions
from digest.deliver.transport import MemoryTransport
from digest.web.server import create_app
from tests.conftest import point_smtp_at
from tests.web_helpers import ThreadedUvicorn

LOCAL = "http://127.0.0.1"  # the apps answer to loopback names only

ONE_CLICK = {"content": b"List-Unsubscribe=One-Click",
             "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


def sent_workspace(workspace: Path, runner) -> tuple[Context, MemoryTransport]:
    assert runner.invoke(main, ["build"]).exit_code == 0
    ws = Context(workspace)
    transport = MemoryTransport()
    asyncio.run(send_to_lists(ws, workspace / "issues" / "1", [workspace / "subscribers" / "example.csv"],
                              options=SendOptions(), on_problem=print, transport=transport))
    return ws, transport


def suppressed(ws: Context) -> list[str]:
    return [s.email for s in ws.store.suppressions()]


def test_one_click_unsubscribe(workspace: Path, runner):
    ws, _ = sent_workspace(workspace, runner)
    token = sign_token(ws.secret, email="grace@example.org", list_name="example", issue=1)
    client = TestClient(create_app(ws), base_url=LOCAL)
    page = client.get(f"/u/{token}")
    assert page.status_code == 200 and "<form method=\"post\"" in page.text
    assert "grace" not in page.text  # the page never says who is on the list
    first = client.post(f"/u/{token}", **ONE_CLICK)
    again = client.post(f"/u/{token}", **ONE_CLICK)
    assert first.status_code == again.status_code == 200
    assert suppressed(ws) == ["grace@example.org"]
    [entry] = list(ws.store.suppressions())
    assert entry.reason == "unsubscribed" and entry.issue == 1
    multipart = client.post(f"/u/{sign_token(ws.secret, email='ada@example.com', list_name='x', issue=1)}",
                            files={"List-Unsubscribe": (None, "One-Click")})
    assert multipart.status_code == 200 and "ada@example.com" in suppressed(ws)


def test_forged_wrong_method_and_oversized_requests_record_nothing(workspace: Path, runner):
    ws, _ = sent_workspace(workspace, runner)
    client = TestClient(create_app(ws), base_url=LOCAL)
    good = sign_token(ws.secret, email="linus@example.com", list_name="example", issue=1)
    body, mac = good.split(".")
    forged = [
        sign_token(b"not-the-secret", email="linus@example.com", list_name="example", issue=1),
        f"{sign_token(ws.secret, email='x@example.com', list_name='e', issue=1).split('.')[0]}.{mac}",
        good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "garbage", "a.b", "." * 5, "x" * 2000,
    ]
    for token in forged:
        assert client.post(f"/u/{token}", **ONE_CLICK).status_code == 400, token
        assert client.get(f"/u/{token}").status_code == 400
    assert client.put(f"/u/{good}", **ONE_CLICK).status_code == 405
    assert client.delete(f"/u/{good}").status_code == 405
    assert client.post(f"/u/{good}", content=b"nothing").status_code == 400
    huge = client.post(f"/u/{good}", content=b"List-Unsubscribe=One-Click&" + b"x" * 100_000,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert huge.status_code == 413
    assert suppressed(ws) == []


def test_archive_and_feed(workspace: Path, runner):
    ws, transport = sent_workspace(workspace, runner)
    client = TestClient(create_app(ws), base_url=LOCAL)
    index = client.get("/archive/")
    assert index.status_code == 200 and "Issue 1:" in index.text
    page = client.get("/archive/1")
    assert page.status_code == 200
    assert "China, Central Asian Countries Share High-quality Development" in page.text
    assert "/u/" not in page.text and "Reader" not in page.text  # not personalised, no token
    assert client.get("/archive/2").status_code == 404
    feed = feedparser.parse(client.get("/archive/feed.xml").content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert [e.title for e in feed.entries] == [
        "Science & Cooperation Weekly: China, Central Asian Countries Share High-quality Development"]
    assert feed.entries[0].link == "https://news.example.com/archive/1"
    # every email's "view in browser" link points at this archive page
    html = transport.delivered[0][1].data.decode("ascii")
    assert "https://news.example.com/archive/1" in html.replace("=\r\n", "")


def test_static_archive(workspace: Path, runner):
    sent_workspace(workspace, runner)
    result = runner.invoke(main, ["archive", "--out", "site"])
    assert result.exit_code == 0, result.stderr
    assert (workspace / "site" / "1" / "index.html").exists()
    assert 'href="1/"' in (workspace / "site" / "index.html").read_text()
    assert not feedparser.parse((workspace / "site" / "feed.xml").read_bytes()).bozo


def test_end_to_end_unsubscribe_then_next_issue_skips_them(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    assert runner.invoke(main, ["build"]).exit_code == 0
    assert runner.invoke(main, ["send", "--list", "subscribers/example.csv"]).exit_code == 0
    grace = next(r for r in handler.received if r.rcpt_tos == ["grace@example.org"])
    url = grace.message["List-Unsubscribe"].split(",")[0].strip(" <>")
    with ThreadedUvicorn(create_app(Context(workspace))) as web:
        local = url.replace("https://news.example.com", web.url)
        request = urllib.request.Request(local, data=b"List-Unsubscribe=One-Click", method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=10) as response:  # a real HTTP round trip
            assert response.status == 200
    # a new issue: new content, a new number
    (workspace / "pages" / "next.txt").write_text("Next Week's Lead\n\nSource: Desk | 2023-05-25 09:00:00\n\nBody.\n")
    built = runner.invoke(main, ["build"])
    assert "Issue 2:" in built.output
    before = len(handler.received)
    assert runner.invoke(main, ["send", "issues/2", "--list", "subscribers/example.csv"]).exit_code == 0
    second = [r.rcpt_tos[0] for r in handler.received[before:]]
    assert sorted(second) == ["ada@example.com", "linus@example.com"]


@pytest.mark.parametrize("host, loud", [("127.0.0.1", False)])
def test_serve_binds_loopback_by_default(runner, host, loud):
    result = runner.invoke(main, ["serve", "--help"])
    assert "[default: 127.0.0.1]" in result.output
    assert "[default: 127.0.0.1]" in runner.invoke(main, ["preview", "--help"]).output
