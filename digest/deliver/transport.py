"""Transports behind one protocol: real SMTP over aiosmtplib, and a working in-memory one."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import re
import ssl
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import aiosmtplib
from aiosmtplib import SMTPResponse

from digest.compose import ComposedMessage
from digest.core.errors import DeliveryError
from digest.core.settings import SMTPSettings

__all__ = [
    "Outcome",
    "Connection",
    "Transport",
    "SMTPTransport",
    "MemoryTransport",
    "is_loopback",
    "protocol_fault",
    "Redactor",
]

Status = Literal["sent", "deferred", "failed", "unknown"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one message: the status, the server's code and its reply."""

    status: Status
    code: int
    reply: str
    connection_lost: bool = False
    stage: str = ""  # the command refused: "mail", "rcpt" or "data" (a refused RCPT names the address)
    fault: bool = False  # a fault in the conversation (5.5.x, a bare 500-503): never the reader's doing


class Connection(Protocol):
    """One open session that sends messages one after another."""

    async def send(self, message: ComposedMessage, *, sender: str) -> Outcome:
        """Send one message; never raises for a per-message problem."""
        ...

    async def close(self) -> None:
        """Say goodbye and close; never raises."""
        ...


class Transport(Protocol):
    """Something that can open connections."""

    def describe(self) -> str:
        """Where messages go, for humans; never includes a secret."""
        ...

    async def connect(self) -> Connection:
        """Open a connection; raise DeliveryError with the server's word when refused."""
        ...


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _greet(smtp: aiosmtplib.SMTP) -> None:
    """EHLO (or HELO for a server without ESMTP, RFC 5321 4.1.4) when the session needs one."""
    # Our MAIL/RCPT go through execute_command, which does not greet by itself.
    if smtp.is_ehlo_or_helo_needed:
        try:
            await smtp.ehlo()
        except aiosmtplib.SMTPHeloError:
            await smtp.helo()


def reply_text(message: str, redact: Callable[[str], str] | None = None) -> str:
    """A server's reply as plain text on one line: bytes that are not UTF-8 (a Latin-1 reply, which
    aiosmtplib keeps as lone surrogates) are read as Latin-1, so nothing downstream chokes on them.

    `redact` runs on the whole text first: a password cut in two by the length cap, or with its
    spaces folded, would escape it afterwards."""
    raw = message.encode("utf-8", "surrogateescape")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if redact is not None:
        text = redact(text)
    return " ".join(text.split())[:500]


_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")


def protocol_fault(code: int, text: str) -> bool:
    """True for a reply that says the conversation went wrong, not the recipient or the message.

    RFC 3463 X.5.x is "protocol status"; RFC 5321 500-503 without an enhanced code are a syntax
    error, an unknown command or a bad sequence. Both say something about the session (a server
    that choked on our bytes, a transaction left open), nothing about the reader. A generic 5.5.0
    behind another code (Outlook's `550 5.5.0 mailbox unavailable`) is left to the bounce policy.
    """
    match = _ENHANCED.search(text or "")
    status = ".".join(match.groups()) if match else None
    if status is not None and status.startswith("5.5.") and status != "5.5.0":
        return True
    return 500 <= code <= 503 and (status is None or status.startswith("5.5."))


def _classify(code: int, message: str, *, lost: bool = False, stage: str = "",
              redact: Callable[[str], str] | None = None) -> Outcome:
    # RFC 5321 4.2.1: 4yz is transient (try again later), 5yz is permanent.
    text = reply_text(message, redact)
    if 200 <= code < 300:
        return Outcome("sent", code, text)
    if 500 <= code < 600:
        return Outcome("failed", code, text, connection_lost=lost, stage=stage, fault=protocol_fault(code, text))
    return Outcome("deferred", code, text, connection_lost=lost or code == 421, stage=stage)


_BASE64 = re.compile(r"[A-Za-z0-9+/]{12,}={0,2}")


class Redactor:
    """Removes a login's password from server text: as written, as a bytes repr, and the base64 forms
    AUTH PLAIN and AUTH LOGIN send (a relay may echo them in its 535, and that text is shown, logged
    and journaled)."""

    def __init__(self, username: str = "", password: str = "") -> None:  # nosec B107 - "" is "no password"
        forms: set[str] = set()
        if password:
            secret = password.encode("utf-8")
            # As written, as Python prints bytes, URL-encoded, in hex: what a relay's echo may show.
            forms.update((password, repr(secret)[2:-1], urllib.parse.quote(password, safe=""), secret.hex()))
            if len(password) >= 8:
                forms.add(password[:-1])  # an echo cut short by one character still gives the password away
            user = username.encode("utf-8")
            for raw in (secret, b"\0" + user + b"\0" + secret, user + b"\0" + user + b"\0" + secret):
                encoded = base64.b64encode(raw).decode("ascii")
                forms.update((encoded, encoded.rstrip("=")))
        # Longest first: a form inside a longer one must not leave the rest of the longer one behind.
        self.forms = sorted((f for f in forms if f), key=len, reverse=True)
        # Case-insensitive for the plain forms (a relay may upper-case its reply); base64 keeps its case.
        self._patterns = [re.compile(re.escape(f), re.IGNORECASE if not _BASE64.fullmatch(f) else 0)
                          for f in self.forms]

    def __call__(self, text: str) -> str:
        """The text with every form of the password replaced by `[password]`."""
        for pattern in self._patterns:
            text = pattern.sub("[password]", text)
        return text


class SMTPConnection:
    """An aiosmtplib session whose DATA path skips the per-message regex passes.

    Our composer guarantees CRLF line ends and that no line starts with '.',
    so the line-ending normalisation and dot-stuffing that `SMTP.data()` runs
    over every payload are no-ops; we send the prepared bytes as they are.
    """

    def __init__(self, smtp: aiosmtplib.SMTP, timeout: float, data_timeout: float = 600.0,
                 redact: Callable[[str], str] | None = None) -> None:
        self.smtp = smtp
        self.timeout = timeout
        self.data_timeout = data_timeout
        self.redact = redact or Redactor()

    async def _command(self, *args: bytes) -> SMTPResponse:
        return await self.smtp.execute_command(*args, timeout=self.timeout)

    async def send(self, message: ComposedMessage, *, sender: str) -> Outcome:
        """MAIL, RCPT, DATA for one recipient, classified by the server's replies.

        Whatever went wrong, the session is clean for the next message afterwards: RSET after
        any refusal (a server that answered the final dot with an error may still hold the
        transaction open), or the connection is given up (`connection_lost`) when RSET fails.
        """
        outcome = await self._transaction(message, sender=sender)
        if outcome.status != "sent" and not outcome.connection_lost and not await self._reset():
            outcome = replace(outcome, connection_lost=True)
        return replace(outcome, reply=self.redact(outcome.reply))

    async def _transaction(self, message: ComposedMessage, *, sender: str) -> Outcome:
        smtp = self.smtp
        if message.smtputf8 and not smtp.supports_extension("smtputf8"):
            # RFC 6531 3.4: without the extension the address cannot be given; no server in the
            # path could deliver it, so it is a permanent failure for this recipient only.
            return Outcome("failed", 0, "the server does not offer SMTPUTF8, which this address needs (RFC 6531)")
        try:
            options = [b"SMTPUTF8"] if message.smtputf8 else []
            encoding = "utf-8" if message.smtputf8 else "ascii"
            reply = await self._command(b"MAIL", b"FROM:<" + sender.encode(encoding) + b">", *options)
            if reply.code != 250:
                return _classify(reply.code, reply.message, stage="mail", redact=self.redact)
            reply = await self._command(b"RCPT", b"TO:<" + message.recipient.encode(encoding) + b">")
            if reply.code not in (250, 251):
                return _classify(reply.code, reply.message, stage="rcpt", redact=self.redact)
            reply = await self._command(b"DATA")
            if reply.code != 354:
                return _classify(reply.code, reply.message, stage="data", redact=self.redact)
            protocol = smtp.protocol
            if protocol is None:
                raise aiosmtplib.SMTPServerDisconnected("Connection lost")
            protocol.write(message.data + b".\r\n")
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, ConnectionError) as exc:
            smtp.close()
            # Lost before the message was complete: the server cannot have it; retry.
            return Outcome("deferred", 0, reply_text(f"connection lost: {exc}", self.redact), connection_lost=True)
        except aiosmtplib.SMTPResponseException as exc:
            return _classify(exc.code, exc.message, redact=self.redact)
        except UnicodeEncodeError:
            return Outcome("failed", 0, "address cannot be sent without SMTPUTF8")
        try:
            # RFC 5321 §4.5.3.2.6: the server may take up to 10 minutes to answer the final dot.
            reply = await protocol.read_response(timeout=self.data_timeout)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, ConnectionError) as exc:
            smtp.close()
            # The whole message went out; the server may have stored it. Resending blindly
            # would make copies: the journal records the outcome as unknown.
            return Outcome("unknown", 0, reply_text(f"no reply after the message was sent: {exc}", self.redact),
                           connection_lost=True)
        except aiosmtplib.SMTPResponseException as exc:
            return _classify(exc.code, exc.message, stage="data", redact=self.redact)
        return _classify(reply.code, reply.message, stage="data", redact=self.redact)

    async def _reset(self) -> bool:
        """RSET; False (and the connection closed) when the server does not take it."""
        try:
            reply = await self._command(b"RSET")
        except (aiosmtplib.SMTPException, ConnectionError):
            self.smtp.close()
            return False
        if reply.code != 250:
            self.smtp.close()
            return False
        return True

    async def close(self) -> None:
        """QUIT politely; a dead connection is simply dropped."""
        try:
            if self.smtp.is_connected:
                await asyncio.wait_for(self.smtp.quit(), timeout=2)
        except (aiosmtplib.SMTPException, ConnectionError, TimeoutError):
            pass
        finally:
            self.smtp.close()


class SMTPTransport:
    """Send through an SMTP server with aiosmtplib; one shared TLS context for all connections."""

    def __init__(self, settings: SMTPSettings) -> None:
        self.settings = settings
        password = settings.password
        secure = settings.security in ("tls", "starttls")
        if settings.username and not secure and not is_loopback(settings.host):
            raise DeliveryError(
                f"refusing to send the SMTP password unencrypted to {settings.host}; "
                'set security = "starttls" or "tls" in [smtp]'
            )
        if settings.username and not password:
            raise DeliveryError("[smtp] username is set but DIGEST_SMTP_PASSWORD is empty")
        self._password = password
        self.redact = Redactor(settings.username or "", password or "")
        # One context for every connection: building one per connect is very slow.
        self.tls_context = ssl.create_default_context() if secure else None

    def describe(self) -> str:
        """host:port and its security in words, without credentials."""
        s = self.settings
        words = {"tls": "over TLS", "starttls": "with STARTTLS", "none": "unencrypted"}[s.security]
        return f"{s.host}:{s.port} {words}"

    async def connect(self) -> SMTPConnection:
        """Connect, say EHLO, upgrade or wrap TLS as configured, log in when configured.

        The server's words in the error never carry the password (`Redactor`)."""
        try:
            return await self._connect()
        except DeliveryError as exc:
            raise DeliveryError(self.redact(exc.message), retryable=exc.retryable) from None

    async def _connect(self) -> SMTPConnection:
        s = self.settings
        # STARTTLS and the login are done step by step below, so that a server without
        # STARTTLS (or AUTH) is told apart from a passing failure: retrying cannot help.
        smtp = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            local_hostname=s.local_hostname,  # avoids a getfqdn() per connect
            timeout=s.timeout,
            use_tls=s.security == "tls",
            start_tls=False,
            tls_context=self.tls_context,
        )
        try:
            await smtp.connect()
            await _greet(smtp)
            if s.security == "starttls":
                if not smtp.supports_extension("starttls"):
                    smtp.close()
                    raise DeliveryError(f"{self.describe()}: the server does not offer STARTTLS; set security "
                                        '= "tls" (port 465) or use a server that offers it', retryable=False)
                try:
                    await smtp.starttls()
                except aiosmtplib.SMTPResponseException as exc:
                    # RFC 3207 4: 454 "TLS not available" from a server that offers it is a broken TLS
                    # set-up there (a missing certificate, say); retrying within a send cannot fix it.
                    smtp.close()
                    raise DeliveryError(f"{self.describe()}: the server offers STARTTLS but would not start TLS: "
                                        f"{exc.code} {reply_text(exc.message)} (its TLS set-up needs fixing; "
                                        'or use security = "tls" on port 465)', retryable=False) from None
                await _greet(smtp)  # RFC 3207 4.2: what was learnt before TLS is forgotten; ask again
            if s.username:
                if not smtp.supports_extension("auth"):
                    smtp.close()
                    raise DeliveryError(f"{self.describe()}: the server offers no login (AUTH) here",
                                        retryable=False)
                await smtp.login(s.username, self._password)
        except aiosmtplib.SMTPConnectResponseError as exc:
            raise DeliveryError(f"{self.describe()} refused the connection: {exc.code} {exc.message}") from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"{self.describe()} refused the login: {exc.code} {exc.message}",
                                retryable=False) from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"TLS with {self.describe()} failed: {exc.reason or exc}", retryable=False) from None
        except aiosmtplib.SMTPResponseException as exc:
            smtp.close()
            raise DeliveryError(f"{self.describe()} refused the greeting: {exc.code} {exc.message}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise DeliveryError(f"cannot connect to {self.describe()}: {exc}") from None
        return SMTPConnection(smtp, s.timeout, s.data_timeout, self.redact)


@dataclass
class MemoryTransport:
    """A working transport that keeps every message in a list: for tests and dry runs."""

    delivered: list[tuple[str, ComposedMessage]] = field(default_factory=list)
    refuse: dict[str, Outcome] = field(default_factory=dict)
    connections: int = 0

    def describe(self) -> str:
        """Where messages go."""
        return "memory"

    async def connect(self) -> _MemoryConnection:
        """Open a connection that appends to `delivered`."""
        self.connections += 1
        return _MemoryConnection(self)


class _MemoryConnection:
    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport

    async def send(self, message: ComposedMessage, *, sender: str) -> Outcome:
        """Keep the message; refuse it if told to."""
        await asyncio.sleep(0)
        refused = self.transport.refuse.get(message.recipient)
        if refused is not None:
            return refused
        self.transport.delivered.append((sender, message))
        return Outcome("sent", 250, "OK")

    async def close(self) -> None:
        """Nothing to close."""
        return None
