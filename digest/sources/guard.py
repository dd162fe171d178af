"""The private-network guard: refuse a connection whose peer is not a public address.

A feed URL is untrusted input: `http://169.254.169.254/` (a cloud metadata
service), `http://localhost:5432/` or a name that resolves to 10.0.0.5 would
turn the digest builder into a probe of the network it runs in (SSRF). The
check runs on the address the socket actually connected to — after DNS, after
happy eyeballs, for every hop of a redirect chain, since each hop opens its own
connection — and before a single byte of the request is written, so a DNS
answer that changes between a check and the connect (rebinding) changes nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore2

__all__ = ["RefusedAddress", "is_public", "GuardedBackend", "check_resolved"]


class RefusedAddress(Exception):
    """The host resolved to (or connected to) an address the guard refuses."""

    def __init__(self, host: str, address: str) -> None:
        self.host = host
        self.address = address
        try:
            what = f"a {kind_of(address)} address"
        except ValueError:
            what = "not an internet address"
        said = f"{host} is {what}" if host == address or not address else f"{host} is {address}, {what}"
        super().__init__(f"{said}, not fetched ([fetch] allow_private_networks = true allows it)")


def kind_of(address: str) -> str:
    """A short word for why an address is not public."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    # Most specific first: Python counts link-local (169.254/16) and unspecified (0.0.0.0) as private too.
    for name, test in (("loopback", ip.is_loopback), ("unspecified", ip.is_unspecified),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("reserved", ip.is_reserved), ("private", ip.is_private)):
        if test:
            return name
    return "non-public"


def is_public(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged as its IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif ip.sixtofour or ip.teredo:
            return False  # tunnels that embed an IPv4 address we would have to judge too
    # is_global is False for RFC 1918, loopback, link-local, CGNAT (100.64/10), documentation,
    # benchmarking and the other IANA special-purpose ranges; multicast is global but not unicast.
    return ip.is_global and not ip.is_multicast


class _CheckedStream(httpcore2.AsyncNetworkStream):
    """A network stream whose peer passed the guard; TLS on top keeps the check."""

    def __init__(self, stream: httpcore2.AsyncNetworkStream) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore2.AsyncNetworkStream:
        return _CheckedStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """httpcore's network backend with a check of the connected peer before the stream is used.

    `exempt` names hosts always allowed: the proxies from the environment,
    which the user chose (a corporate proxy is often on a private address).
    """

    def __init__(self, *, allow_private: bool, exempt: Iterable[str] = ()) -> None:
        self.allow_private = allow_private
        self.exempt = {h.lower().strip("[]") for h in exempt}
        self._inner: httpcore2.AsyncNetworkBackend = httpcore2.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Iterable[Any] | None = None,
                          ) -> httpcore2.AsyncNetworkStream:
        guarded = not (self.allow_private or host.lower().strip("[]") in self.exempt)
        if guarded:
            # Before connecting too: otherwise "connection refused" against "timeout" would tell a
            # hostile feed which private ports are open (a port scan through our error messages).
            try:
                await check_resolved(host, port)
            except OSError as exc:  # DNS: reported like httpcore's own connection errors
                raise httpcore2.ConnectError(str(exc)) from exc
        stream = await self._inner.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)
        if not guarded:
            return stream
        peer = stream.get_extra_info("server_addr")
        address = str(peer[0]) if peer else ""
        if not is_public(address):
            await stream.aclose()
            raise RefusedAddress(host, address)
        return _CheckedStream(stream)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore2.AsyncNetworkStream:
        raise RefusedAddress(path, "")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def check_resolved(host: str, port: int) -> None:
    """Refuse a host any of whose addresses is not public (for requests that go through a proxy).

    Through a proxy the proxy connects, not us: the best we can do is to judge
    what the name resolves to here. A name that does not resolve raises OSError.
    """
    try:
        ipaddress.ip_address(host.strip("[]"))
        addresses = [host.strip("[]")]
    except ValueError:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if not is_public(address):
            raise RefusedAddress(host, address)
