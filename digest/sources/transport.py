"""The transports under the shared client: the guard on every connection, direct or through a proxy.

httpx2 does not take a network backend; its connection pool (httpcore2) does,
so the guarded backend is put under the pool of each transport. Requests
through a proxy are judged before they are sent (the proxy connects, not us),
by what the target's name resolves to here.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

import httpx2

from digest.core.errors import ConfigError
from digest.sources.guard import GuardedBackend, check_resolved

__all__ = ["GuardedTransport", "proxy_mounts", "tls_context"]


_TLS_CONTEXTS: dict[tuple[str, str], ssl.SSLContext] = {}


def tls_context() -> ssl.SSLContext:
    """The verifying TLS context (system CAs, or SSL_CERT_FILE / SSL_CERT_DIR), made once per process.

    Loading the CA bundle costs ~0.1 s of CPU; a process that fetches more than once pays it once.
    """
    import httpcore2

    key = (os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))
    if key not in _TLS_CONTEXTS:
        _TLS_CONTEXTS[key] = httpcore2.default_ssl_context()
    return _TLS_CONTEXTS[key]


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport with the guarded network backend under its connection pool."""

    def __init__(self, *, backend: GuardedBackend, proxied: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # httpx2 does not take a network backend; its pool (httpcore2) does, and reads it per connection.
        self._pool._network_backend = backend
        self._guard = backend
        self._proxied = proxied

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._proxied:
            try:
                await check_resolved(request.url.host,
                                     request.url.port or (443 if request.url.scheme == "https" else 80),
                                     allow_private=self._guard.allow_private)
            except OSError as exc:
                raise httpx2.ConnectError(str(exc), request=request) from exc
        return await super().handle_async_request(request)


def proxy_mounts(guard: GuardedBackend, *, limits: httpx2.Limits) -> dict[str, Any]:
    """httpx mounts for the proxies of the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY).

    httpx reads them itself only when it makes its own transport; ours carries the guard, so
    the same map (httpx's own reading of the variables, NO_PROXY included) is mounted here:
    a pattern with a proxy gets a guarded proxy transport, a NO_PROXY pattern None (the
    direct transport). The proxy's own host is exempt from the guard: the user chose it (a
    corporate one is often on a private address); the URLs sent through it are judged by what
    their names resolve to here.
    """
    from httpx2._utils import get_environment_proxies

    mounts: dict[str, Any] = {}
    for pattern, url in get_environment_proxies().items():
        if url is None:
            mounts[pattern] = None
            continue
        try:
            proxy = httpx2.Proxy(url)
        except (ValueError, httpx2.InvalidURL):  # the message may hold the proxy's password: not repeated
            raise ConfigError(f"the proxy for {pattern} from the environment is not a valid URL") from None
        try:
            guard.exempt.add(proxy.url.host.lower())
            mounts[pattern] = GuardedTransport(backend=guard, proxied=True, proxy=proxy, limits=limits,
                                               verify=tls_context())
        except ImportError:  # socks5:// needs the socksio package
            raise ConfigError(f"the proxy for {pattern} from the environment ({proxy.url.scheme}://) is not "
                              "supported; use an http:// proxy") from None
    return mounts
