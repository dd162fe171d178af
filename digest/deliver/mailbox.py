"""The embedded mailbox: an aiosmtpd server on 127.0.0.1 that stores each message in a Maildir.

It takes every address digest's own check takes (`check_address`): RFC 6531
UTF-8 addresses, and ASCII local parts that merely look like RFC 2047 encoded
words (`=?utf-8?b?…?=@example.org`). aiosmtpd reads a path with the stdlib's
header parser, which decodes such a local part into other text (lone
surrogates when its bytes are not UTF-8); the server here reads the path as
RFC 5321 writes it, and refuses at RCPT, naming it, any address the check
refuses.
"""

from __future__ import annotations

import asyncio
import mailbox
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP as SMTPServer

from digest.core.errors import DeliveryError
from digest.core.settings import SMTPSettings
from digest.subscribers.address import check_address

__all__ = ["MaildirHandler", "MailboxServer", "serve_smtp", "embedded_mailbox", "smtp_path"]

# RFC 5321 4.1.2: Path = "<" [ A-d-l ":" ] Mailbox ">"; a quoted local part may hold '>' and spaces.
_PATH = re.compile(r'\s*<(?:@[^:<>]*:)?(?P<address>(?:"(?:[^"\\]|\\.)*"|[^<>"\s])*@[^<>\s]*)>(?P<rest>.*)', re.DOTALL)
# Some clients leave the brackets out (`MAIL FROM:user@example.org`); aiosmtpd took that, so do we.
_BARE = re.compile(r"\s*(?P<address>[^<>\s\"]+@[^<>\s]+)(?P<rest>(?:\s.*)?)", re.DOTALL)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def smtp_path(arg: str) -> tuple[str | None, str | None]:
    """(address, parameters) of a MAIL FROM / RCPT TO argument as written; (None, None) if malformed.

    The null path is `<>` itself, as aiosmtpd gives it (a bounce's MAIL FROM:<>)."""
    stripped = arg.lstrip()
    if stripped.startswith("<>"):
        return "<>", stripped[2:].strip()
    match = _PATH.fullmatch(arg) or _BARE.fullmatch(arg)
    if match is None:
        return None, None
    return match.group("address"), match.group("rest").strip()


class MailboxServer(SMTPServer):
    """aiosmtpd's server, reading each path literally (no RFC 2047 decoding of an address)."""

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        return smtp_path(arg)


class MaildirHandler:
    """aiosmtpd handler: one Maildir file per accepted message."""

    def __init__(self, path: Path) -> None:
        self.maildir = mailbox.Maildir(path, create=True)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        """Accept an address digest's check accepts; refuse any other with a 553 that names it."""
        shown = _UNPRINTABLE.sub("?", address)[:300]
        try:
            if _UNPRINTABLE.search(address):
                raise ValueError("control characters or bytes that are not UTF-8")
            check_address(address)
        except ValueError as exc:
            reason = _UNPRINTABLE.sub("?", str(exc))[:200]
            return f"553 5.1.3 <{shown}> is not an address digest accepts: {reason}"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Store the message with its Return-Path (the envelope sender, as a delivering MTA writes it: where
        its bounces go) and a Delivered-To line per recipient, then accept it."""
        sender = envelope.mail_from or ""
        header = f"Return-Path: <{sender}>\r\n".encode() if "\r" not in sender and "\n" not in sender else b""
        header += b"".join(f"Delivered-To: {r}\r\n".encode() for r in envelope.rcpt_tos)
        self.maildir.add(header + envelope.original_content)
        return "250 Message accepted for delivery"


@asynccontextmanager
async def serve_smtp(handler: Any, *, host: str = "127.0.0.1", port: int = 0, **options: Any) -> AsyncIterator[int]:
    """Run an aiosmtpd server in this event loop; yield the port it listens on (options go to aiosmtpd)."""
    loop = asyncio.get_running_loop()
    settings = {"hostname": "digest.local", "enable_SMTPUTF8": True, "decode_data": False, **options}
    server = await loop.create_server(lambda: MailboxServer(handler, **settings), host=host, port=port)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        # A client that never said QUIT must not hold the shutdown forever.
        try:
            await asyncio.wait_for(server.wait_closed(), timeout=5)
        except TimeoutError:
            pass


@asynccontextmanager
async def embedded_mailbox(outbox: Path) -> AsyncIterator[SMTPSettings]:
    """Start the local capture server for `outbox/` and yield settings that point at it."""
    try:
        handler = MaildirHandler(outbox)
    except OSError as exc:
        raise DeliveryError(f"cannot create the embedded mailbox: {exc.strerror or exc}", path=str(outbox)) from None
    async with serve_smtp(handler) as port:
        yield SMTPSettings(host="127.0.0.1", port=port, security="none", timeout=30)
