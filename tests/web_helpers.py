"""A real uvicorn server in a background thread, on a free port of 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadedUvicorn:
    """Start an ASGI app with uvicorn; stop it on exit."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._prepare()

    def _prepare(self) -> None:
        from digest.web.listen import server_config

        self.port = free_port()
        # The configuration `digest serve` and `digest preview` run with (header deadline and all).
        self.server = uvicorn.Server(server_config(self.app, host="127.0.0.1", port=self.port))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadedUvicorn:
        # A free port can be taken by another test worker between the look and the bind: try another.
        for _ in range(5):
            self.thread.start()
            deadline = time.monotonic() + 30
            while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            if self.server.started:
                return self
            if self.thread.is_alive():
                break  # neither started nor failed within the deadline
            self._prepare()
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
