"""What `digest serve` and `digest preview` accept, against the real commands (uvicorn) and a real Chromium.

Another origin cannot make preview send mail (CSRF), a rebound DNS name cannot reach
either app (Host check), bodies are refused before they are read whole, and slow
partial requests are cut off.
"""

from __future__ import annotations

import http.client
import http.server
import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import needs_tool, point_smtp_at
from tests.helpers.web import FORM, CommandServer, running


def session_token(preview: CommandServer) -> str | None:
    """What the preview page itself knows (None for a preview without one)."""
    _, page = preview.request("GET", "/")
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    return found.group(1) if found else None


def own_page(preview: CommandServer) -> dict[str, str]:
    headers = {"Origin": f"http://127.0.0.1:{preview.port}", "Content-Type": FORM}
    token = session_token(preview)
    if token:
        headers["X-Digest-CSRF"] = token
    return headers


@pytest.fixture
def preview(workspace: Path, recorder) -> Iterator[CommandServer]:
    server, _ = recorder
    point_smtp_at(workspace, server.port)
    with running(workspace, "preview") as app:
        yield app


@pytest.fixture
def serve(workspace: Path) -> Iterator[CommandServer]:
    with running(workspace, "serve", "--allow-host", "box.local") as app:
        yield app


def test_preview_answers_to_loopback_names_only(preview: CommandServer, recorder):
    _, handler = recorder
    for host in (f"127.0.0.1:{preview.port}", f"localhost:{preview.port}", f"[::1]:{preview.port}"):
        assert preview.request("GET", "/part/headers", headers={"Host": host})[0] == 200, host
    for host in (f"evil.example:{preview.port}", "evil.example", "127.0.0.1.evil.example", "", "a b"):
        for path in ("/", "/part/headers", "/part/raw", "/status", "/email"):
            status, text = preview.request("GET", path, headers={"Host": host})
            assert status == 400 and "List-Unsubscribe" not in text, (host, path, status)
    status, _ = preview.request("POST", "/send-test", body=b"address=victim%40example.net", headers={
        "Host": f"evil.example:{preview.port}", "Origin": f"http://evil.example:{preview.port}",
        "Content-Type": "text/plain"})
    assert status == 400
    assert handler.received == []


def test_preview_send_test_needs_its_own_origin_and_session_token(preview: CommandServer, recorder):
    _, handler = recorder
    body = b"address=victim%40example.net"
    token = session_token(preview)
    assert token and len(token) >= 32
    forged = [
        {"Content-Type": "text/plain"},  # a text/plain form from anywhere: no Origin header at all
        {"Content-Type": FORM, "Origin": "http://evil.example"},
        {"Content-Type": FORM, "Origin": "null", "X-Digest-CSRF": token},
        {"Content-Type": FORM, "Origin": f"http://127.0.0.1:{preview.port}"},  # no token
        {"Content-Type": FORM, "Origin": f"http://127.0.0.1:{preview.port}", "X-Digest-CSRF": token[:-1] + "x"},
        {"Content-Type": FORM, "Origin": f"http://127.0.0.1:{preview.port}", "X-Digest-CSRF": token,
         "Sec-Fetch-Site": "cross-site"},
    ]
    for headers in forged:
        assert preview.request("POST", "/send-test", body=body, headers=headers)[0] == 403, headers
    assert handler.received == []
    status, text = preview.request("POST", "/send-test", body=b"address=editor%40example.net",
                                   headers=own_page(preview))
    assert status == 200 and "sent a test" in text, text
    assert [r.rcpt_tos for r in handler.received] == [["editor@example.net"]]


def test_preview_test_sends_are_rate_limited(preview: CommandServer, recorder):
    _, handler = recorder
    headers = own_page(preview)
    statuses = [preview.request("POST", "/send-test", body=f"address=t{n}%40example.net".encode(),
                                headers=headers)[0] for n in range(12)]
    assert statuses == [200] * 10 + [429] * 2, statuses
    assert len(handler.received) == 10


def _chunked_upload(port: int, path: str, headers: dict[str, str], *, total: int) -> tuple[int | None, int]:
    """POST `total` bytes in 64 KB chunks, watching for an early answer; (status or None, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"POST {path} HTTP/1.1\r\n{head}Transfer-Encoding: chunked\r\n\r\n".encode())
    chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
    sent, answer = 0, b""
    try:
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break
            sock.sendall(chunk)
            sent += 0x10000
        if sent >= total:
            sock.sendall(b"0\r\n\r\n")
        sock.settimeout(60)
        answer = sock.recv(4096)
    except (BrokenPipeError, ConnectionResetError):
        try:
            answer = sock.recv(4096)
        except OSError:
            pass
    finally:
        sock.close()
    match = re.match(rb"HTTP/1\.1 (\d{3})", answer)
    return (int(match.group(1)) if match else None), sent


BIG = 48 * 1024 * 1024


def test_preview_refuses_a_huge_body_before_reading_it(preview: CommandServer, recorder):
    _, handler = recorder
    before = preview.peak_rss_kib()
    headers = {"Host": f"127.0.0.1:{preview.port}", **own_page(preview)}
    status, sent = _chunked_upload(preview.port, "/send-test", headers, total=BIG)
    assert status == 413 and sent < BIG, (status, sent)
    declared = preview.request("POST", "/send-test", body=b"x" * 4096, headers=own_page(preview))
    assert declared[0] == 413
    assert preview.peak_rss_kib() - before < 32 * 1024  # the body was never held whole
    assert handler.received == []


def test_serve_refuses_a_huge_body_before_reading_it(workspace: Path, serve: CommandServer):
    from digest.app.context import Context
    from digest.compose import sign_token

    token = sign_token(Context(workspace).secret, email="ann@example.com", list_name="example", issue=1)
    before = serve.peak_rss_kib()
    status, sent = _chunked_upload(serve.port, f"/u/{token}", {"Host": f"127.0.0.1:{serve.port}",
                                                               "Content-Type": FORM}, total=BIG)
    assert status == 413 and sent < BIG, (status, sent)
    assert serve.peak_rss_kib() - before < 32 * 1024


def test_serve_answers_to_its_own_names_only(workspace: Path, serve: CommandServer):
    for host in (f"127.0.0.1:{serve.port}", "news.example.com", "NEWS.example.com:443", "box.local"):
        assert serve.request("GET", "/archive/", headers={"Host": host})[0] == 200, host
    for host in ("evil.example", f"evil.example:{serve.port}", "news.example.com.evil.example", ""):
        assert serve.request("GET", "/archive/", headers={"Host": host})[0] == 400, host
        assert serve.request("POST", "/u/x.y", body=b"List-Unsubscribe=One-Click",
                             headers={"Host": host, "Content-Type": FORM})[0] == 400, host


@pytest.mark.parametrize("command", ["serve", "preview"])
def test_slow_partial_requests_are_cut_off(workspace: Path, command: str):
    with running(workspace, command) as app:
        sock = socket.create_connection(("127.0.0.1", app.port), timeout=5)
        sock.sendall(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 30:  # a header line every second, never the end
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                if select.select([sock], [], [], 1.0)[0] and sock.recv(1024) == b"":
                    closed = True
                    break
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        sock.close()
        assert closed, "a request whose headers never end was held for 30 s"
        assert app.request("GET", "/status" if command == "preview" else "/archive/")[0] == 200


class EvilSite:
    """Another origin: a plain HTTP server with one page that tries to make the preview send mail."""

    def __init__(self, target_port: int) -> None:
        target = f"http://127.0.0.1:{target_port}/send-test"
        page = f"""<!DOCTYPE html><html><body>
<form id="f" method="POST" action="{target}" enctype="text/plain" target="sink">
<input name="address=victim@example.net&x" value="y"></form>
<iframe name="sink"></iframe>
<script>
fetch("{target}", {{method: "POST", mode: "no-cors", body: "address=victim2%40example.net",
                    headers: {{"Content-Type": "text/plain"}}}}).catch(() => null);
fetch("{target}", {{method: "POST", mode: "no-cors", body: "address=victim3%40example.net",
                    headers: {{"Content-Type": "application/x-www-form-urlencoded"}}}}).catch(() => null);
document.getElementById("f").submit();
setTimeout(() => document.title = "done", 1500);
</script></body></html>""".encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@needs_tool("chromium", "apt-get install chromium")
def test_a_page_on_another_origin_cannot_make_preview_send(workspace: Path, recorder):
    from playwright.sync_api import expect, sync_playwright

    from digest.render.screenshots import CHROMIUM_ARGS, find_chromium

    _, handler = recorder
    point_smtp_at(workspace, recorder[0].port)
    with running(workspace, "preview") as preview, sync_playwright() as playwright:
        evil = EvilSite(preview.port)
        browser = playwright.chromium.launch(
            executable_path=find_chromium(),
            args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP evil.example 127.0.0.1"])
        try:
            page = browser.new_page()
            page.goto(f"http://localhost:{evil.port}/")  # another origin
            expect(page).to_have_title("done", timeout=15_000)
            page.wait_for_timeout(1000)
            assert handler.received == [], [r.rcpt_tos for r in handler.received]
            # DNS rebinding: evil.example now resolves to 127.0.0.1, where preview listens.
            for path in ("/", "/part/headers", "/part/raw"):
                response = page.goto(f"http://evil.example:{preview.port}{path}")
                assert response is not None and response.status == 400, path
                assert "List-Unsubscribe" not in page.content()
            # The preview's own page still sends a test.
            page.goto(f"http://127.0.0.1:{preview.port}/")
            page.fill("input[name=address]", "editor@example.net")
            page.click("#send-test button")
            expect(page.locator("#sent")).to_contain_text("sent a test", timeout=30_000)
        finally:
            browser.close()
            evil.close()
    assert [r.rcpt_tos for r in handler.received] == [["editor@example.net"]]


@needs_tool("chromium", "apt-get install chromium")
def test_a_rebound_name_cannot_read_serve(workspace: Path, serve: CommandServer):
    from playwright.sync_api import sync_playwright

    from digest.render.screenshots import CHROMIUM_ARGS, find_chromium

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_chromium(),
            args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP evil.example 127.0.0.1"])
        try:
            page = browser.new_page()
            for path in ("/archive/", "/archive/feed.xml"):
                response = page.goto(f"http://evil.example:{serve.port}{path}")
                assert response is not None and response.status == 400, path
            response = page.goto(f"http://127.0.0.1:{serve.port}/archive/")
            assert response is not None and response.status == 200
        finally:
            browser.close()
