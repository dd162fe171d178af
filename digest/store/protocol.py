"""The `Store` protocol: every piece of state digest keeps, behind one seam — the union of its roles.

Below it, what each stage asks for: the roles it uses, together (a stage is
typed against these, never against the whole `Store`).

Nothing outside `digest.store` touches SQL. The app layer holds a `Store`;
each stage asks for the role it uses (digest.store.roles); `SQLiteStore` and
`PostgresStore` implement all of them with the same schema and migrations.
"""

from __future__ import annotations

from typing import Protocol

from digest.store.backroles import BounceStore, ESPCallStore, InboxStore
from digest.store.readerroles import ReaderStore
from digest.store.reportroles import ReportStore
from digest.store.roles import (
    CampaignJournal,
    CarriedStore,
    FetchCacheStore,
    IssueStore,
    ListCheckStore,
    RunLockStore,
    ScheduleStore,
    SignupStore,
    StoreBasics,
    SuppressionStore,
)

__all__ = ["Store", "ListsStore", "BackStore", "AudienceStore", "SenderStore", "DryRunStore"]


class Store(StoreBasics, IssueStore, SuppressionStore, CampaignJournal, ListCheckStore, FetchCacheStore,
            ScheduleStore, RunLockStore, SignupStore, BounceStore, InboxStore, ESPCallStore, CarriedStore, ReaderStore,
            ReportStore, Protocol):
    """Every role at once: what the app layer's context holds and the two backends implement."""


# What each stage asks for: the roles it uses, together.


class ListsStore(ListCheckStore, SuppressionStore, SignupStore, Protocol):
    """subscribers: list checks, who is suppressed, the confirmed members of a list."""


class BackStore(BounceStore, SignupStore, InboxStore, ESPCallStore, Protocol):
    """back: bounces, complaints and unsubscribes mapped to their deliveries and signups."""


class AudienceStore(CampaignJournal, SignupStore, Protocol):
    """deliver's audience reader: journals the lists (and the list members) of a campaign."""


class SenderStore(CampaignJournal, BounceStore, Protocol):
    """deliver's sender: claims rows, records results (a refusal is a bounce event)."""


class DryRunStore(CampaignJournal, SuppressionStore, Protocol):
    """deliver's dry run: what the journal and the suppressions say, written nowhere."""
