"""Store queries for run locks: named leases that let one `digest run` at a time work, across hosts.

A lock is a row (name, owner, lease expiry). Taking it is one write
transaction: insert it, or take it over when its lease ran out; otherwise the
holder is returned, so the caller can say who is at work. The holder renews
the lease while it works; a holder that dies leaves a lease that runs out.
The same rows work on SQLite (one host) and PostgreSQL (any number of hosts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from digest.store.base import SQLBase, now_iso

__all__ = ["RunLock", "RunLockQueries"]


@dataclass(frozen=True, slots=True)
class RunLock:
    """Who holds a named lock, since when, until when, and what it says it is doing."""

    name: str
    owner: str
    lease_until: float
    started_at: str
    note: str


def _lock(row: Sequence[Any]) -> RunLock:
    name, owner, until, started, note = row
    return RunLock(str(name), str(owner), float(until), str(started), str(note or ""))


class RunLockQueries(SQLBase):
    """Named leases for work that must not run twice at once."""

    def take_lock(self, name: str, *, owner: str, until: float, now: float, note: str = "") -> RunLock | None:
        """Take the lock (or renew it, when already ours): None when taken, else the live holder."""
        stamp = now_iso()
        with self.transaction() as tx:
            if tx.execute("INSERT INTO run_locks (name, owner, lease_until, started_at, note) VALUES (?, ?, ?, ?, ?) "
                          "ON CONFLICT (name) DO NOTHING", (name, owner, until, stamp, note)).rowcount == 1:
                return None
            # The WHERE is checked again on the row's latest version when two takers race.
            if tx.execute("UPDATE run_locks SET owner = ?, lease_until = ?, started_at = ?, note = ? "
                          "WHERE name = ? AND (lease_until < ? OR owner = ?)",
                          (owner, until, stamp, note, name, now, owner)).rowcount == 1:
                return None
            row = tx.execute("SELECT name, owner, lease_until, started_at, note FROM run_locks WHERE name = ?",
                             (name,)).fetchone()
        return _lock(row)

    def renew_lock(self, name: str, *, owner: str, until: float, note: str | None = None) -> bool:
        """Extend our lease (and say what we are doing); False when the lock is no longer ours."""
        with self.transaction() as tx:
            if note is None:
                changed = tx.execute("UPDATE run_locks SET lease_until = ? WHERE name = ? AND owner = ?",
                                     (until, name, owner)).rowcount
            else:
                changed = tx.execute("UPDATE run_locks SET lease_until = ?, note = ? WHERE name = ? AND owner = ?",
                                     (until, note, name, owner)).rowcount
        return int(changed) == 1

    def release_lock(self, name: str, *, owner: str) -> None:
        """Give the lock up (only if ours)."""
        with self.transaction() as tx:
            tx.execute("DELETE FROM run_locks WHERE name = ? AND owner = ?", (name, owner))

    def lock_holder(self, name: str, *, now: float) -> RunLock | None:
        """The live holder of the lock, if any."""
        row = self.one("SELECT name, owner, lease_until, started_at, note FROM run_locks "
                       "WHERE name = ? AND lease_until >= ?", (name, now))
        return _lock(row) if row else None

    def expire_lock(self, name: str, *, owner: str) -> None:
        """End a dead holder's lease at once, so the lock can be taken now."""
        with self.transaction() as tx:
            tx.execute("UPDATE run_locks SET lease_until = 0 WHERE name = ? AND owner = ?", (name, owner))
