"""The private-network guard: refuse a connection whose peer is not a public address.

A feed URL is untrusted input: `http://169.254.169.254/` (a cloud metadata
service), `http://localhost:5432/` or a name that resolves to 10.0.0.5 would
turn the digest builder into a probe of the network it runs in (SSRF). The
check runs on the address the socket actually connected to — after DNS, after
happy eyeballs, for every hop of a redirect chain, since each hop opens its own
connection — and before a single byte of the request is written, so a DNS
answer that changes between a check and the connect (rebinding) changes nothing.

An IPv6 address that carries an IPv4 address is judged by the IPv4 address
inside: IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, and the NAT64
prefixes `64:ff9b::/96` and `64:ff9b:1::/48` (RFC 6052, RFC 8215) — on a NAT64
network `http://[64:ff9b::a9fe:a9fe]/` reaches 169.254.169.254. The cloud
metadata addresses are refused even with `allow_private_networks = true`: that
setting opens an intranet, not the machine's credentials.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore2

__all__ = ["RefusedAddress", "is_public", "is_metadata", "GuardedBackend", "check_resolved"]

#: Cloud instance metadata services, where credentials live: AWS, GCP, Azure, OpenStack … (169.254.169.254),
#: AWS's IPv6 endpoint, AWS ECS task credentials (169.254.170.2), Alibaba Cloud (100.100.100.200).
METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2",
                                                        "100.100.100.200"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use prefix
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # IPv4-translated ::ffff:0:a.b.c.d (RFC 2765)
_IP = ipaddress.IPv4Address | ipaddress.IPv6Address
# RFC 6052 §2.2: where the 32 IPv4 bits sit for each prefix length (octet 8, the "u" octet, is skipped).
_RFC6052 = {48: (6, 7, 9, 10), 56: (7, 9, 10, 11), 64: (9, 10, 11, 12), 96: (12, 13, 14, 15)}


def reached(address: str) -> list[_IP]:
    """Every address a connection may really reach: the address, or the IPv4 address(es) inside an IPv6
    address that carries one. The local-use NAT64 prefix may be used at any RFC 6052 length, so each
    reading counts. ValueError when `address` is not an IP address.
    """
    ip = ipaddress.ip_address(address.split("%")[0])
    if not isinstance(ip, ipaddress.IPv6Address):
        return [ip]
    if ip.ipv4_mapped:
        return [ip.ipv4_mapped]
    packed = ip.packed
    if ip in _NAT64 or ip in _TRANSLATED:
        return [ipaddress.IPv4Address(packed[12:])]
    if ip in _NAT64_LOCAL:
        return [ipaddress.IPv4Address(bytes(packed[i] for i in octets)) for octets in _RFC6052.values()]
    if packed[:12] == bytes(12) and int(ip) > 1:
        return [ipaddress.IPv4Address(packed[12:])]  # IPv4-compatible ::a.b.c.d (RFC 4291 §2.5.5.1, deprecated)
    return [ip]


def judged(address: str) -> _IP:
    """The address judged for a connection: the one reading of `reached` that is not public, else the first."""
    readings = reached(address)
    return next((ip for ip in readings if ip in METADATA), None) or \
        next((ip for ip in readings if not _public(ip)), readings[0])


def is_metadata(address: str) -> bool:
    """True for a cloud metadata address, however it is written."""
    try:
        return any(ip in METADATA for ip in reached(address))
    except ValueError:
        return False


class RefusedAddress(Exception):
    """The host resolved to (or connected to) an address the guard refuses."""

    def __init__(self, host: str, address: str) -> None:
        self.host = host
        self.address = address
        try:
            kind = kind_of(address)
            what = f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} address"
        except ValueError:
            what = "not an internet address"
        said = f"{host} is {what}" if host == address or not address else f"{host} is {address}, {what}"
        if is_metadata(address):
            super().__init__(f"{said}, never fetched (no setting allows it)")
        else:
            super().__init__(f"{said}, not fetched ([fetch] allow_private_networks = true allows it)")


def kind_of(address: str) -> str:
    """A short word for why an address is not public."""
    ip = judged(address)
    if ip in METADATA:
        return "cloud metadata"
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
        return all(_public(ip) for ip in reached(address))
    except ValueError:
        return False


def _public(ip: _IP) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and (ip.sixtofour or ip.teredo):
        return False  # tunnels that embed an IPv4 address we would have to judge too
    # is_global is False for RFC 1918, loopback, link-local, CGNAT (100.64/10), documentation,
    # benchmarking and the other IANA special-purpose ranges; multicast is global but not unicast.
    return ip.is_global and not ip.is_multicast and ip not in METADATA


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
        if host.lower().strip("[]") in self.exempt:
            return await self._inner.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                                 socket_options=socket_options)
        # Before connecting too: otherwise "connection refused" against "timeout" would tell a
        # hostile feed which private ports are open (a port scan through our error messages).
        try:
            await check_resolved(host, port, allow_private=self.allow_private)
        except OSError as exc:  # DNS: reported like httpcore's own connection errors
            raise httpcore2.ConnectError(str(exc)) from exc
        stream = await self._inner.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)
        peer = stream.get_extra_info("server_addr")
        address = str(peer[0]) if peer else ""
        if not self._allowed(address):
            await stream.aclose()
            raise RefusedAddress(host, address)
        return _CheckedStream(stream)

    def _allowed(self, address: str) -> bool:
        """Public, or (with allow_private_networks) anything but a metadata address."""
        if self.allow_private:
            return not is_metadata(address)
        return is_public(address)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore2.AsyncNetworkStream:
        raise RefusedAddress(path, "")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def check_resolved(host: str, port: int, *, allow_private: bool = False) -> None:
    """Refuse a host any of whose addresses is not public (with `allow_private`: is a metadata address).

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
        if is_metadata(address) or not (allow_private or is_public(address)):
            raise RefusedAddress(host, address)
