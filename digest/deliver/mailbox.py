"""The embedded mailbox: an aiosmtpd server on 127.0.0.1 that stores each message in a Maildir."""

from __future__ import annotations

import asyncio
import mailbox
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP as SMTPServer

from digest.core.errors import DeliveryError
from digest.core.settings import SMTPSettings

__all__ = ["MaildirHandler", "serve_smtp", "embedded_mailbox"]


class MaildirHandler:
    """aiosmtpd handler: one Maildir file per accepted message."""

    def __init__(self, path: Path) -> None:
        self.maildir = mailbox.Maildir(path, create=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Store the message with a Delivered-To line per recipient, then accept it."""
        header = b"".join(f"Delivered-To: {r}\r\n".encode() for r in envelope.rcpt_tos)
        self.maildir.add(header + envelope.original_content)
        return "250 Message accepted for delivery"


@asynccontextmanager
async def serve_smtp(handler: Any, *, host: str = "127.0.0.1", port: int = 0, **options: Any) -> AsyncIterator[int]:
    """Run an aiosmtpd server in this event loop; yield the port it listens on (options go to aiosmtpd)."""
    loop = asyncio.get_running_loop()
    settings = {"hostname": "digest.local", "enable_SMTPUTF8": True, "decode_data": False, **options}
    server = await loop.create_server(lambda: SMTPServer(handler, **settings), host=host, port=port)
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
