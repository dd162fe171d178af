"""A real DNS server for tests: dnslib on 127.0.0.1, a random UDP port, answering from a dict."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dnslib import AAAA, MX, QTYPE, RCODE, RR, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

__all__ = ["Zone", "dns_server", "silent_dns"]

Zone = dict[tuple[str, str], list[str]]  # (name, "TXT" | "MX" | "A" | "AAAA") → values


def _rdata(qtype: str, value: str) -> Any:
    if qtype == "TXT":
        data = value.encode("utf-8")
        return TXT([data[i:i + 255] for i in range(0, len(data), 255)] or [b""])
    if qtype == "MX":
        return MX(value)
    return {"A": A, "AAAA": AAAA}[qtype](value)


class _ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, zone: Zone) -> None:
        self.zone = {(name.lower().rstrip("."), qtype): values for (name, qtype), values in zone.items()}
        self.names = {name for name, _ in self.zone}

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        for value in self.zone.get((name, qtype), []):
            reply.add_answer(RR(name, request.q.qtype, rdata=_rdata(qtype, value), ttl=60))
        if name not in self.names:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@contextmanager
def dns_server(zone: Zone) -> Iterator[str]:
    """Serve `zone`; yields "127.0.0.1:PORT" for `digest check --dns`."""
    server = DNSServer(_ZoneResolver(zone), address="127.0.0.1", port=0,
                       logger=DNSLogger(log="-recv,-send,-request,-reply,-truncated,-data,-error", prefix=False))
    server.start_thread()
    try:
        yield f"127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.stop()


@contextmanager
def silent_dns() -> Iterator[str]:
    """A UDP port that takes queries and never answers (a resolver that is down or filtered)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
