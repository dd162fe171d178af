"""The `Store` protocol: every piece of state digest keeps, behind one seam — the union of its roles.

Nothing outside `digest.store` touches SQL. The app layer holds a `Store`;
each stage asks for the role it uses (digest.store.roles); `SQLiteStore` and
`PostgresStore` implement all of them with the same schema and migrations.
"""

from __future__ import annotations

from typing import Protocol

from digest.store.roles import (
    BounceStore,
    CampaignJournal,
    FetchCacheStore,
    IssueStore,
    ListCheckStore,
    RunLockStore,
    ScheduleStore,
    SignupStore,
    StoreBasics,
    SuppressionStore,
)

__all__ = ["Store"]


class Store(StoreBasics, IssueStore, SuppressionStore, CampaignJournal, ListCheckStore, FetchCacheStore,
            ScheduleStore, RunLockStore, SignupStore, BounceStore, Protocol):
    """Every role at once: what the app layer's context holds and the two backends implement."""
