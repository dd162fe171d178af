"""`digest check`, the mail side: the SMTP relay (no message sent) and the DNS of the sending domains.

The relay is asked what a send would ask: connect, EHLO, STARTTLS or implicit TLS with the
certificate verified, AUTH when a username is set; then QUIT. DNS goes through a resolver the
user may choose (`--dns HOST:PORT`, for split-horizon DNS): SPF evaluated by pyspf (RFC 7208,
includes, redirects and macros as a receiver would) for the relay's address, the DKIM public
key compared with [dkim]'s private key, DMARC, the bounce domain's MX, and DMARC alignment.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from digest.app.check_items import FAIL, OK, CheckOptions, Item, latest_message_size
from digest.core.settings import Settings, SMTPSettings, Workspace

if TYPE_CHECKING:
    from digest.app.check_items import Found as _Found

__all__ = ["check_smtp", "check_dns"]


def check_smtp(workspace: Workspace, settings: Settings, *, found_relay: _Found, timeout: float) -> Iterator[Item]:
    """The relay item and its size-limit item (or the embedded mailbox, when there is no [smtp])."""
    smtp = settings.smtp
    if smtp is None:
        yield Item("smtp", OK, f"no [smtp]: messages go to the embedded mailbox {workspace.outbox} (the demo; "
                   "nothing leaves this machine, so DNS is not checked)",
                   "")
        return
    from digest.core.aio import run

    item, size, peer = run(_probe(smtp, timeout=timeout))
    found_relay.relay_ip = peer
    found_relay.relay_size = size
    yield item
    if item.status != OK:
        return
    yield _size_item(workspace, size)


def _size_item(workspace: Workspace, size: int | None) -> Item:
    latest = latest_message_size(workspace)
    if not size:
        limit = "states no size limit"
        if latest is None:
            return Item("smtp size", OK, f"the relay {limit}")
        return Item("smtp size", OK, f"the relay {limit}; issue {latest[0]} is {latest[1]:,} bytes")
    if latest is None:
        return Item("smtp size", OK, f"the relay takes messages up to {size:,} bytes (no issue built yet to "
                    "compare; digest check compares the latest one)")
    number, length = latest
    if length > size:
        return Item("smtp size", FAIL, f"issue {number} is {length:,} bytes; the relay takes at most {size:,}",
                    "shorten the issue (fewer articles, smaller images) or raise the relay's message_size_limit")
    return Item("smtp size", OK, f"issue {number} is {length:,} bytes; the relay takes up to {size:,}")


async def _probe(s: SMTPSettings, *, timeout: float) -> tuple[Item, int | None, str]:
    """Connect as a send would and stop before MAIL FROM: (the item, the SIZE limit, the relay's address)."""
    import aiosmtplib

    from digest.deliver.transport import Redactor, is_loopback, reply_text

    redact = Redactor(s.username or "", s.password or "")
    where = f"{s.host}:{s.port}"
    secure = s.security in ("tls", "starttls")
    if s.username and not secure and not is_loopback(s.host):
        return Item("smtp", FAIL, f"{where}: a username is set but the connection is unencrypted",
                    'set security = "starttls" (port 587) or "tls" (port 465) in [smtp]'), None, ""
    if s.username and not s.password:
        return Item("smtp", FAIL, f"[smtp] username is {s.username!r} but DIGEST_SMTP_PASSWORD is empty",
                    "set DIGEST_SMTP_PASSWORD (or put it in the --env-file)"), None, ""
    client = aiosmtplib.SMTP(hostname=s.host, port=s.port, local_hostname=s.local_hostname,
                             timeout=min(timeout, s.timeout), use_tls=s.security == "tls", start_tls=False,
                             tls_context=ssl.create_default_context() if secure else None)
    steps = ["connected"]
    try:
        await client.connect()
        steps.append("EHLO")
        await client.ehlo()
        if s.security == "starttls":
            if not client.supports_extension("starttls"):
                return Item("smtp", FAIL, f"{where} does not offer STARTTLS",
                            'set security = "tls" with port 465, or use a relay that offers STARTTLS'), None, ""
            await client.starttls()
            await client.ehlo()
            steps.append("STARTTLS (certificate valid)")
        elif s.security == "tls":
            steps.append("TLS (certificate valid)")
        if s.username:
            if not client.supports_extension("auth"):
                return Item("smtp", FAIL, f"{where} offers no AUTH here",
                            "check the port and security: most relays offer AUTH only after STARTTLS"), None, ""
            await client.login(s.username, s.password)
            steps.append(f"AUTH as {s.username}")
        size = _size_limit(client.esmtp_extensions.get("size", ""))
        peer = _peer_address(client)
    except aiosmtplib.SMTPAuthenticationError as exc:
        # A relay may echo the credentials in its 535: never into the report.
        return Item("smtp", FAIL, f"{where} refused the login of {s.username!r}: {exc.code} "
                    f"{redact(reply_text(exc.message))}", "check [smtp] username and DIGEST_SMTP_PASSWORD"), None, ""
    except (ssl.SSLError, aiosmtplib.SMTPException, OSError) as exc:
        item = _connect_failure(where, s.security, exc)
        return Item(item.name, item.status, redact(item.found), item.fix), None, ""
    finally:
        await _quit(client)
    return Item("smtp", OK, f"{where}: {', '.join(steps)}; no message sent"), size, peer


def _connect_failure(where: str, security: str, exc: BaseException) -> Item:
    """A failed connect, TLS handshake or greeting, with what to do about it."""
    from digest.deliver.transport import reply_text

    certificate = _certificate_error(exc)
    if certificate is not None:
        return Item("smtp", FAIL, f"{where}: the TLS certificate is not valid: {certificate}",
                    "install a certificate for this host name from a public CA on the relay (for a private CA, "
                    "point SSL_CERT_FILE at its certificate)")
    if isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__, ssl.SSLError):
        return Item("smtp", FAIL, f"{where}: TLS failed: {exc}",
                    'check security in [smtp]: "tls" is for port 465, "starttls" for 587')
    code = getattr(exc, "code", None)
    if isinstance(code, int) and code > 0:
        message = reply_text(str(getattr(exc, "message", "")))
        return Item("smtp", FAIL, f"{where} answered {code} {message}", "check [smtp] host, port and security")
    return Item("smtp", FAIL, f"cannot connect to {where}: {reply_text(str(exc)) or type(exc).__name__}",
                "check [smtp] host and port, and that the relay is running and reachable from here")


def _certificate_error(exc: BaseException | None) -> str | None:
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return str(exc.verify_message or exc.reason or exc)
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _size_limit(value: str) -> int | None:
    """The SIZE the relay states (RFC 1870), or None: no limit stated, 0 (no fixed limit) or no number."""
    try:
        size = int(value.split()[0]) if value.strip() else None
    except ValueError:
        return None
    return size if size is not None and size > 0 else None


def _peer_address(client: Any) -> str:
    transport = getattr(client, "transport", None)
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if peer else ""


async def _quit(client: Any) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit()
    except Exception:  # noqa: BLE001 - closing a probe: any failure to say goodbye changes nothing
        client.close()


def check_dns(workspace: Workspace, settings: Settings, *, relay_ip: str, options: CheckOptions) -> Iterator[Item]:
    """SPF, DKIM, DMARC, the bounce domain's MX and alignment, through the chosen resolver."""
    from digest.app.check_dns import DNSChecks

    yield from DNSChecks(settings, root=workspace.root, options=options).items(relay_ip=relay_ip)
