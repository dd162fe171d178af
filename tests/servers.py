"""Real SMTP servers for tests: aiosmtpd on 127.0.0.1, port 0, in a background thread."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.smtp import SMTP as SMTPServer


@dataclass
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class RecordingHandler:
    """Accept everything and remember it."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK queued"


class ThreadedSMTP:
    """Run an aiosmtpd server with `handler` in its own thread and event loop."""

    def __init__(self, handler: Any, **server_kwargs: Any) -> None:
        self.handler = handler
        self.server_kwargs = server_kwargs
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    def __enter__(self) -> ThreadedSMTP:
        self.thread.start()

        async def start() -> asyncio.base_events.Server:
            kwargs = {"hostname": "test.local", "enable_SMTPUTF8": True, "decode_data": False}
            kwargs.update(self.server_kwargs)
            return await asyncio.get_running_loop().create_server(
                lambda: SMTPServer(self.handler, **kwargs), host="127.0.0.1", port=0
            )

        self._server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class FaultPlan:
    """What the misbehaving server does, by recipient address."""

    refuse_connections: int = 0  # greet the first N connections with 421 and hang up
    defer_once: set[str] = field(default_factory=set)  # 450 at RCPT the first time
    defer_always: set[str] = field(default_factory=set)  # 452 at RCPT, every time (a mailbox that stays full)
    reject: set[str] = field(default_factory=set)  # 550 at RCPT, always
    drop_in_data_once: set[str] = field(default_factory=set)  # hang up after the payload, before the reply
    slow: set[str] = field(default_factory=set)  # answer RCPT after a pause
    defer_data_once: set[str] = field(default_factory=set)  # 451 to DATA the first time


class FaultyHandler(RecordingHandler):
    """Accepts like RecordingHandler, but misbehaves as the plan says."""

    def __init__(self, plan: FaultPlan) -> None:
        super().__init__()
        self.plan = plan
        self.connections = 0
        self.refused = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.plan.slow:
            await asyncio.sleep(0.05)
        if address in self.plan.reject:
            return "550 5.1.1 No such user here"
        if address in self.plan.defer_always:
            return "452 4.2.2 Mailbox full"
        if address in self.plan.defer_once:
            self.plan.defer_once.discard(address)
            return "450 4.2.1 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        recipient = envelope.rcpt_tos[0]
        if recipient in self.plan.drop_in_data_once:
            self.plan.drop_in_data_once.discard(recipient)
            server.transport.abort()
            return "250 never seen by the client"
        if recipient in self.plan.defer_data_once:
            self.plan.defer_data_once.discard(recipient)
            return "451 4.3.0 Temporary queue failure"
        return await super().handle_DATA(server, session, envelope)


class FaultySMTPServer(SMTPServer):
    """An aiosmtpd SMTP that can refuse a connection with 421 before its greeting."""

    def connection_made(self, transport: Any) -> None:
        handler = self.event_handler
        handler.connections += 1
        if handler.refused < handler.plan.refuse_connections:
            handler.refused += 1
            transport.write(b"421 4.3.2 Too many connections, try later\r\n")
            transport.close()
            return
        super().connection_made(transport)


class ThreadedFaultySMTP(ThreadedSMTP):
    """ThreadedSMTP with the fault-injecting server class."""

    def __enter__(self) -> ThreadedFaultySMTP:
        self.thread.start()

        async def start() -> asyncio.base_events.Server:
            return await asyncio.get_running_loop().create_server(
                lambda: FaultySMTPServer(self.handler, hostname="faulty.local", decode_data=False),
                host="127.0.0.1", port=0,
            )

        self._server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self


class RandomFaultHandler(RecordingHandler):
    """A server that misbehaves at random, at rates like a bad day at a big provider.

    Per attempt: `defer` → 451 at RCPT; `drop / 2` → hang up at RCPT; `drop / 2` → take
    the message, then hang up before replying (the client cannot know it arrived:
    the one duplicate such a drop may cause). Per address: `reject` → always 550.
    """

    def __init__(self, *, seed: int, drop: float = 0.05, defer: float = 0.10, reject: float = 0.02,
                 slow: float = 0.02) -> None:
        super().__init__()
        import random

        self.rng = random.Random(seed)
        self.drop, self.defer, self.reject_rate, self.slow = drop, defer, reject, slow
        self.drops_before_data = 0
        self.drops_after_data = 0
        self.deferred = 0

    def rejects(self, address: str) -> bool:
        import zlib

        return zlib.crc32(address.encode()) % 10_000 < self.reject_rate * 10_000

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.rng.random() < self.slow:
            await asyncio.sleep(0.02)
        if self.rejects(address):
            return "550 5.1.1 Recipient address rejected: no such user"
        roll = self.rng.random()
        if roll < self.defer:
            self.deferred += 1
            return "451 4.7.1 Greylisted, try again later"
        if roll < self.defer + self.drop / 2:
            self.drops_before_data += 1
            server.transport.abort()
            return "421 4.4.2 gone"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if self.rng.random() < self.drop / 2:
            self.drops_after_data += 1
            server.transport.abort()  # stored, but the 250 never reaches the client
        return reply


@dataclass
class SlowHandler(RecordingHandler):
    """Accepts everything, answering the final dot after `delay` seconds (the message is stored first)."""

    delay: float = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return reply


@dataclass
class SilentAfterDataHandler(RecordingHandler):
    """Stores every message and never answers the final dot: the client cannot know it arrived."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await super().handle_DATA(server, session, envelope)
        await asyncio.Event().wait()  # forever: until the client hangs up
        return "250 never sent"
