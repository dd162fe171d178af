"""Floods of idle, partial or broken connections against `digest serve`, over real sockets and real uvicorn.

An attacker who opens connections and never finishes a request must not shut
anybody else out (the RFC 8058 one-click POST above all), nor fill the log.
Loopback has a whole /8: clients bind 127.0.0.x to be different addresses.
"""

from __future__ import annotations

import http.client
import select
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.web import FORM, CommandServer, running
from tests.web_helpers import ThreadedUvicorn, free_port


class IdleFlood:
    """Holds `count` connections per source address open with a partial request line, reopening any closed."""

    def __init__(self, port: int, sources: list[str], count: int) -> None:
        self.port, self.sources, self.count = port, sources, count
        self.stop = threading.Event()
        self.opened = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, source: str) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2, source_address=(source, 0))
            sock.sendall(b"GET / HTTP/1.1\r\n")
        except OSError:
            return None
        self.opened += 1
        return sock

    def _run(self) -> None:
        watch = selectors.DefaultSelector()  # epoll: more than select()'s 1024 descriptors

        def hold(source: str) -> None:
            sock = self._open(source)
            if sock is not None:
                watch.register(sock, selectors.EVENT_READ, source)

        for source in self.sources:
            for _ in range(self.count):
                hold(source)
        while not self.stop.is_set():
            for key, _ in watch.select(0.1):
                sock = key.fileobj
                try:
                    data = sock.recv(4096)  # type: ignore[union-attr]
                except OSError:
                    data = b""
                if not data:
                    watch.unregister(sock)
                    sock.close()  # type: ignore[union-attr]
                    hold(key.data)  # as fast as the server closes them
        for key in list(watch.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        watch.close()

    def __enter__(self) -> IdleFlood:
        self.thread.start()
        time.sleep(1.5)  # every connection is open before anybody else tries
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def _request(port: int, method: str, path: str, *, source: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError as exc:
        return -1 if not isinstance(exc, TimeoutError) else -2
    finally:
        conn.close()


@pytest.fixture
def serve(workspace: Path) -> Iterator[CommandServer]:
    with running(workspace, "serve") as app:
        yield app


def test_idle_connections_from_one_client_do_not_shut_out_one_click_unsubscribes(workspace: Path,
                                                                                  serve: CommandServer):
    from digest.app.context import Context
    from digest.compose import sign_token

    token = sign_token(Context(workspace).secret, email="ann@example.com", list_name="example", issue=1)
    # 300 idle connections from one address: more than the whole server held before.
    with IdleFlood(serve.port, ["127.0.0.1"], 300) as flood:
        statuses = []
        for _ in range(12):
            statuses.append(_request(serve.port, "POST", f"/u/{token}", source="127.0.0.2",
                                     body=b"List-Unsubscribe=One-Click", headers={"Content-Type": FORM}))
            statuses.append(_request(serve.port, "GET", "/archive/", source="127.0.0.3"))
            time.sleep(0.25)
    assert flood.opened >= 300
    assert statuses == [200] * len(statuses), statuses


def test_a_flood_from_many_addresses_cannot_keep_a_request_out(workspace: Path):
    from digest.app.context import Context
    from digest.web.listen import MAX_CONNECTIONS, PER_CLIENT
    from digest.web.server import create_app

    # More idle sockets than the server holds in all, from 40 addresses, each within its own cap.
    per_address = min(PER_CLIENT, MAX_CONNECTIONS // 40 + 4)
    with ThreadedUvicorn(create_app(Context(workspace))) as server, \
            IdleFlood(server.port, [f"127.0.0.{n}" for n in range(10, 50)], per_address) as flood:
        statuses = [_request(server.port, "GET", "/archive/", source="127.0.0.2") for _ in range(20)]
        held = len(server.server.server_state.connections)
    assert flood.opened > MAX_CONNECTIONS
    assert statuses == [200] * 20, statuses
    assert held <= MAX_CONNECTIONS + 1


def test_an_idle_connection_is_closed_long_before_a_slow_body(serve: CommandServer):
    from digest.web.listen import HEADER_TIMEOUT

    slow = socket.create_connection(("127.0.0.1", serve.port), timeout=30)
    slow.sendall(f"POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
                 "Content-Length: 100\r\n\r\nemail=".encode())
    time.sleep(1)  # the idle one comes later, and still goes first
    idle = socket.create_connection(("127.0.0.1", serve.port), timeout=30)
    idle.sendall(b"POST /u/x.y HTTP/1.1\r\n")
    order: list[str] = []
    started = time.monotonic()
    while len(order) < 2 and time.monotonic() - started < 40:
        ready = select.select([s for s in (idle, slow) if s.fileno() >= 0], [], [], 0.5)[0]
        for sock in ready:
            data = sock.recv(4096)
            if sock is slow and data:
                assert data.startswith(b"HTTP/1.1 4")  # the body never finished: refused
            order.append("idle" if sock is idle else "slow")
            sock.close()
        if "slow" not in order and time.monotonic() - started > HEADER_TIMEOUT + 1:
            try:
                slow.sendall(b"a")  # a trickle of body keeps it alive, as a slow phone would
            except OSError:
                pass
            time.sleep(0.5)
    assert order == ["idle", "slow"], order


def test_a_flood_of_broken_requests_does_not_flood_the_log(workspace: Path):
    with running(workspace, "serve") as app:
        for _ in range(200):
            with socket.create_connection(("127.0.0.1", app.port), timeout=5) as sock:
                sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
                sock.recv(4096)
        assert app.request("GET", "/archive/")[0] == 200
        app.process.terminate()
        _, stderr = app.process.communicate(timeout=30)
    lines = [line for line in stderr.splitlines() if "Invalid HTTP request" in line]
    assert 1 <= len(lines) <= 2, stderr[-2000:]


def test_headers_over_16_kb_in_one_burst_are_refused(serve: CommandServer):
    big = "x" * 1000
    headers = "".join(f"X-Filler-{n}: {big}\r\n" for n in range(100))
    with socket.create_connection(("127.0.0.1", serve.port), timeout=10) as sock:
        sock.sendall(f"GET /archive/ HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
        answer = sock.recv(4096)
    assert answer.split(b"\r\n")[0] in (b"HTTP/1.1 431 Request Header Fields Too Large", b"HTTP/1.1 400 Bad Request")
    assert serve.request("GET", "/archive/", headers={"X-Small": big})[0] == 200


def test_serve_on_a_busy_port_says_so_in_one_line_before_serving(workspace: Path):
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen(1)
        result = subprocess.run([sys.executable, "-m", "digest", "serve", "--port", str(port)], cwd=workspace,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result
    assert "Serving" not in result.stdout
    assert result.stderr.strip().splitlines() == [
        f"digest: error: cannot listen on 127.0.0.1:{port}: the address is already in use (another server on "
        "that port?)"], result.stderr
