"""The one place that opens the transport: the configured SMTP relay, or the embedded mailbox.

Without [smtp], mail goes to a local capture server that writes each message
into the workspace's outbox/ (a Maildir). Every sender — an issue's campaign,
a test copy, a signup's confirmation — opens its way out here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from digest.compose import ComposedMessage
from digest.core.errors import DeliveryError
from digest.core.settings import SMTPSettings
from digest.deliver.mailbox import embedded_mailbox
from digest.deliver.transport import SMTPTransport

__all__ = ["EMBEDDED_MAILBOX", "Outlet", "open_transport", "send_one_message"]

EMBEDDED_MAILBOX = "the embedded mailbox (outbox/)"


@dataclass(frozen=True, slots=True)
class Outlet:
    """An open way out: the transport and where it goes, for humans."""

    transport: SMTPTransport
    where: str
    embedded: bool


@asynccontextmanager
async def open_transport(smtp: SMTPSettings | None, *, outbox: Path) -> AsyncIterator[Outlet]:
    """The relay of [smtp], or (when there is none) the embedded mailbox, open for this block."""
    if smtp is not None:
        transport = SMTPTransport(smtp)
        yield Outlet(transport, transport.describe(), embedded=False)
        return
    async with embedded_mailbox(outbox) as local:
        yield Outlet(SMTPTransport(local), EMBEDDED_MAILBOX, embedded=True)


async def send_one_message(smtp: SMTPSettings | None, *, outbox: Path, message: ComposedMessage,
                           sender: str) -> str:
    """Send one message outside any campaign (a test copy, a confirmation); where it went.

    Raises DeliveryError naming the recipient when the server refuses it.
    """
    async with open_transport(smtp, outbox=outbox) as outlet:
        connection = await outlet.transport.connect()
        try:
            outcome = await connection.send(message, sender=sender)
        finally:
            await connection.close()
    if outcome.status != "sent":
        raise DeliveryError(f"{message.recipient}: {outcome.code} {outcome.reply}")
    return outlet.where
