"""The channel seam: the ways an issue goes out. Email (a campaign to lists) is one; others plug in beside it.

A channel is a small object with a name and `publish`. The app's send opens
the email campaign and hands it over as `EmailChannel`; a later output (a
webhook post of the issue, a Mastodon status) is one module that registers a
factory — `register_channel("webhook", make_webhook)` — named in BUILTIN here,
and is published by the send (any sender, a worker too) that finds the email
campaign complete, without a change to send. Such a channel records what it published once (a workspace
fact, `store.agree_on`), so a resumed send does not post twice.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from digest.compose import MessageSkeleton
from digest.core.model import Rendered
from digest.core.settings import Settings, SMTPSettings
from digest.deliver.audience import AudienceRead
from digest.deliver.outlet import open_transport
from digest.deliver.sender import SendOptions, SendReport, send_campaign
from digest.deliver.transport import Transport
from digest.store import Campaign, CampaignStatus
from digest.store.protocol import SenderStore

__all__ = ["Channel", "ChannelListener", "ChannelStore", "EmailChannel", "register_channel", "extra_channels",
           "publish_beside_email"]


class ChannelListener(Protocol):
    """What a channel tells as it goes (the app's send listener is one)."""

    def on_start(self, where: str, status: CampaignStatus) -> None:
        """Sending begins, through `where`."""

    def on_progress(self, report: SendReport) -> None:
        """The run so far."""

    def on_notice(self, text: str) -> None:
        """One line worth showing."""


class Channel(Protocol):
    """One way out for an issue."""

    name: str

    async def publish(self, rendered: Rendered, listener: ChannelListener, *, stop: asyncio.Event) -> str:
        """Send the issue out this way; a one-line summary. `stop` set: finish what is in flight and return."""
        ...


@dataclass
class EmailChannel:
    """The email campaign of one send: the skeleton, the campaign and its journal, and the way out."""

    store: SenderStore
    campaign: Campaign
    skeleton: MessageSkeleton
    smtp: SMTPSettings | None
    outbox: Path
    sender: str
    options: SendOptions
    reader: Callable[[threading.Event], AudienceRead] | None = None
    transport: Transport | None = None  # given (tests, a memory transport); else [smtp] or the embedded mailbox
    name: str = "email"
    report: SendReport | None = None

    async def publish(self, rendered: Rendered, listener: ChannelListener, *, stop: asyncio.Event) -> str:
        """Send the campaign's due rows; the report stays on `self.report`."""
        async with AsyncExitStack() as stack:
            transport = self.transport
            where = transport.describe() if transport is not None else ""
            if transport is None:
                outlet = await stack.enter_async_context(open_transport(self.smtp, outbox=self.outbox))
                transport, where = outlet.transport, outlet.where
            listener.on_start(where, await asyncio.to_thread(self.store.campaign_status, self.campaign,
                                                             now=time.time()))
            self.report = await send_campaign(store=self.store, campaign=self.campaign, skeleton=self.skeleton,
                                              transport=transport, sender=self.sender, options=self.options,
                                              reader=self.reader, stop=stop, on_progress=listener.on_progress)
        return f"issue {rendered.number}: {self.report.sent} sent by email"


class ChannelStore(Protocol):
    """What a channel beside email may keep: a workspace fact, first writer wins (\"issue 3 posted\")."""

    def agree_on(self, name: str, value: str) -> str:
        """Record `value` under `name` unless one is there; return the one recorded."""
        ...


ChannelFactory = Callable[[Settings, ChannelStore], "Channel | None"]
_FACTORIES: dict[str, ChannelFactory] = {}
#: The modules of the channels beside email: importing one registers it. A new channel is one line here.
BUILTIN: tuple[str, ...] = ()


def register_channel(name: str, factory: ChannelFactory) -> None:
    """Add a channel beside email: `factory(settings, store)` gives it, or None when the workspace does not
    use it (`store` records what it published once, so a resumed or repeated send does not post twice)."""
    _FACTORIES[name] = factory


def extra_channels(settings: Settings, store: ChannelStore) -> list[Channel]:
    """The channels beside email this workspace uses, in the order they were registered."""
    for module in BUILTIN:
        importlib.import_module(module)
    made = (factory(settings, store) for factory in _FACTORIES.values())
    return [channel for channel in made if channel is not None]


async def publish_beside_email(channels: list[Channel], rendered: Rendered, listener: ChannelListener, *,
                               stop: asyncio.Event) -> None:
    """Publish the issue on each channel beside email. The email went out already: a channel that fails
    is said in one line and does not fail the send (its next completing send tries it again)."""
    for channel in channels:
        try:
            listener.on_notice(await channel.publish(rendered, listener, stop=stop))
        except Exception as exc:  # a channel is a plug-in: whatever it raises, the send stays done
            listener.on_notice(f"{channel.name}: issue {rendered.number} not published: {type(exc).__name__}: "
                               f"{str(exc)[:200]}")
