"""The send manager: claim due rows under a lease → compose → bounded queue → a pool of K connections.

Any number of these may work on one campaign at once, in one process or on
several hosts: each row is claimed (owner, lease expiry) in the store before
it is composed, and a sender renews its leases while it works. A killed
sender's rows return when its lease runs out; only its messages in flight can
go twice.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from digest.back.policy import rcpt_refusal_kind
from digest.compose import MessageSkeleton
from digest.core.errors import DeliveryError, StateError
from digest.deliver.audience import AudienceRead
from digest.deliver.breaker import RefusalBreaker
from digest.deliver.leases import reap_dead_local_owners
from digest.deliver.results import ResultWriter, in_store
from digest.deliver.transport import Connection, Outcome, Transport
from digest.store import Campaign, CampaignStatus, ClaimedRow, Result
from digest.store.base import host_id, owner_id
from digest.store.protocol import SenderStore

__all__ = ["SendOptions", "SendReport", "TokenBucket", "send_campaign", "backoff", "UNKNOWN_DELAY"]

CONNECT_ATTEMPTS = 5
UNKNOWN_DELAY = 60.0


@dataclass(frozen=True, slots=True)
class SendOptions:
    """How hard and how carefully to send."""

    concurrency: int = 8
    rate: float | None = None  # messages per second, None for unlimited
    max_attempts: int = 5
    retry_failed: bool = False
    retry_unknown: bool = False
    limit: int | None = None
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    lease: float = 60.0  # seconds a claimed row stays ours without renewal
    unknown_delay: float = UNKNOWN_DELAY  # at least this long before an unknown outcome is tried again
    worker: bool = False  # join a campaign another sender started; never read the lists
    poll: float = 0.5  # how often to look again while others hold rows or read the lists
    soft_limit: int = 3  # [bounces]: soft refusals (issues in a row) that suppress an address …
    soft_window: float = 30 * 86400.0  # … within this many seconds


@dataclass
class SendReport:
    """What one run did; `counts` are the campaign's totals afterwards (all senders)."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    unknown: int = 0
    attempts: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    status: CampaignStatus | None = None
    audience: AudienceRead | None = None
    campaign_sent: int = 0  # by every sender of the campaign, polled while sending
    workers: int = 0  # senders at work on the campaign, this one included
    stopped: str | None = None  # why the run stopped by itself (the relay refused most recipients)

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


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.01, seconds))
    except TimeoutError:
        pass


async def send_campaign(
    *,
    store: SenderStore,
    campaign: Campaign,
    skeleton: MessageSkeleton,
    transport: Transport,
    sender: str,
    options: SendOptions,
    reader: Callable[[threading.Event], AudienceRead] | None = None,
    stop: asyncio.Event | None = None,
    on_progress: Callable[[SendReport], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> SendReport:
    """Send every due row of the campaign, alongside any other senders; return what this run did.

    `reader`, when given, journals the audience in a thread while sending goes on.
    """
    stop = stop or asyncio.Event()
    report = SendReport()
    started = time.monotonic()
    owner = owner_id()
    bucket = TokenBucket(options.rate) if options.rate else None
    queue: asyncio.Queue[ClaimedRow | None] = asyncio.Queue(maxsize=options.concurrency * 4)
    # Small claims: rows wait in our queue under our lease, so other senders should find rows left to take.
    batch = max(4, min(100, options.concurrency * 2))
    # Every lease we hold runs at least until then; renewals push it on. Past it (a suspended process,
    # a laptop asleep), a row is checked to be still ours before it is sent.
    held = {"until": clock() + options.lease, "lapse": float("-inf")}
    claimed_at: dict[int, float] = {}
    run = await in_store(store.start_run, campaign, owner=owner, host=host_id(), now=clock(),
                                  retry_failed=options.retry_failed, retry_unknown=options.retry_unknown)
    reader_stop = threading.Event()
    reading: asyncio.Future[AudienceRead] | None = None
    if reader is not None:
        reading = asyncio.ensure_future(asyncio.to_thread(reader, reader_stop))

    def committed(results: list[Result]) -> None:
        """Count committed results and report progress."""
        for r in results:
            setattr(report, r.status, getattr(report, r.status) + 1)
        report.attempts += len(results)
        report.seconds = time.monotonic() - started
        if on_progress:
            on_progress(report)

    writer = ResultWriter(store, run=run, on_commit=committed, clock=clock,
                          limits={"soft_limit": options.soft_limit, "soft_window": options.soft_window})
    breaker = RefusalBreaker()

    async def produce() -> None:
        """Claim due rows and hand them to the pool until the campaign has nothing left for us."""
        produced, after, waited, settled = 0, 0, 0.0, False
        while not stop.is_set():
            budget = batch if options.limit is None else min(batch, options.limit - produced)
            if budget <= 0:
                return
            if after == 0:
                # Looked at before the claim: a reader that finishes after an empty claim has
                # added rows that claim could not see, so we must not take its end for ours.
                own_reader = reading is not None and not reading.done()
                complete, being_read = await in_store(store.reading_state, campaign.id, now=clock())
            claim = await in_store(
                store.claim, campaign.id, owner=owner, run=run, limit=budget, lease_until=clock() + options.lease,
                now=clock(), max_attempts=options.max_attempts, after=after)
            rows = claim.rows
            if rows:
                stamp = clock()
                for row in rows:
                    claimed_at[row.id] = stamp
                for row in rows:
                    await queue.put(row)
                produced += len(rows)
                after, settled = claim.scanned_to, False
                continue
            if after:
                after = 0  # one more pass from the start: expired leases, rows shared with other campaigns
                continue
            # Everything handed out is journaled before we decide whether anything is left.
            await queue.join()
            if own_reader:
                await _pause(stop, min(options.poll, 0.05))  # our own reader is journaling rows right now
                continue
            if being_read:
                await in_store(reap_dead_local_owners, store, campaign.id, now=clock())
                await _pause(stop, options.poll)
                continue
            if not complete and options.worker and waited < options.lease:
                waited += options.poll  # a worker may start before the sender that reads the lists
                await _pause(stop, options.poll)
                continue
            if await in_store(store.held_by_others, campaign.id, owner=owner, now=clock()):
                # A sender killed on this host holds rows nobody renews: take them now, not in a lease.
                if not await in_store(reap_dead_local_owners, store, campaign.id, now=clock()):
                    await _pause(stop, options.poll)
                continue
            due = await in_store(store.next_due, campaign.id, run=run, max_attempts=options.max_attempts)
            if due is None:
                if settled:
                    return
                settled = True  # one last look: rows another sender gave back a moment ago
                continue
            await _pause(stop, due - clock())

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
                        continue  # left claimed, released below: the next run (or another sender) sends it
                    # Wait for our turn and our connection first, then check the row is still ours: a
                    # process paused during either wait (Ctrl-Z, a laptop asleep) may have lost it.
                    if bucket:
                        await bucket.take()
                    if connection is None:
                        connection = await connect()
                    if stop.is_set():
                        continue
                    stale = claimed_at.pop(row.id, 0.0) <= held["lapse"]
                    if (stale or clock() > held["until"] - min(5.0, options.lease / 4)) and not await in_store(
                            store.reconfirm, row.id, owner=owner, lease_until=clock() + options.lease):
                        continue  # our lease ran out while we were paused and another sender took the row
                    message = skeleton.compose(row.subscriber, list_name=row.list_name, row=row.id)
                    outcome = await connection.send(message, sender=message.sender or sender)
                    if outcome.connection_lost:
                        await connection.close()
                        connection = None
                    result = _result(row, outcome, options, clock())
                    if not breaker.observe(row.id, outcome, recipient=row.subscriber.email):
                        stop.set()  # the relay refuses everyone: no more sending, no more records against readers
                        result = replace(result, refusal="")
                    await writer.record(result)
                finally:
                    queue.task_done()
        finally:
            if connection is not None:
                await connection.close()

    async def renew() -> None:
        """Keep our leases (and our heartbeat) alive while we work."""
        while True:
            await asyncio.sleep(options.lease / 3)
            started_at = clock()
            if started_at > held["until"]:
                # Paused past our leases (Ctrl-Z, sleep): any row claimed before now may be another's.
                held["lapse"] = started_at
            await in_store(store.renew, owner=owner, lease_until=started_at + options.lease, run=run,
                           now=started_at)
            held["until"] = started_at + options.lease

    async def poll_campaign() -> None:
        """Every few seconds: what all the campaign's senders have sent, for the progress display."""
        while True:
            await asyncio.sleep(2)
            report.campaign_sent, report.workers = await in_store(
                store.campaign_progress, campaign.id, now=clock())
            if on_progress:
                on_progress(report)

    async def watch_reader() -> None:
        """A list that cannot be read stops the run; what was journaled stays with this campaign."""
        if reading is None:
            return
        result = await asyncio.shield(reading)
        if result.error is not None:
            stop.set()

    def stop_reader() -> None:
        reader_stop.set()

    stop_waiter = asyncio.ensure_future(stop.wait())
    stop_waiter.add_done_callback(lambda _: stop_reader())
    helpers = [asyncio.create_task(renew()), asyncio.create_task(watch_reader()),
               asyncio.create_task(poll_campaign())]
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
        reader_stop.set()
        tasks = [*workers, writer_task, *helpers, stop_waiter, *([producer] if producer else [])]
        for task in tasks:
            task.cancel()
        # Let every worker run its `finally` (QUIT, close) before we return or raise.
        await asyncio.gather(*tasks, return_exceptions=True)
        report.seconds = time.monotonic() - started
        report.interrupted = stop.is_set()
        try:
            # Rows we claimed but did not send go back at once, not when the lease ends.
            store.release(owner=owner)
            if breaker.withdraw:
                store.withdraw_refusals(breaker.withdraw, now=clock(), soft_limit=options.soft_limit,
                                        soft_window=options.soft_window)
            report.stopped = breaker.tripped
            store.finish_run(run, seconds=report.seconds)
            if reading is not None:
                report.audience = await reading
            report.status = store.campaign_status(store.campaign(campaign.id), now=clock())
            report.counts = dict(report.status.counts)
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


def _result(row: ClaimedRow, outcome: Outcome, options: SendOptions, now: float) -> Result:
    retry_at = 0.0
    if outcome.status in ("deferred", "unknown"):
        retry_at = now + backoff(row.attempts + 1, base=options.backoff_base, cap=options.backoff_max)
    if outcome.status == "unknown":
        # The server may still be storing the first copy: give it time before a second.
        retry_at = max(retry_at, now + options.unknown_delay)
    # A refusal of the recipient is recorded with the outcome (listmonk #2623): a dead address is
    # suppressed at once. One recipient per transaction: a refusal after DATA is about them too.
    refusal = ""
    if outcome.status == "failed" and outcome.stage in ("rcpt", "data"):
        refusal = rcpt_refusal_kind(outcome.code, outcome.reply)
    return Result(row.id, outcome.status, outcome.code, outcome.reply, retry_at, refusal)
