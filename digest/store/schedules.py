"""Store queries for scheduled sends: a campaign's time to start, who waits for it, and its state.

A schedule belongs to one campaign (issue, audience). `digest send --at`
records it and waits; a sender started again (after a restart, by cron) finds
it and waits for the same time. State: scheduled → started (the time came and
sending began) or cancelled (Ctrl-C while waiting).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from digest.store.base import SQLBase, now_iso

__all__ = ["Schedule", "ScheduleQueries", "SCHEDULE_STATES"]

SCHEDULE_STATES = ("scheduled", "started", "cancelled")

_COLUMNS = ("s.campaign, c.issue, c.audience, s.send_at, s.timezone, s.local_time, s.state, s.waiter, "
            "s.waiter_until, s.created_at")
_FROM = "FROM schedules s JOIN campaigns c ON c.id = s.campaign"


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a campaign is to start sending, as the editor wrote it and as a UTC timestamp."""

    campaign: int
    issue: int
    audience: str
    send_at: float  # seconds since the epoch (UTC)
    timezone: str  # the IANA zone `local_time` is in
    local_time: str  # "2026-12-04 07:00" as given
    state: str  # scheduled | started | cancelled
    waiter: str | None  # the sender waiting for it, if one says so
    waiter_until: float  # until when that sender's word holds
    created_at: str

    def waiting(self, now: float) -> bool:
        """True when a sender is (as far as the store knows) waiting to start it."""
        return bool(self.waiter) and self.waiter_until >= now


def _schedule(row: Sequence[Any]) -> Schedule:
    campaign, issue, audience, send_at, zone, local, state, waiter, until, created = row
    return Schedule(int(campaign), int(issue), str(audience), float(send_at), str(zone), str(local),
                    str(state), str(waiter) if waiter else None, float(until or 0), str(created))


class ScheduleQueries(SQLBase):
    """Scheduled campaigns."""

    def schedule_campaign(self, campaign_id: int, *, send_at: float, timezone: str, local_time: str) -> Schedule:
        """Record (or move) the campaign's start time; a cancelled or started schedule is scheduled again."""
        stamp = now_iso()
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO schedules (campaign, send_at, timezone, local_time, state, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'scheduled', ?, ?) ON CONFLICT (campaign) DO UPDATE SET "
                "send_at = excluded.send_at, timezone = excluded.timezone, local_time = excluded.local_time, "
                "state = 'scheduled', updated_at = excluded.updated_at",
                (campaign_id, send_at, timezone, local_time, stamp, stamp))
            row = tx.execute(f"SELECT {_COLUMNS} {_FROM} WHERE s.campaign = ?", (campaign_id,)).fetchone()  # nosec B608
        return _schedule(row)

    def schedule_of(self, campaign_id: int) -> Schedule | None:
        """The campaign's schedule, in whatever state, if it ever had one."""
        row = self.one(f"SELECT {_COLUMNS} {_FROM} WHERE s.campaign = ?", (campaign_id,))  # nosec B608
        return _schedule(row) if row else None

    def scheduled_campaigns(self) -> list[Schedule]:
        """Every schedule still waiting for its time, soonest first."""
        return [_schedule(row) for row in self.query(
            f"SELECT {_COLUMNS} {_FROM} WHERE s.state = 'scheduled' ORDER BY s.send_at, s.campaign")]  # nosec B608

    def start_schedule(self, campaign_id: int) -> bool:
        """The time came: mark the schedule started (False when it was not waiting, e.g. cancelled)."""
        with self.transaction() as tx:
            return int(tx.execute(
                "UPDATE schedules SET state = 'started', waiter = NULL, waiter_until = 0, updated_at = ? "
                "WHERE campaign = ? AND state = 'scheduled'", (now_iso(), campaign_id)).rowcount) == 1

    def cancel_schedule(self, campaign_id: int) -> bool:
        """Cancel a schedule that has not started; False when there was none waiting."""
        with self.transaction() as tx:
            return int(tx.execute(
                "UPDATE schedules SET state = 'cancelled', waiter = NULL, waiter_until = 0, updated_at = ? "
                "WHERE campaign = ? AND state = 'scheduled'", (now_iso(), campaign_id)).rowcount) == 1

    def wait_on_schedule(self, campaign_id: int, *, owner: str, until: float) -> None:
        """Say that `owner` waits for this schedule, until `until` unless said again."""
        with self.transaction() as tx:
            tx.execute("UPDATE schedules SET waiter = ?, waiter_until = ? WHERE campaign = ? AND state = 'scheduled'",
                       (owner, until, campaign_id))

    def stop_waiting(self, campaign_id: int, *, owner: str) -> None:
        """`owner` no longer waits for this schedule."""
        with self.transaction() as tx:
            tx.execute("UPDATE schedules SET waiter = NULL, waiter_until = 0 WHERE campaign = ? AND waiter = ?",
                       (campaign_id, owner))
