"""How the web apps listen: bounded connections per client and in all, deadlines, quiet logs, a bound socket.

A connection is *waiting* until its request headers are in (and again between
requests on a kept-alive connection), *busy* while the app has its request.
Waiting connections are cheap for an attacker to hold and useless to
everybody else, so they are what the limits act on:

* headers must be complete `HEADER_TIMEOUT` seconds after the first byte
  (or the connection) — much less than a slow body gets (`BODY_TIMEOUT` in
  `digest.web.guard`): a legitimate client sends its headers in one packet;
* one client address holds at most `PER_CLIENT` connections: a new one
  closes that client's own oldest waiting connection (a reverse proxy's
  stale keep-alive), or is refused with a 503 when all of them are busy;
* the server holds at most `MAX_CONNECTIONS`: a new connection closes the
  oldest waiting connection of anybody, so a flood of idle sockets from
  many addresses cannot keep a real request out (it arrives complete and
  is answered before it is the oldest);
* refusals and the server's own warnings are logged at most once a minute
  per kind, with a count: a flood does not flood the log.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import resource
import socket
import time
from collections import OrderedDict
from typing import Any

from digest.core.errors import ConfigError
from digest.web.guard import MAX_HEADER_BYTES

__all__ = ["HEADER_TIMEOUT", "PER_CLIENT", "MAX_CONNECTIONS", "server_config",
           "bind_listener", "QuietLog"]

HEADER_TIMEOUT = 3.0  # seconds from a request's first byte (or the connection) to the end of its headers
PER_CLIENT = 32  # connections one client address may hold
MAX_CONNECTIONS = 1024  # connections in all (fewer when the open-file limit is low)
_LOG_EVERY = 60.0
_RESERVED_FILES = 128  # kept for the database, the SMTP relay, templates, logs
_REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: 20\r\nconnection: close\r\nretry-after: 5\r\n\r\nToo many connections")


class QuietLog(logging.Filter):
    """A logging filter: each kind of message at most once per `every` seconds, the next one with a count.

    The kind is the message's format string, so "Invalid HTTP request received."
    sent by a flood of clients is one kind however many arrive.
    """

    def __init__(self, every: float = _LOG_EVERY, *, clock: Any = time.monotonic) -> None:
        super().__init__()
        self.every, self.clock = every, clock
        self.last: dict[str, float] = {}
        self.held: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """True to log the record (with how many like it were held back), False to hold it back."""
        kind = str(record.msg)
        now = self.clock()
        if kind in self.last and now - self.last[kind] < self.every:
            self.held[kind] = self.held.get(kind, 0) + 1
            return False
        self.last[kind] = now
        held = self.held.pop(kind, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like this in the last {self.every:.0f} s not shown)"
        return True


def _open_file_room() -> int:
    """How many connections the open-file limit leaves room for; the soft limit is raised to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_CONNECTIONS + _RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(16, min(MAX_CONNECTIONS, soft - _RESERVED_FILES))


def _client_key(client: tuple[str, int] | None) -> str:
    """What counts as one client: its IPv4 address, or its IPv6 /64 (one subscriber line holds a whole /64)."""
    if not client:
        return ""
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return client[0]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address.ipv4_mapped or address) if isinstance(address, ipaddress.IPv6Address) else str(address)


class _Connections:
    """Every open connection, oldest first, overall and per client (shared by one server's protocols)."""

    def __init__(self, *, per_client: int, max_connections: int, log: logging.Logger) -> None:
        self.per_client, self.max_connections, self.log = per_client, max_connections, log
        self.all: OrderedDict[Any, None] = OrderedDict()
        self.by_client: dict[str, OrderedDict[Any, None]] = {}

    def admit(self, protocol: Any, client: str) -> bool:
        """Make room for a new connection, closing waiting ones; False when it must be refused instead."""
        mine = self.by_client.get(client)
        if mine is not None and len(mine) >= self.per_client:
            oldest = next((p for p in mine if p.waiting), None)
            if oldest is None:
                self.log.warning("Refusing a connection from %s: %d connections busy at once", client, len(mine))
                return False
            self.log.warning("%s holds %d connections: closing its oldest idle one for each new one",
                             client, self.per_client)
            self.drop(oldest)
        if len(self.all) >= self.max_connections:
            oldest = next((p for p in self.all if p.waiting), None)
            if oldest is None:
                self.log.warning("Refusing connections: %d busy at once", len(self.all))
                return False
            self.log.warning("At %d connections: closing the ones that sent no complete request",
                             self.max_connections)
            self.drop(oldest)
        self.all[protocol] = None
        self.by_client.setdefault(client, OrderedDict())[protocol] = None
        return True

    def drop(self, protocol: Any) -> None:
        """Close a connection and forget it (its connection_lost comes later and finds it gone)."""
        self.forget(protocol)
        if not protocol.transport.is_closing():
            protocol.transport.close()

    def forget(self, protocol: Any) -> None:
        """Stop counting a connection."""
        self.all.pop(protocol, None)
        mine = self.by_client.get(protocol.client_key)
        if mine is not None:
            mine.pop(protocol, None)
            if not mine:
                del self.by_client[protocol.client_key]


def _guarded_protocol(*, header_timeout: float, per_client: int, max_connections: int) -> type:
    """uvicorn's h11 protocol with the header deadline and the connection limits of this module."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    log = logging.getLogger("uvicorn.error")
    connections = _Connections(per_client=per_client, max_connections=max_connections, log=log)

    class GuardedH11Protocol(H11Protocol):
        """Counts itself in, waits `header_timeout` for headers, and gives its slot up when idle and oldest."""

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._deadline: asyncio.TimerHandle | None = None
            self.client_key = _client_key(self.client)
            if not connections.admit(self, self.client_key):
                transport.write(_REFUSAL)
                transport.close()
                return
            self._arm()

        @property
        def waiting(self) -> bool:
            """True while no request of this connection is with the app."""
            return self.cycle is None or self.cycle.response_complete

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if getattr(self, "_deadline", None) is not None:
                self._deadline.cancel()  # type: ignore[union-attr]
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            connections.drop(self)

        def data_received(self, data: bytes) -> None:
            # The first byte of a request on a kept-alive connection starts its header deadline
            # (an idle kept-alive connection is closed by uvicorn's keep-alive timeout).
            if self._deadline is None and self.waiting:
                self._arm()
            super().data_received(data)

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            if self.cycle is not before:  # the headers are in: the app has the request now
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            connections.forget(self)
            super().connection_lost(exc)

    return GuardedH11Protocol


def server_config(app: Any, *, host: str, port: int, header_timeout: float = HEADER_TIMEOUT,
                  per_client: int = PER_CLIENT, max_connections: int | None = None,
                  log_level: str = "warning") -> Any:
    """A uvicorn Config for our apps: header deadline, short keep-alive, bounded connections, quiet logs."""
    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=2,
        # h11 (pure Python): no build step, and we can time it and count connections.
        http=_guarded_protocol(header_timeout=header_timeout, per_client=per_client,
                               max_connections=max_connections or _open_file_room()),
        ws="none", lifespan="on", timeout_keep_alive=5,
        limit_concurrency=None,  # the protocol above bounds connections, and evicts idle ones first
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,  # headers arriving in pieces; HostGuard checks whole ones
        server_header=False,
    )
    quiet = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietLog) for f in quiet.filters):
        quiet.addFilter(QuietLog())
    return config


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, bound before anything says it is serving; ConfigError when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio does: restart without waiting
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        reason = "the address is already in use (another server on that port?)" \
            if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise ConfigError(f"cannot listen on {where}: {reason}") from None
    sock.setblocking(False)
    return sock
