"""Store queries that read a campaign back: its progress and status, failures, the journal of an issue.

Split from digest.store.campaigns (which writes the journal): reading back
changes nothing but closing a campaign, and `digest status` needs only this.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from digest.store.base import SQLBase
from digest.store.campaigns import WORKER_SILENCE
from digest.store.records import Campaign, CampaignStatus, Failure
from digest.store.suppressions import SUPPRESSED_ROW

__all__ = ["ProgressQueries"]

# Counted for a campaign: rows of its latest reading, and every row it sent.
_COUNTED = "(d.status = 'sent' OR m.generation = (SELECT c.generation FROM campaigns c WHERE c.id = m.campaign))"


class ProgressQueries(SQLBase):
    """How far a campaign got, and what failed."""

    def campaign_progress(self, campaign_id: int, *, now: float) -> tuple[int, int]:
        """(messages sent by every run of the campaign, senders at work now): cheap enough to poll."""
        row = self.one("SELECT SUM(sent), SUM(CASE WHEN finished_at IS NULL AND heartbeat >= ? THEN 1 ELSE 0 END) "
                       "FROM runs WHERE campaign = ?", (now - WORKER_SILENCE, campaign_id))
        return (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)

    def campaign_status(self, campaign: Campaign, *, now: float) -> CampaignStatus:
        """Counts by status and what the campaign's senders are doing."""
        status = CampaignStatus(campaign, counts=dict.fromkeys(("pending", "sent", "deferred", "failed", "unknown"), 0))
        join = f"FROM campaign_members m JOIN deliveries d ON d.id = m.delivery WHERE m.campaign = ? AND {_COUNTED}"
        for state, n in self.query(f"SELECT d.status, COUNT(*) {join} GROUP BY d.status", (campaign.id,)):  # nosec B608
            status.counts[state] = int(n)
        row = self.one(
            "SELECT "
            f"SUM(CASE WHEN d.status IN ('pending', 'deferred', 'unknown') AND {SUPPRESSED_ROW} THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN d.status = 'sent' AND d.sent_by IS NOT NULL AND d.sent_by <> ? THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN d.owner IS NOT NULL AND d.lease_until >= ? THEN 1 ELSE 0 END) {join}",  # nosec B608
            (campaign.id, now, campaign.id))
        if row:
            status.suppressed, status.sent_elsewhere, status.in_flight = (int(v or 0) for v in row)
        runs = self.one(
            "SELECT COUNT(*), SUM(sent), SUM(seconds), SUM(CASE WHEN finished_at IS NULL AND heartbeat >= ? "
            "THEN 1 ELSE 0 END) FROM runs WHERE campaign = ?", (now - WORKER_SILENCE, campaign.id))
        if runs:
            status.runs, status.run_sent = int(runs[0] or 0), int(runs[1] or 0)
            status.run_seconds, status.workers = float(runs[2] or 0), int(runs[3] or 0)
        return status

    def failures(self, campaign_id: int) -> Iterator[Failure]:
        """Recipients of the campaign that failed, are deferred or have an unknown outcome."""
        for email, state, code, reply in self.query(
                "SELECT d.email, d.status, d.last_code, d.last_reply FROM campaign_members m "
                f"JOIN deliveries d ON d.id = m.delivery WHERE m.campaign = ? AND {_COUNTED} "  # nosec B608
                "AND d.status IN ('failed', 'deferred', 'unknown') ORDER BY d.status, d.id", (campaign_id,)):
            yield Failure(email, state, int(code) if code is not None else None, reply or "")

    def journal(self, issue: int) -> Iterator[Failure]:
        """Every journal row of an issue (address, status, last code and reply), in journal order."""
        for email, state, code, reply in self.query(
                "SELECT email, status, last_code, last_reply FROM deliveries WHERE issue = ? ORDER BY id", (issue,)):
            yield Failure(email, state, int(code) if code is not None else None, reply or "")

    def close_campaign(self, campaign_id: int) -> int:
        """Abandon a campaign: nothing more is sent for it; return how many of its people were left unsent."""
        with self.transaction() as tx:
            tx.execute("UPDATE campaigns SET closed = 1 WHERE id = ?", (campaign_id,))
            row = tx.execute(
                f"SELECT COUNT(*) FROM campaign_members m JOIN deliveries d ON d.id = m.delivery "  # nosec B608
                f"WHERE m.campaign = ? AND {_COUNTED} AND d.status <> 'sent'", (campaign_id,)).fetchone()
        return int(row[0]) if row else 0

    def journal_states(self, issue: int, keys: Sequence[str]) -> dict[str, tuple[str, int]]:
        """(status, unknown attempts) of the journal rows of an issue for these address keys."""
        found: dict[str, tuple[str, int]] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start:start + 500])
            marks = ",".join("?" * len(chunk))
            for key, state, unknown in self.query(
                    f"SELECT email_key, status, unknown_attempts FROM deliveries WHERE issue = ? "  # nosec B608
                    f"AND email_key IN ({marks})", (issue, *chunk)):
                found[str(key)] = (str(state), int(unknown))
        return found

    def already_sent(self, issue: int, keys: Sequence[str]) -> set[str]:
        """Which of these address keys were already sent this issue (through any campaign)."""
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = list(keys[start:start + 500])
            marks = ",".join("?" * len(chunk))
            found.update(row[0] for row in self.query(
                f"SELECT email_key FROM deliveries WHERE issue = ? AND status = 'sent' "  # nosec B608
                f"AND email_key IN ({marks})", (issue, *chunk)))
        return found
