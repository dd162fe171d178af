"""The store roles of what comes back: bounces and complaints, the IMAP mailbox's memory, ESP calls.

Split from `digest.store.roles` by subject; `Store` (digest.store.protocol) is the union of both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from digest.store.bounces import BounceEvent, BounceSummary, BounceVerdict, Delivery
from digest.store.records import Result
from digest.store.tx import Tx

__all__ = ["BounceStore", "InboxStore", "ESPCallStore"]


class BounceStore(Protocol):
    """Bounces, complaints and mailto unsubscribes, mapped back to their deliveries."""

    def delivery(self, row_id: int) -> Delivery | None:
        """The journal row a VERP token names."""
        ...

    def delivery_for(self, issue: int, email: str) -> Delivery | None:
        """The journal row of an issue and address."""
        ...

    def deliveries(self, row_ids: Sequence[int]) -> dict[int, Delivery]:
        """Many journal rows by id at once."""
        ...

    def deliveries_for(self, issue: int, emails: Sequence[str]) -> list[Delivery]:
        """The journal rows of an issue for these addresses, in one query."""
        ...

    def record_bounces(self, events: Sequence[BounceEvent], *, now: float, soft_limit: int = 3,
                       soft_window: float = 30 * 86400.0) -> list[BounceVerdict]:
        """record_bounce for many events in one transaction."""
        ...

    def record_bounce(self, event: BounceEvent, *, now: float, soft_limit: int = 3,
                      soft_window: float = 30 * 86400.0) -> BounceVerdict:
        """Record one event and apply the suppression policy (once per report)."""
        ...

    def record_refusals(self, tx: Tx, results: Sequence[Result], *, now: float, soft_limit: int = 3,
                        soft_window: float = 30 * 86400.0) -> None:
        """Record the refusals of recipients under the bounce policy, inside the send's transaction."""
        ...

    def withdraw_refusals(self, row_ids: Sequence[int], *, now: float | None = None, soft_limit: int = 3,
                          soft_window: float = 30 * 86400.0) -> int:
        """Forget these rows' refusals and put each address back as it was (the relay refused everyone);
        what came in since (a bounce, a complaint) still counts."""
        ...

    def resubscribe(self, email: str) -> bool:
        """Off the suppression list, and past bounces no longer count."""
        ...

    def bounce_summaries(self, *, include_cleared: bool = False) -> Iterator[BounceSummary]:
        """Every address with bounces, refusals or complaints, newest first."""
        ...

    def bounce_events(self, email: str) -> list[BounceEvent]:
        """Every event of one address, oldest first."""
        ...


class InboxStore(Protocol):
    """What `inbox process` remembers of an IMAP mailbox whose server keeps no keyword of ours."""

    def inbox_judged(self, mailbox: str, uidvalidity: int) -> set[int]:
        """The UIDs of an IMAP mailbox already judged under this UIDVALIDITY."""
        ...

    def mark_inbox_judged(self, mailbox: str, uidvalidity: int, uids: Sequence[int]) -> None:
        """Remember IMAP UIDs as judged (forgetting those of any other UIDVALIDITY)."""
        ...


class ESPCallStore(Protocol):
    """Signed calls from an ESP already acted on (a replay is refused)."""

    def first_sight(self, provider: str, name: str, *, now: float, keep: float) -> bool:
        """Record an ESP's signed call; True the first time, False for a replay (within `keep` seconds)."""
        ...
