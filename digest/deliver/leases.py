"""Leases of senders that died on this host end at once instead of when they run out.

An owner is named `role:host:pid:random`. A lease held by a process of this
host whose pid no longer exists (kill -9, a crash, a power cut of one
terminal) cannot be renewed by anyone: its rows are handed back now, so a
resume after a crash does not sit out the lease. Owners on other hosts, and
live or unknown processes, keep their leases until they run out.
"""

from __future__ import annotations

import os

from digest.store.base import host_id
from digest.store.roles import CampaignJournal

__all__ = ["reap_dead_local_owners", "local_owner_is_dead"]


def local_owner_is_dead(owner: str) -> bool:
    """True only when the owner is a process of this host that no longer exists."""
    parts = owner.split(":")
    if len(parts) != 4 or parts[1] != host_id() or not parts[2].isdigit():
        return False
    pid = int(parts[2])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # exists, owned by someone else
    return False


def reap_dead_local_owners(store: CampaignJournal, campaign_id: int, *, now: float) -> int:
    """Expire the leases of this host's dead senders on the campaign (and end their runs); return how many."""
    dead = [owner for owner in store.holders(campaign_id, now=now) if local_owner_is_dead(owner)]
    for owner in dead:
        store.expire(owner)
    for run, owner in store.open_runs(campaign_id, now=now):
        if local_owner_is_dead(owner):
            store.finish_run(run, seconds=0.0)
    return len(dead)
