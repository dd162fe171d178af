"""The send manager: claim due rows under a lease → compose → bounded queue → a pool of K connections.

Any number of these may work on one campaign at once, in one process or on
several hosts: each row is claimed (owner, lease expiry) in the store before
it is composed, and a sender renews its leases while it works. A killed
sender's rows return when its lease runs out; only its messages in flight can
go twice.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from digest.back.policy import REFUSED, rcpt_refusal_kind
from digest.compose import MessageSkeleton
from digest.core.errors import DeliveryError, StateError
from digest.deliver.audience import AudienceRead
from digest.deliver.breaker import RefusalBreaker
from digest.deliver.leases import reap_dead_local_owners
from digest.deliver.pacing import TokenBucket, backoff
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
    run = _CampaignRun(store=store, campaign=campaign, skeleton=skeleton, transport=transport, sender=sender,
                       options=options, stop=stop or asyncio.Event(), on_progress=on_progress, clock=clock)
    return await run.send(reader)


class _CampaignRun:
    """One run of a sender on a campaign: a producer claims rows, a pool of workers sends them, a writer
    journals the outcomes, and helpers keep the leases, the progress and the list reader in view."""

    def __init__(self, *, store: SenderStore, campaign: Campaign, skeleton: MessageSkeleton, transport: Transport,
                 sender: str, options: SendOptions, stop: asyncio.Event,
                 on_progress: Callable[[SendReport], None] | None, clock: Callable[[], float]) -> None:
        self.store, self.campaign, self.skeleton, self.transport = store, campaign, skeleton, transport
        self.sender, self.options, self.stop, self.on_progress, self.clock = sender, options, stop, on_progress, clock
        self.report = SendReport()
        self.started = time.monotonic()
        self.owner = owner_id()
        self.bucket = TokenBucket(options.rate) if options.rate else None
        self.queue: asyncio.Queue[ClaimedRow | None] = asyncio.Queue(maxsize=options.concurrency * 4)
        # Small claims: rows wait in our queue under our lease, so other senders should find rows left to take.
        self.batch = max(4, min(100, options.concurrency * 2))
        # Every lease we hold runs at least until then; renewals push it on. Past it (a suspended process,
        # a laptop asleep), a row is checked to be still ours before it is sent.
        self.held = {"until": clock() + options.lease, "lapse": float("-inf")}
        self.claimed_at: dict[int, float] = {}
        self.run_id = 0
        self.reading: asyncio.Future[AudienceRead] | None = None
        self.breaker = RefusalBreaker()
        self.writer: ResultWriter | None = None

    async def send(self, reader: Callable[[threading.Event], AudienceRead] | None) -> SendReport:
        """Run until the campaign has nothing left for us (or we are stopped); what this run did."""
        store, options, clock = self.store, self.options, self.clock
        self.run_id = await in_store(store.start_run, self.campaign, owner=self.owner, host=host_id(), now=clock(),
                                     retry_failed=options.retry_failed, retry_unknown=options.retry_unknown)
        reader_stop = threading.Event()
        if reader is not None:
            self.reading = asyncio.ensure_future(asyncio.to_thread(reader, reader_stop))
        writer = self.writer = ResultWriter(store, run=self.run_id, on_commit=self._committed, clock=clock,
                                            limits={"soft_limit": options.soft_limit,
                                                    "soft_window": options.soft_window})
        stop_waiter = asyncio.ensure_future(self.stop.wait())
        stop_waiter.add_done_callback(lambda _: reader_stop.set())
        helpers = [asyncio.create_task(self._renew()), asyncio.create_task(self._watch_reader()),
                   asyncio.create_task(self._poll_campaign())]
        producer: asyncio.Task[None] | None = None
        writer_task = asyncio.create_task(writer.run())
        workers = [asyncio.create_task(self._work()) for _ in range(max(1, options.concurrency))]
        failed = True  # until the run ends normally: a bookkeeping error must not hide the real one
        try:
            producer = asyncio.create_task(self._produce())
            # A worker that cannot connect at all ends the run; so does a journal failure.
            await _supervise({producer}, {producer, writer_task, *workers})
            for _ in workers:
                await self.queue.put(None)
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
            await self._finish(failed)
        return self.report

    async def _finish(self, failed: bool) -> None:
        """Give back what we did not send, close the run, read the campaign's status into the report."""
        store, report, options = self.store, self.report, self.options
        report.seconds = time.monotonic() - self.started
        report.interrupted = self.stop.is_set()
        try:
            # Rows we claimed but did not send go back at once, not when the lease ends.
            store.release(owner=self.owner)
            if self.breaker.withdraw:
                store.withdraw_refusals(self.breaker.withdraw, now=self.clock(), soft_limit=options.soft_limit,
                                        soft_window=options.soft_window)
            report.stopped = self.breaker.tripped
            store.finish_run(self.run_id, seconds=report.seconds)
            if self.reading is not None:
                report.audience = await self.reading
            report.status = store.campaign_status(store.campaign(self.campaign.id), now=self.clock())
            report.counts = dict(report.status.counts)
        except StateError:
            if not failed:
                raise  # the run itself went well: this error is the one to report

    async def _produce(self) -> None:
        """Claim due rows and hand them to the pool until the campaign has nothing left for us."""
        produced, after, waited, settled = 0, 0, 0.0, False
        while not self.stop.is_set():
            budget = self.batch if self.options.limit is None else min(self.batch, self.options.limit - produced)
            if budget <= 0:
                return
            if after == 0:
                # Looked at before the claim: a reader that finishes after an empty claim has
                # added rows that claim could not see, so we must not take its end for ours.
                own_reader = self.reading is not None and not self.reading.done()
                complete, being_read = await in_store(self.store.reading_state, self.campaign.id, now=self.clock())
            claim = await in_store(
                self.store.claim, self.campaign.id, owner=self.owner, run=self.run_id, limit=budget,
                lease_until=self.clock() + self.options.lease, now=self.clock(),
                max_attempts=self.options.max_attempts, after=after)
            rows = claim.rows
            if rows:
                stamp = self.clock()
                for row in rows:
                    self.claimed_at[row.id] = stamp
                for row in rows:
                    await self.queue.put(row)
                produced += len(rows)
                after, settled = claim.scanned_to, False
                continue
            if after:
                after = 0  # one more pass from the start: expired leases, rows shared with other campaigns
                continue
            # Everything handed out is journaled before we decide whether anything is left.
            await self.queue.join()
            if own_reader:
                await _pause(self.stop, min(self.options.poll, 0.05))  # our own reader is journaling rows right now
                continue
            if being_read:
                await in_store(reap_dead_local_owners, self.store, self.campaign.id, now=self.clock())
                await _pause(self.stop, self.options.poll)
                continue
            if not complete and self.options.worker and waited < self.options.lease:
                waited += self.options.poll  # a worker may start before the sender that reads the lists
                await _pause(self.stop, self.options.poll)
                continue
            if await in_store(self.store.held_by_others, self.campaign.id, owner=self.owner, now=self.clock()):
                # A sender killed on this host holds rows nobody renews: take them now, not in a lease.
                if not await in_store(reap_dead_local_owners, self.store, self.campaign.id, now=self.clock()):
                    await _pause(self.stop, self.options.poll)
                continue
            due = await in_store(self.store.next_due, self.campaign.id, run=self.run_id,
                                 max_attempts=self.options.max_attempts)
            if due is None:
                if settled:
                    return
                settled = True  # one last look: rows another sender gave back a moment ago
                continue
            await _pause(self.stop, due - self.clock())

    async def _connect(self) -> Connection:
        """Open a connection, retrying transient refusals with backoff."""
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                return await self.transport.connect()
            except DeliveryError as exc:
                if attempt == CONNECT_ATTEMPTS or self.stop.is_set() or not exc.retryable:
                    raise
                await asyncio.sleep(backoff(attempt, base=self.options.backoff_base, cap=10))
        raise AssertionError("unreachable")

    async def _work(self) -> None:
        """One pool member: compose, pace, send, journal, one message at a time."""
        writer = self.writer
        if writer is None:
            raise RuntimeError("the run has not started")
        connection: Connection | None = None
        try:
            while True:
                row = await self.queue.get()
                if row is None:
                    self.queue.task_done()
                    return
                try:
                    if self.stop.is_set():
                        continue  # left claimed, released below: the next run (or another sender) sends it
                    # Wait for our turn and our connection first, then check the row is still ours: a
                    # process paused during either wait (Ctrl-Z, a laptop asleep) may have lost it.
                    if self.bucket:
                        await self.bucket.take()
                    if connection is None:
                        connection = await self._connect()
                    if self.stop.is_set():
                        continue
                    stale = self.claimed_at.pop(row.id, 0.0) <= self.held["lapse"]
                    lease = self.options.lease
                    if (stale or self.clock() > self.held["until"] - min(5.0, lease / 4)) and not await in_store(
                            self.store.reconfirm, row.id, owner=self.owner, lease_until=self.clock() + lease):
                        continue  # our lease ran out while we were paused and another sender took the row
                    message = self.skeleton.compose(row.subscriber, list_name=row.list_name, row=row.id)
                    outcome = await connection.send(message, sender=message.sender or self.sender)
                    if outcome.fault and not self.stop.is_set():
                        # A fault in the conversation says nothing about the reader: once more, fresh.
                        await connection.close()
                        connection = await self._connect()
                        outcome = await connection.send(message, sender=message.sender or self.sender)
                    if outcome.connection_lost:
                        await connection.close()
                        connection = None
                    result = _result(row, outcome, self.options, self.clock())
                    if not self.breaker.observe(row.id, outcome, recipient=row.subscriber.email):
                        self.stop.set()  # the relay refuses everyone: no more sending, no more records against readers
                        result = replace(result, refusal="")
                    await writer.record(result)
                finally:
                    self.queue.task_done()
        finally:
            if connection is not None:
                await connection.close()

    async def _renew(self) -> None:
        """Keep our leases (and our heartbeat) alive while we work."""
        while True:
            await asyncio.sleep(self.options.lease / 3)
            started_at = self.clock()
            if started_at > self.held["until"]:
                # Paused past our leases (Ctrl-Z, sleep): any row claimed before now may be another's.
                self.held["lapse"] = started_at
            await in_store(self.store.renew, owner=self.owner, lease_until=started_at + self.options.lease,
                           run=self.run_id, now=started_at)
            self.held["until"] = started_at + self.options.lease

    async def _poll_campaign(self) -> None:
        """Every few seconds: what all the campaign's senders have sent, for the progress display."""
        while True:
            await asyncio.sleep(2)
            self.report.campaign_sent, self.report.workers = await in_store(
                self.store.campaign_progress, self.campaign.id, now=self.clock())
            if self.on_progress:
                self.on_progress(self.report)

    async def _watch_reader(self) -> None:
        """A list that cannot be read stops the run; what was journaled stays with this campaign."""
        if self.reading is None:
            return
        result = await asyncio.shield(self.reading)
        if result.error is not None:
            self.stop.set()

    def _committed(self, results: list[Result]) -> None:
        """Count committed results and report progress."""
        for r in results:
            setattr(self.report, r.status, getattr(self.report, r.status) + 1)
        self.report.attempts += len(results)
        self.report.seconds = time.monotonic() - self.started
        if self.on_progress:
            self.on_progress(self.report)


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
    if outcome.fault and refusal:
        refusal = REFUSED  # a fault in the conversation: recorded, never counted against the reader
    return Result(row.id, outcome.status, outcome.code, outcome.reply, retry_at, refusal)
