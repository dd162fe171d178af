"""A local TCP proxy for tests: a link that drops after N bytes, or that rewrites what the server says.

`with CuttingProxy(port, cut_after=600_000) as proxy:` listens on 127.0.0.1:proxy.port and
forwards to 127.0.0.1:port; each connection is cut (both ways closed) once the server has sent
`cut_after` bytes through it. `rewrite` edits each chunk from the server (a server without a
capability, say). Real sockets, real server behind: only the link is made worse.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

__all__ = ["CuttingProxy"]


class CuttingProxy:
    """A threaded TCP proxy to a local port that cuts each connection after `cut_after` server bytes."""

    def __init__(self, upstream: int, *, cut_after: int | None = None,
                 rewrite: Callable[[bytes], bytes] | None = None) -> None:
        self.upstream = upstream
        self.cut_after = cut_after
        self.rewrite = rewrite
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cuts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_server: bool) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if from_server and self.rewrite is not None:
                    data = self.rewrite(data)
                if from_server and self.cut_after is not None and sent + len(data) >= self.cut_after:
                    sink.sendall(data[:self.cut_after - sent])
                    self.cuts += 1
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
