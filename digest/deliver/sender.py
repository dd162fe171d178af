"""The send manager: journal rows → compose → bounded queue → a pool of K connections."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from digest.compose import MessageSkeleton
from digest.deliver.journal import Journal, JournalRow, JournalWriter, Result
from digest.deliver.transport import Connection, Outcome, Transport
from digest.errors import DeliveryError, StateError

__all__ = ["SendOptions", "SendReport", "TokenBucket", "send_issue"]

CONNECT_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class SendOptions:
    """How hard and how carefully to send."""

    concurrency: int = 8
    rate: float | None = None  # messages per second, None for unlimited
    max_attempts: int = 5
    retry_failed: bool = False
    limit: int | None = None
    backoff_base: float = 1.0
    backoff_max: float = 300.0


@dataclass
class SendReport:
    """What one run did; `counts` are the journal's totals for the issue afterwards."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    attempts: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Messages accepted per second in this run."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0


class TokenBucket:
    """At most `rate` messages per second on average, in bursts of at most `burst`."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate / 10)
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.stamp = clock()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        """Wait for one token."""
        async with self._lock:
            while True:
                now = self.clock()
                self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                # A hair under one token counts: float rounding must not spin forever.
                if self.tokens >= 1 - 1e-9:
                    self.tokens = max(0.0, self.tokens - 1)
                    return
                await self.sleep((1 - self.tokens) / self.rate)


def backoff(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff with full jitter (attempt 1 → up to `base` seconds)."""
    # Jitter spreads retries out; it needs no cryptographic randomness.
    return random.uniform(base / 2, min(cap, base * 2 ** (attempt - 1)))  # nosec B311


async def send_issue(
    *,
    journal: Journal,
    skeleton: MessageSkeleton,
    transport: Transport,
    sender: str,
    options: SendOptions,
    stop: asyncio.Event | None = None,
    on_progress: Callable[[SendReport], None] | None = None,
) -> SendReport:
    """Send every journal row that is not yet sent; return what happened."""
    stop = stop or asyncio.Event()
    report = SendReport()
    started = time.monotonic()
    bucket = TokenBucket(options.rate) if options.rate else None
    queue: asyncio.Queue[JournalRow | None] = asyncio.Queue(maxsize=options.concurrency * 4)

    def committed(results: list[Result]) -> None:
        """Count committed results and report progress."""
        for r in results:
            setattr(report, r.status, getattr(report, r.status) + 1)
        report.attempts += len(results)
        report.seconds = time.monotonic() - started
        if on_progress:
            on_progress(report)

    writer = JournalWriter(journal, committed)
    run_id = journal.start_run(retry_failed=options.retry_failed)

    async def produce() -> None:
        """Hand out due journal rows until none is left or a stop is asked."""
        produced = 0
        while not stop.is_set():
            after = 0
            while not stop.is_set():
                budget = 500 if options.limit is None else min(500, options.limit - produced)
                if budget <= 0:
                    return
                rows = journal.ready(max_attempts=options.max_attempts, after=after, limit=budget)
                if not rows:
                    break
                for row in rows:
                    await queue.put(row)
                    if stop.is_set():
                        return
                produced += len(rows)
                after = rows[-1].id
            # Everything handed out is journaled before deferred rows are looked at again.
            await queue.join()
            due = journal.next_retry(max_attempts=options.max_attempts)
            if due is None:
                return
            delay = due - time.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except TimeoutError:
                    pass

    async def connect() -> Connection:
        """Open a connection, retrying transient refusals with backoff."""
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                return await transport.connect()
            except DeliveryError as exc:
                if attempt == CONNECT_ATTEMPTS or stop.is_set() or not exc.retryable:
                    raise
                await asyncio.sleep(backoff(attempt, base=options.backoff_base, cap=10))
        raise AssertionError("unreachable")

    async def work() -> None:
        """One pool member: compose, pace, send, journal, one message at a time."""
        connection: Connection | None = None
        try:
            while True:
                row = await queue.get()
                if row is None:
                    queue.task_done()
                    return
                try:
                    if stop.is_set():
                        continue  # leave it pending: the next run sends it
                    if connection is None:
                        connection = await connect()
                    message = skeleton.compose(row.subscriber, list_name=row.list_name)
                    if bucket:
                        await bucket.take()
                    outcome = await connection.send(message, sender=sender)
                    if outcome.connection_lost:
                        await connection.close()
                        connection = None
                    await writer.record(_result(row, outcome, options))
                finally:
                    queue.task_done()
        finally:
            if connection is not None:
                await connection.close()

    producer: asyncio.Task[None] | None = None
    writer_task = asyncio.create_task(writer.run())
    workers = [asyncio.create_task(work()) for _ in range(max(1, options.concurrency))]
    failed = True  # until the run ends normally: a bookkeeping error must not hide the real one
    try:
        producer = asyncio.create_task(produce())
        # A worker that cannot connect at all ends the run; so does a journal failure.
        await _supervise({producer}, {producer, writer_task, *workers})
        for _ in workers:
            await queue.put(None)
        await _supervise(set(workers), {writer_task, *workers})
        writer.close()
        await writer_task
        failed = False
    finally:
        tasks = [*workers, writer_task, *([producer] if producer else [])]
        for task in tasks:
            task.cancel()
        # Let every worker run its `finally` (QUIT, close) before we return or raise.
        await asyncio.gather(*tasks, return_exceptions=True)
        report.seconds = time.monotonic() - started
        report.interrupted = stop.is_set()
        try:
            journal.finish_run(run_id, sent=report.sent, seconds=report.seconds)
            report.counts = journal.counts()
        except StateError:
            if not failed:
                raise  # the run itself went well: this error is the one to report
    return report


async def _supervise(targets: set[asyncio.Task[None]], watched: set[asyncio.Task[None]]) -> None:
    """Wait until every target task is done; raise the first error of any watched task."""
    watched = set(watched)
    while targets & watched:
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = task.exception()
            if error is not None:
                raise error
        watched -= done


def _result(row: JournalRow, outcome: Outcome, options: SendOptions) -> Result:
    retry_at = 0.0
    if outcome.status == "deferred":
        retry_at = time.time() + backoff(row.attempts + 1, base=options.backoff_base, cap=options.backoff_max)
    return Result(row.id, outcome.status, outcome.code, outcome.reply, retry_at)
