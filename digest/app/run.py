"""`digest run`: fetch, build and send the issue if it is new, once, however often cron or a timer fires.

Which issue a run sends, for its audience (its lists and segment):

1. A send already scheduled for the audience and waited for by nobody (the
   run that scheduled it was stopped by a reboot) is picked up: waited for,
   or sent at once when its time passed less than `MAX_LATE` ago. One that is
   later than that is not sent by itself: the run says so and exits 3.
2. Otherwise the latest issue, rendered from its plan, when it has not gone
   to this audience yet (a proof sent to another list does not end it): the
   editor's plan is what goes out. An issue whose scheduled send to the
   audience was cancelled is not sent by a run: it exits 3 and says how to
   send or skip it.
3. Only when the latest issue has gone to this audience (or was abandoned for
   it) does a run build a new issue by the rules. "Gone" means every recipient
   was tried: ones still deferred (a full mailbox) or unknown after the
   send's attempts are reported, not waited for (`digest send` reaches them).

Idempotent: a run that finds the issue already sent to the audience sends
nothing. One at a time: a run holds a lease row in the store (`run_locks`)
named after its audience, renewed while it works, so a second run, on this
host or any other sharing the PostgreSQL store, exits at once saying who is
at work. A run killed mid-way leaves a lease that runs out (at once when its
process is gone from this host); the next run picks up where it stopped: the
build is reproducible and the send resumes from the journal. A run that
finds its lease taken over (it was paused longer than the lease) stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from digest.app.context import Context
from digest.app.issue_folder import latest_issue
from digest.core.errors import DeliveryError, IssueError, StateError
from digest.curate.planfile import PLAN_NAME
from digest.deliver.leases import local_owner_is_dead
from digest.store import Audience
from digest.store.base import owner_id
from digest.store.runlocks import RunLock
from digest.store.schedules import Schedule

if TYPE_CHECKING:
    from digest.core.sourcespec import SourceSpec
    from digest.sources.fetch import FetchReport

__all__ = ["RUN_LEASE", "MAX_LATE", "AnotherRunAtWork", "RunLockLost", "RunLease", "run_lock", "run_lock_name",
           "fetch_configured_sources", "already_sent", "stragglers", "campaign_done", "pending_schedule",
           "issue_to_render"]

RUN_LEASE = 60.0  # seconds a run's lock outlives its last renewal
MAX_LATE = 12 * 3600.0  # a schedule missed by more than this is not sent by a run on its own


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


class RunLockLost(Exception):
    """This run's lease ran out (it was paused: Ctrl-Z, a laptop asleep) and another run took the lock."""

    def __init__(self, holder: RunLock) -> None:
        self.holder = holder
        super().__init__(f"another digest run took over ({holder.owner})")

    def describe(self) -> str:
        """Who took over, as `AnotherRunAtWork.describe` says it."""
        return AnotherRunAtWork(self.holder).describe()


@dataclass
class RunLease:
    """A held run lock; `note` says what the run is doing (shown to a run that finds it busy).

    `lost` is set when the lock turned out to be another run's (see `keep`); the run
    checks it between its steps (`check`) and a send stops on it.
    """

    ctx: Context
    name: str
    owner: str
    lease: float
    note: str = ""
    lost: threading.Event = field(default_factory=threading.Event)
    taken_by: RunLock | None = None

    def keep(self, note: str | None = None) -> bool:
        """Renew the lease; when it is no longer ours, take it again if free, else mark it lost (False)."""
        now = time.time()
        if self.ctx.store.renew_lock(self.name, owner=self.owner, until=now + self.lease, note=note):
            return True
        holder = self.ctx.store.take_lock(self.name, owner=self.owner, until=now + self.lease, now=now,
                                          note=self.note)
        if holder is None:
            return True  # the lease ran out but nobody took it (or the taker is done): ours again
        self.taken_by = holder
        self.lost.set()
        return False

    def check(self) -> None:
        """Raise RunLockLost when another run took the lock over."""
        if self.lost.is_set() and self.taken_by is not None:
            raise RunLockLost(self.taken_by)

    def doing(self, note: str) -> None:
        """Say what the run does now (and renew the lease); RunLockLost when another run took over."""
        self.note = note
        self.keep(note)
        self.check()


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
                if not held.keep(held.note):
                    return  # another run holds it now: this one stops at its next step (and its send stops)
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
    from digest.app.fetching import fetch_sources

    return fetch_sources(ctx, specs)


def already_sent(ctx: Context, number: int, audience: Audience) -> bool:
    """True when the issue's campaign for this audience read its lists whole and tried every recipient.

    Rows still deferred or unknown after a send's attempts are stragglers (`stragglers`):
    they do not hold the newsletter back, or one full mailbox would stall every later issue.
    """
    store = ctx.store
    campaign = store.find_campaign(number, audience.key)
    if campaign is None or not campaign.complete:
        return False
    status = store.campaign_status(campaign, now=time.time())
    return status.remaining == 0 or (status.counts.get("pending", 0) == 0 and status.in_flight == 0)


def stragglers(ctx: Context, number: int, audience: Audience) -> int:
    """How many recipients of the issue's campaign for this audience are still deferred or unknown (not suppressed)."""
    campaign = ctx.store.find_campaign(number, audience.key)
    if campaign is None:
        return 0
    return ctx.store.campaign_status(campaign, now=time.time()).remaining


def campaign_done(ctx: Context, number: int, audience: Audience) -> str | None:
    """"sent" when the issue went to the whole audience, "abandoned" when its campaign was closed, else None."""
    campaign = ctx.store.find_campaign(number, audience.key)
    if campaign is not None and campaign.closed:
        return "abandoned"
    return "sent" if already_sent(ctx, number, audience) else None


def pending_schedule(ctx: Context, audience: Audience) -> Schedule | None:
    """The newest schedule of this audience still waiting for its time, if any."""
    store = ctx.store
    for schedule in sorted(store.scheduled_campaigns(), key=lambda s: -s.issue):
        campaign = store.find_campaign(schedule.issue, audience.key)
        if campaign is not None and campaign.id == schedule.campaign and not campaign.closed:
            return schedule
    return None


def issue_to_render(ctx: Context, audience: Audience) -> Path | None:
    """The latest issue, when it has a plan and has not gone to this audience: the run sends it (see above).

    None: the latest went to this audience (or there is none, or it has no plan), so the
    run builds as `digest build` does. DeliveryError when its send to the audience was
    cancelled: a run does not send what an editor stopped.
    """
    try:
        folder = latest_issue(ctx.workspace.issues)
    except IssueError:
        return None
    if not (folder / PLAN_NAME).is_file():
        return None
    number = int(folder.name)
    if campaign_done(ctx, number, audience) is not None:
        return None
    campaign = ctx.store.find_campaign(number, audience.key)
    schedule = ctx.store.schedule_of(campaign.id) if campaign is not None else None
    if schedule is not None and schedule.state == "cancelled":
        lists = " ".join(f"--list {name}" for name in audience.lists)
        raise DeliveryError(
            f"the send of issue {number} to {audience.describe()} scheduled for {schedule.local_time} "
            f"{schedule.timezone} was cancelled, and digest run does not send it by itself: send it "
            f"(digest send {folder} {lists}) or skip it (digest send {folder} {lists} --abandon); "
            "then digest run goes on")
    return folder
