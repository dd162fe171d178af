"""`digest run`: fetch, build and send the issue if it is new, once, however often cron or a timer fires.

Idempotent: a run that finds the issue already sent to the audience sends
nothing. One at a time: a run holds a lease row in the store (`run_locks`)
named after its audience, renewed while it works, so a second run, on this
host or any other sharing the PostgreSQL store, exits at once saying who is
at work. A run killed mid-way leaves a lease that runs out (at once when its
process is gone from this host); the next run picks up where it stopped: the
build is reproducible and the send resumes from the journal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from digest.context import Context
from digest.deliver.leases import local_owner_is_dead
from digest.errors import StateError
from digest.store import Audience
from digest.store.base import owner_id
from digest.store.runlocks import RunLock

if TYPE_CHECKING:
    from digest.sources.config import SourceSpec
    from digest.sources.fetch import FetchReport

__all__ = ["RUN_LEASE", "AnotherRunAtWork", "RunLease", "run_lock", "run_lock_name", "fetch_configured_sources",
           "already_sent"]

RUN_LEASE = 60.0  # seconds a run's lock outlives its last renewal


class AnotherRunAtWork(Exception):
    """Another `digest run` for the same audience holds the lock."""

    def __init__(self, holder: RunLock) -> None:
        self.holder = holder
        super().__init__(f"another digest run is at work ({holder.owner})")

    def describe(self) -> str:
        """`host h, pid 123, since 2026-12-04T06:00:01Z: waiting to send issue 5 at 07:00 UTC`."""
        parts = self.holder.owner.split(":")
        who = f"host {parts[1]}, pid {parts[2]}" if len(parts) == 4 else self.holder.owner
        doing = f": {self.holder.note}" if self.holder.note else ""
        return f"{who}, since {self.holder.started_at}{doing}"


@dataclass
class RunLease:
    """A held run lock; `note` says what the run is doing (shown to a run that finds it busy)."""

    ctx: Context
    name: str
    owner: str
    lease: float
    note: str = ""

    def doing(self, note: str) -> None:
        """Say what the run does now (and renew the lease)."""
        self.note = note
        self.ctx.store.renew_lock(self.name, owner=self.owner, until=time.time() + self.lease, note=note)


def run_lock_name(audience: Audience) -> str:
    """One lock per audience: runs for other lists go on side by side."""
    return f"run:{audience.key}"


@contextmanager
def run_lock(ctx: Context, name: str, *, lease: float = RUN_LEASE, note: str = "starting") -> Iterator[RunLease]:
    """Hold the named run lock while the block runs, renewing it in a thread; AnotherRunAtWork when taken."""
    store = ctx.store
    held = RunLease(ctx, name, owner_id("run"), lease, note)
    now = time.time()
    holder = store.take_lock(name, owner=held.owner, until=now + lease, now=now, note=note)
    if holder is not None and local_owner_is_dead(holder.owner):
        store.expire_lock(name, owner=holder.owner)  # killed on this host: its lease need not run out
        holder = store.take_lock(name, owner=held.owner, until=now + lease, now=now, note=note)
    if holder is not None:
        raise AnotherRunAtWork(holder)
    done = threading.Event()

    def renew() -> None:
        while not done.wait(lease / 3):
            try:
                store.renew_lock(name, owner=held.owner, until=time.time() + lease, note=held.note)
            except StateError:
                pass  # the database is away for a moment: the next beat tries again within the lease

    beat = threading.Thread(target=renew, name="digest-run-lease", daemon=True)
    beat.start()
    try:
        yield held
    finally:
        done.set()
        beat.join()
        store.release_lock(name, owner=held.owner)


def fetch_configured_sources(ctx: Context, specs: Sequence[SourceSpec]) -> FetchReport | None:
    """Fetch the web sources (conditionally: unchanged ones cost a 304) before the build; None when there are none.

    The build then uses this report instead of fetching again.
    """
    if not specs:
        return None
    from digest.sources.fetch import fetch_sources

    return fetch_sources(ctx, specs)


def already_sent(ctx: Context, number: int, audience: Audience) -> bool:
    """True when the issue's campaign for this audience read its lists whole and has nothing left to send."""
    store = ctx.store
    campaign = store.find_campaign(number, audience.key)
    if campaign is None or not campaign.complete:
        return False
    return store.campaign_status(campaign, now=time.time()).remaining == 0
