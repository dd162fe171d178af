"""Store queries for ESP notifications: which signed calls were seen already (replay protection).

A provider's call names itself — SNS's MessageId, Mailgun's token, a digest
of SendGrid's signature or of Postmark's body — and `first_sight` records
that name once: the same call again is refused however many servers share
the store. Names older than their use are dropped as new ones arrive (a
call that old is refused as stale anyway).
"""

from __future__ import annotations

from digest.store.base import SQLBase

__all__ = ["ESPCallQueries"]


class ESPCallQueries(SQLBase):
    """Calls from an ESP already acted on."""

    def first_sight(self, provider: str, name: str, *, now: float, keep: float) -> bool:
        """Record this call; True the first time, False for a replay (within `keep` seconds)."""
        with self.transaction() as tx:
            tx.execute("DELETE FROM esp_calls WHERE seen_at < ?", (now - keep,))
            inserted = tx.execute("INSERT INTO esp_calls (provider, name, seen_at) VALUES (?, ?, ?) "
                                  "ON CONFLICT (provider, name) DO NOTHING", (provider, name[:200], now)).rowcount
        return int(inserted) == 1
