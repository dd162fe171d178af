"""Group commit of send outcomes: callers await their result's commit; one transaction per wake-up.

The store call runs in a worker thread, so a slow disk or a remote PostgreSQL
never stalls the event loop that drives the SMTP connections.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from digest.core.errors import StateError
from digest.store import Result
from digest.store.roles import CampaignJournal

T = TypeVar("T")

__all__ = ["ResultWriter", "in_store", "STORE_PATIENCE"]

STORE_PATIENCE = 60.0  # seconds a sender waits out a database that went away (a restart, a failover)


async def in_store(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a store call in a worker thread; a lost database connection is tried again for a while.

    A PostgreSQL restart or failover drops every pooled connection; the pool makes new ones,
    so the same call a moment later works. Other errors, and one lasting longer, are raised.
    """
    waited, pause = 0.0, 0.2
    while True:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except StateError as exc:
            if not exc.retryable or waited >= STORE_PATIENCE:
                raise
        await asyncio.sleep(pause)
        waited += pause
        pause = min(pause * 2, 5.0)


class ResultWriter:
    """Collects results from the pool and commits them in batches."""

    def __init__(self, store: CampaignJournal, *, run: int, on_commit: Callable[[list[Result]], None] | None = None,
                 clock: Callable[[], float] = time.time, limits: dict[str, Any] | None = None) -> None:
        self.store = store
        self.limits = limits or {}  # the bounce policy's soft limits, for refusals recorded with outcomes
        self.run_id = run
        self.on_commit = on_commit
        self.clock = clock
        self._pending: list[tuple[Result, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._error: StateError | None = None

    async def record(self, result: Result) -> None:
        """Queue a result and return once it is committed; raise if the store cannot be written."""
        if self._error is not None:
            raise self._error  # the writer is gone: nobody would ever commit this
        future = asyncio.get_running_loop().create_future()
        self._pending.append((result, future))
        self._wake.set()
        await future

    async def run(self) -> None:
        """Commit whatever has queued up, until closed and drained."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                results = [r for r, _ in batch]
                try:
                    await in_store(self.store.record, results, run=self.run_id, now=self.clock(), **self.limits)
                except StateError as exc:
                    self._error = exc
                    for _, future in [*batch, *self._pending]:
                        if not future.done():
                            future.set_exception(exc)
                    self._pending = []
                    raise
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
                if self.on_commit:
                    self.on_commit(results)
            if self._closed and not self._pending:
                return

    def close(self) -> None:
        """Ask the writer to finish once everything queued is committed."""
        self._closed = True
        self._wake.set()
