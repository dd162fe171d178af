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
