"""`digest serve --smtp PORT`: an SMTP receiver (aiosmtpd) for the bounce and unsubscribe address.

Point the bounce domain at it (a Postfix transport map entry, or the MX).
It accepts mail only for the bounce mailbox (`bounces@…`, `bounces+…@…`),
stores each message in the workspace's `bounces/` Maildir before it says 250
(accepted means kept: written whole and fsynced, else 451 and nothing left
behind), then applies it after the answer, one at a time: handled mail is
filed into `bounces/.Processed/`, anything else stays in `bounces/new/` for
a human and for `digest inbox process`. A slow or hostile message never
holds a client past its 250; a database error never loses a bounce: the
message waits in the Maildir, as does anything still queued when the
receiver stops.

A burst (a mail server flushing its queue of DSNs) meets backpressure: a
session waits up to BACKPRESSURE seconds for a place in the queue before
its 250 (an MTA waits minutes for that answer, RFC 5321 4.5.3.2.6). Past
that it is answered all the same (the message is kept) and remembered, and
the worker applies every remembered message as the queue empties: nothing
answered 250 stays unapplied while the receiver runs, and a log line says
when it falls behind and when it has caught up.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from digest.back.inbox import PROCESSED_FOLDER
from digest.back.parse import MAX_MESSAGE
from digest.back.process import Outcome, Policy, process_message
from digest.core.errors import DigestError, StateError
from digest.deliver.mailbox import serve_smtp
from digest.store.protocol import BackStore

__all__ = ["BounceReceiver", "serve_receiver"]

_QUEUE = 100  # messages waiting to be applied in memory; past it they wait in the Maildir, remembered by name
BACKPRESSURE = 5.0  # seconds a session waits for a place in the queue before it is answered anyway


class BounceReceiver:
    """aiosmtpd handler: the bounce mailbox only; keep, then apply."""

    def __init__(self, maildir: Path, *, store: BackStore, policy: Policy,
                 on_outcome: Callable[[Outcome], None] | None = None, queue_size: int = _QUEUE,
                 backpressure: float = BACKPRESSURE) -> None:
        self.maildir = maildir
        self.queue_size = queue_size
        self.backpressure = backpressure
        # Kept and answered but not queued (a burst): applied by the worker as the queue empties.
        self._behind: deque[tuple[Path, list[str]]] = deque()
        self._behind_total = 0
        self.store = store
        self.policy = policy
        self.on_outcome = on_outcome
        local, _, domain = policy.return_path.lower().rpartition("@")
        self._local, self._domain = local, domain
        # The Maildir's own tmp/ folders (delivery writes there first), not the system's temporary folder.
        for sub in ("tmp", "new", "cur", f"{PROCESSED_FOLDER}/tmp", f"{PROCESSED_FOLDER}/new",  # nosec B108
                    f"{PROCESSED_FOLDER}/cur"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        self._count = 0
        self._queue: asyncio.Queue[tuple[Path, bytes, list[str]]] | None = None

    def accepts(self, address: str) -> bool:
        """True for the bounce mailbox and its +tagged addresses."""
        local, _, domain = address.strip().strip("<>").lower().rpartition("@")
        return domain == self._domain and (local == self._local or local.startswith(self._local + "+"))

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        """Only our mailbox: this is no relay."""
        if not self.accepts(address):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message in the Maildir; 250 once it is safely on disk; apply it after the answer."""
        # Return-Path and Delivered-To keep the envelope, so `digest inbox process` can read it again.
        header = f"Return-Path: <{_clean(envelope.mail_from).strip('<>')}>\r\n".encode()
        header += b"".join(f"Delivered-To: {_clean(r)}\r\n".encode() for r in envelope.rcpt_tos)
        raw = header + envelope.original_content
        self._count += 1  # here, in the event loop: concurrent sessions never share a file name
        name = f"{time.time():.6f}.{os.getpid()}_{self._count}.{socket.gethostname().replace('/', '_')}"
        try:
            path = await asyncio.to_thread(self._keep, name, raw)
        except OSError as exc:
            return f"451 4.3.0 Cannot store the message now: {exc.strerror or 'I/O error'}"
        queue, rcpt_tos = self._queue, list(envelope.rcpt_tos)
        if queue is None:
            return "250 2.0.0 Kept"  # not started: it waits in new/ for `digest inbox process`
        if not self._behind:
            try:
                # Backpressure: a burst waits for the worker a while rather than pile up.
                await asyncio.wait_for(queue.put((path, raw, rcpt_tos)), timeout=self.backpressure)
                return "250 2.0.0 Kept"
            except TimeoutError:
                pass
        if not self._behind:
            print(f"digest: warning: the SMTP receiver is falling behind: messages wait in {self.maildir}/new "
                  "and are applied as the queue empties", file=sys.stderr)
        self._behind.append((path, rcpt_tos))
        self._behind_total += 1
        return "250 2.0.0 Kept"

    async def apply_queued(self) -> None:
        """Apply kept messages one at a time, for as long as the receiver runs."""
        queue = self._queue = asyncio.Queue(maxsize=self.queue_size)
        while True:
            path, raw, rcpt_tos = await queue.get()
            try:
                await self._apply(path, raw, rcpt_tos)
            except Exception as exc:  # a bug in one message's handling must not stop the receiver
                print(f"digest: warning: {path.name} kept in {self.maildir}/new for later: "
                      f"{type(exc).__name__}: {str(exc)[:200]!r}", file=sys.stderr)
            finally:
                # Refilled before this one is done: `drain` never sees an empty queue with messages behind.
                await self._catch_up(queue)
                queue.task_done()

    async def _catch_up(self, queue: asyncio.Queue[tuple[Path, bytes, list[str]]]) -> None:
        """Move messages answered while the queue was full into it, oldest first, as places free up."""
        while self._behind and not queue.full():
            path, rcpt_tos = self._behind.popleft()
            try:
                raw = await asyncio.to_thread(path.read_bytes)
            except OSError:
                continue  # `digest inbox process` took it meanwhile: applied there
            queue.put_nowait((path, raw, rcpt_tos))
            if not self._behind:
                print(f"digest: the SMTP receiver has caught up: {self._behind_total} message(s) from "
                      f"{self.maildir}/new queued again", file=sys.stderr)
                self._behind_total = 0

    async def drain(self) -> None:
        """Wait until every queued message is applied (tests, shutdown)."""
        if self._queue is not None:
            await self._queue.join()

    async def _apply(self, path: Path, raw: bytes, rcpt_tos: list[str]) -> None:
        try:
            outcome = await asyncio.to_thread(process_message, raw, store=self.store, policy=self.policy,
                                              envelope_to=rcpt_tos)
        except DigestError as exc:
            print(f"digest: warning: {path.name} kept in {self.maildir}/new for later: {exc}", file=sys.stderr)
            return
        if outcome.handled:
            try:
                os.rename(path, self.maildir / PROCESSED_FOLDER / "cur" / f"{path.name}:2,S")
            except OSError:
                pass  # it stays in new/; a later `inbox process` files it (applying it again changes nothing)
        if self.on_outcome:
            self.on_outcome(outcome)

    def _keep(self, name: str, raw: bytes) -> Path:
        """Maildir delivery: write all of it in tmp/, fsync, rename into new/; on any error nothing stays."""
        tmp = self.maildir / "tmp" / name
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                view = memoryview(raw)
                while view:
                    written = os.write(fd, view)  # a full disk writes part of it first, then fails
                    if written <= 0:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            final = self.maildir / "new" / name
            os.rename(tmp, final)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        return final


def _clean(text: str) -> str:
    # An envelope address goes into a header line: no line breaks, no control characters.
    return "".join(c for c in str(text) if c.isprintable())[:320]


@asynccontextmanager
async def serve_receiver(handler: BounceReceiver, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[int]:
    """Run the receiver in this event loop; yield its port."""
    async with AsyncExitStack() as stack:
        try:
            bound = await stack.enter_async_context(serve_smtp(
                handler, host=host, port=port, hostname=socket.gethostname() or "digest.local",
                data_size_limit=MAX_MESSAGE))
        except OSError as exc:
            raise StateError(f"cannot listen for SMTP on {host}:{port}: {exc.strerror or exc}") from None
        worker = asyncio.create_task(handler.apply_queued())
        await asyncio.sleep(0)  # the worker has made its queue before the first client can connect
        try:
            yield bound
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
