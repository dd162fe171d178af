"""Send one copy of an issue to one address, outside the journal: `send --test-to` and the preview form."""

from __future__ import annotations

from pathlib import Path

from digest.app.context import Context
from digest.app.issue_folder import load_issue
from digest.core.errors import SubscriberError
from digest.core.model import Subscriber
from digest.deliver.outlet import send_one_message
from digest.subscribers import check_address

__all__ = ["send_one"]


async def send_one(ctx: Context, folder: Path, address: str) -> str:
    """Send the issue in `folder` to `address`; return where it went. Raises DigestError."""
    try:
        email = check_address(address.strip())
    except ValueError as exc:
        raise SubscriberError(f"test address: {exc}") from None
    settings = ctx.settings
    _, rendered = load_issue(folder)
    skeleton = ctx.skeleton(rendered, list_name="test")
    # Its own Message-ID: a test copy that shared the real one could make the real issue look like a
    # duplicate to the reader's mail client or server.
    message = skeleton.compose(Subscriber(email, "Test reader"), message_id=skeleton.test_message_id())
    where = await send_one_message(settings.smtp, outbox=ctx.workspace.outbox, message=message,
                                   sender=message.sender or settings.newsletter.sender_address)
    return f"sent a test of issue {rendered.number} to {email} via {where}"
