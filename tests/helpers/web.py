"""`digest serve` and `digest preview` as real processes, and plain HTTP requests against them."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from tests.web_helpers import free_port

FORM = "application/x-www-form-urlencoded"


class CommandServer:
    """`digest serve` or `digest preview` as a real process on a free port."""

    def __init__(self, workspace: Path, command: str, *args: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "digest", command, "--port", str(self.port), *args], cwd=workspace,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        deadline = time.monotonic() + 90
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"digest {command} did not start: {self.process.communicate()}")
            time.sleep(0.05)

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def peak_rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.communicate(timeout=30)


@contextmanager
def running(workspace: Path, command: str, *args: str) -> Iterator[CommandServer]:
    """`digest COMMAND ARGS` serving on a free port for the `with` block."""
    server = CommandServer(workspace, command, *args)
    try:
        yield server
    finally:
        server.stop()


LINK = re.compile(r"https://news\.example\.com(/confirm/[A-Za-z0-9._-]+)")


def http_request(url: str, data: bytes | None = None, content_type: str = "application/x-www-form-urlencoded",
                 headers: dict[str, str] | None = None) -> tuple[int, str]:
    """GET (or POST `data`) `url`; the status and the body, error statuses included."""
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def confirmations(outbox: Path, n: int, timeout: float = 60) -> list[EmailMessage]:
    """Wait until the embedded mailbox `outbox` holds `n` messages; them, parsed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = list((outbox / "new").glob("*")) if (outbox / "new").exists() else []
        if len(files) >= n:
            return [message_from_bytes(f.read_bytes(), policy=default) for f in files]  # type: ignore[misc]
        time.sleep(0.05)
    raise AssertionError(f"expected {n} confirmation mails in {outbox}")


def confirm_link(message: EmailMessage) -> str:
    """The path of the confirmation link in a confirmation mail."""
    match = LINK.search(message.get_body(("plain",)).get_content())
    assert match is not None
    return match.group(1)


def json_status(url: str) -> dict[str, Any]:
    """The JSON of `url`/status (what `digest preview` reports about its builds)."""
    with urllib.request.urlopen(url + "/status", timeout=10) as answer:  # nosec B310
        return dict(json.loads(answer.read()))
