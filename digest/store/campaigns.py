"""Store queries for campaigns: journaling an audience, claiming rows with leases, recording outcomes.

A campaign is (issue, audience). A recipient has one journal row per issue,
shared by every campaign whose audience holds them (`campaign_members`), so a
person on two lists, or in two campaigns, is sent the issue once. A sender
claims rows (owner, lease expiry) before composing them; a row whose lease
ran out returns to the pool.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from digest.core.model import Subscriber
from digest.store.base import SQLBase, now_iso
from digest.store.records import Campaign, Claim, ClaimedRow, Result
from digest.store.suppressions import SUPPRESSED_ROW, suppressed_on

__all__ = ["CampaignQueries", "MAX_UNKNOWN_ATTEMPTS", "WORKER_SILENCE"]

# A message whose outcome is unknown (the connection died after the final dot)
# is sent at most this many times in all: the first try and one retry.
MAX_UNKNOWN_ATTEMPTS = 2
# A claim looks at this many members at a time, in id order (an index range).
_WINDOW = 512
# A sender whose heartbeat is older than this is no longer counted as working.
WORKER_SILENCE = 120.0

_CAMPAIGN = "id, issue, audience_key, audience, created_at, complete, fingerprint, generation, closed"
# A member row counts for its campaign while it belongs to the latest reading of the lists and the
# campaign is open; a row sent stays counted (it went out for this campaign).
_CURRENT = "EXISTS (SELECT 1 FROM campaigns c WHERE c.id = m.campaign AND c.closed = 0 AND c.generation = m.generation)"
# The lists of the claimed row `deliveries` in campaign ? that still reach the reader (fixed SQL only).
_OPEN_LIST = ("member_lists ml WHERE ml.campaign = ? AND ml.delivery = deliveries.id "  # nosec B608
              "AND ml.generation = (SELECT c.generation FROM campaigns c WHERE c.id = ml.campaign) "
              f"AND NOT {suppressed_on('ml.list', 'deliveries.email_key')}")
_DUE = ("(d.status = 'pending' OR (d.status = 'deferred' AND d.retry_at <= ?) "
        "OR (d.status = 'unknown' AND d.retry_at <= ? AND d.unknown_attempts < ?))")


def _storable(text: str) -> str:
    """Text any database takes: lone surrogates (undecodable bytes kept by a decoder) spelled out."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _campaign(row: Sequence[Any]) -> Campaign:
    cid, issue, key, audience, created, complete, fingerprint, generation, closed = row
    return Campaign(int(cid), int(issue), str(key), str(audience), str(created), bool(complete), str(fingerprint),
                    int(generation), bool(closed))


class CampaignQueries(SQLBase):
    """Campaigns, their members, claims, outcomes and runs."""

    # -- campaigns -------------------------------------------------------------

    def open_campaign(self, issue: int, audience_key: str, audience: str) -> Campaign:
        """The campaign for this issue and audience, made on first use."""
        with self.transaction() as tx:
            tx.execute("INSERT INTO campaigns (issue, audience_key, audience, created_at) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (issue, audience_key) DO NOTHING", (issue, audience_key, audience, now_iso()))
            row = tx.execute(f"SELECT {_CAMPAIGN} FROM campaigns WHERE issue = ? AND audience_key = ?",  # nosec B608
                             (issue, audience_key)).fetchone()
        return _campaign(row)

    def find_campaign(self, issue: int, audience_key: str) -> Campaign | None:
        """The campaign for this issue and audience, if one was started."""
        row = self.one(f"SELECT {_CAMPAIGN} FROM campaigns WHERE issue = ? AND audience_key = ?",  # nosec B608
                       (issue, audience_key))
        return _campaign(row) if row else None

    def campaign(self, campaign_id: int) -> Campaign:
        """One campaign by id."""
        row = self.one(f"SELECT {_CAMPAIGN} FROM campaigns WHERE id = ?", (campaign_id,))  # nosec B608
        if row is None:
            raise KeyError(campaign_id)
        return _campaign(row)

    def campaigns_of(self, issue: int) -> list[Campaign]:
        """Every campaign of an issue, oldest first."""
        return [_campaign(row) for row in self.query(
            f"SELECT {_CAMPAIGN} FROM campaigns WHERE issue = ? ORDER BY id", (issue,))]  # nosec B608

    # -- reading the audience ------------------------------------------------

    def start_reading(self, campaign_id: int, *, owner: str, until: float, now: float,
                      fingerprint: str) -> tuple[str, int]:
        """Take the reader's lease: ("read", the new generation), ("done", …) when read whole and unchanged, or
        ("busy", …) while another process reads. Each reading is a new generation of the campaign's members."""
        with self.transaction() as tx:
            # Locked: two processes starting together must not both take the lease from one old row
            # (each enqueuing under a generation the other's UPDATE made stale, and the last reader's
            # finish_reading then taking every member out of the campaign).
            complete, seen, reader, reader_until, generation = tx.execute(
                f"SELECT complete, fingerprint, reader, reader_until, generation FROM campaigns WHERE id = ? "
                f"{self.row_lock}", (campaign_id,)).fetchone()  # nosec B608 - a fixed lock clause
            if complete and seen == fingerprint:
                return "done", int(generation)
            if reader and reader != owner and reader_until >= now:
                return "busy", int(generation)
            tx.execute("UPDATE campaigns SET reader = ?, reader_until = ?, complete = 0, generation = generation + 1 "
                       "WHERE id = ?", (owner, until, campaign_id))
        return "read", int(generation) + 1

    def renew_reading(self, campaign_id: int, *, owner: str, until: float) -> None:
        """Keep the reader's lease while the lists are being read."""
        with self.transaction() as tx:
            tx.execute("UPDATE campaigns SET reader_until = ? WHERE id = ? AND reader = ?", (until, campaign_id, owner))

    def finish_reading(self, campaign_id: int, *, owner: str, fingerprint: str | None) -> int:
        """Give the reader's lease back; with a fingerprint, the audience was read whole.

        Read whole, people of earlier readings who are no longer on the lists leave the
        campaign (unless already sent): return how many left.
        """
        with self.transaction() as tx:
            if fingerprint is None:
                tx.execute("UPDATE campaigns SET reader = NULL, reader_until = 0 WHERE id = ? AND reader = ?",
                           (campaign_id, owner))
                return 0
            done = tx.execute("UPDATE campaigns SET reader = NULL, reader_until = 0, complete = 1, fingerprint = ? "
                              "WHERE id = ? AND reader = ?", (fingerprint, campaign_id, owner)).rowcount
            if not done:
                return 0  # another reader took over: its reading decides
            left = int(tx.execute(
                "DELETE FROM campaign_members WHERE campaign = ? "
                "AND generation <> (SELECT generation FROM campaigns WHERE id = ?) "
                "AND delivery IN (SELECT id FROM deliveries WHERE status <> 'sent')",
                (campaign_id, campaign_id)).rowcount)
            tx.execute("DELETE FROM member_lists WHERE campaign = ? "
                       "AND generation <> (SELECT generation FROM campaigns WHERE id = ?)", (campaign_id, campaign_id))
            return left

    def reading_state(self, campaign_id: int, *, now: float) -> tuple[bool, bool]:
        """(read whole, someone is reading it now)."""
        row = self.one("SELECT complete, reader, reader_until FROM campaigns WHERE id = ?", (campaign_id,))
        if row is None:
            return False, False
        complete, reader, until = row
        return bool(complete), bool(reader) and float(until) >= now

    def enqueue(self, campaign: Campaign, batch: Sequence[tuple[Subscriber, str]],
                message_id: Callable[[str], str], *, generation: int | None = None) -> tuple[int, int]:
        """Journal a batch of the audience as members of this reading; return (members, of them suppressed).

        Suppressed people are journaled too and skipped when rows are claimed, so one
        resubscribed later is sent the issue without reading the lists again.
        """
        if not batch:
            return 0, 0
        # One order for every writer: concurrent enqueuers lock rows alike and never deadlock.
        ordered = sorted({s.key: (s, name) for s, name in reversed(batch)}.values(), key=lambda item: item[0].key)
        # Every list a reader comes through: one who left a list still gets the others (SUPPRESSED_ROW).
        through = sorted({(s.key, name) for s, name in batch})
        allowed: set[str] = set()
        for list_name in sorted({name for _, name in through}):
            keys = [key for key, name in through if name == list_name]
            allowed.update(set(keys) - self.suppressed_among(keys, list_name=list_name))  # type: ignore[attr-defined]
        blocked = sum(1 for s, _ in ordered if s.key not in allowed)
        now = now_iso()
        rows = [(campaign.issue, s.email, s.key, s.name, json.dumps(dict(s.attrs), ensure_ascii=False),
                 name, message_id(s.key), now, now) for s, name in ordered]
        reading = campaign.generation if generation is None else generation
        with self.transaction() as tx:
            tx.executemany(
                "INSERT INTO deliveries (issue, email, email_key, name, attrs, list, message_id, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (issue, email_key) DO NOTHING", rows)
            tx.executemany(
                "INSERT INTO campaign_members (campaign, delivery, generation) SELECT ?, id, ? FROM deliveries "
                "WHERE issue = ? AND email_key = ? "
                "ON CONFLICT (campaign, delivery) DO UPDATE SET generation = excluded.generation",
                [(campaign.id, reading, campaign.issue, row[2]) for row in rows])
            tx.executemany(
                "INSERT INTO member_lists (campaign, delivery, list, generation) SELECT ?, id, ?, ? FROM deliveries "
                "WHERE issue = ? AND email_key = ? "
                "ON CONFLICT (campaign, delivery, list) DO UPDATE SET generation = excluded.generation",
                [(campaign.id, name, reading, campaign.issue, key) for key, name in through])
        return len(rows), blocked

    # -- claims ----------------------------------------------------------------

    def claim(self, campaign_id: int, *, owner: str, run: int, limit: int, lease_until: float, now: float,
              max_attempts: int, after: int = 0) -> Claim:
        """Take up to `limit` due rows of the campaign (ids above `after`) under this owner's lease.

        The members are walked in id order a window at a time (an index range), so a claim
        costs the same on the millionth row as on the first, whatever the planner knows of
        the tables. `Claim.scanned_to` is where the next claim of this pass starts.
        """
        sql = (
            "UPDATE deliveries SET owner = ?, lease_until = ?, sent_by = ?, "  # nosec B608 - only fixed SQL is formatted in
            # The message goes out for a list that still reaches the reader (their row's own list first).
            f"list = CASE WHEN EXISTS (SELECT 1 FROM {_OPEN_LIST} AND ml.list = deliveries.list) THEN list "
            f"ELSE COALESCE((SELECT MIN(ml.list) FROM {_OPEN_LIST}), list) END, "
            "attempts_run = CASE WHEN run_id = ? THEN attempts_run ELSE 0 END, run_id = ? "
            "WHERE id IN (SELECT d.id FROM campaign_members m JOIN deliveries d ON d.id = m.delivery "
            f"WHERE m.campaign = ? AND m.delivery > ? AND m.delivery <= ? AND {_CURRENT} "
            f"AND (d.owner IS NULL OR d.lease_until < ?) AND {_DUE} "
            "AND (d.run_id IS NULL OR d.run_id <> ? OR d.attempts_run < ?) "
            f"AND NOT {SUPPRESSED_ROW} "
            f"ORDER BY m.delivery LIMIT ? {self.claim_lock}) "
            "RETURNING id, email, name, attrs, list, attempts, unknown_attempts")
        claimed: list[ClaimedRow] = []
        cursor = after
        while len(claimed) < limit:
            window = self.one(
                "SELECT MAX(delivery), COUNT(*) FROM (SELECT delivery FROM campaign_members WHERE campaign = ? "
                "AND delivery > ? ORDER BY delivery LIMIT ?) w", (campaign_id, cursor, _WINDOW))
            if window is None or window[0] is None:
                break
            upper, seen = int(window[0]), int(window[1])
            with self.transaction() as tx:
                rows = tx.execute(sql, (owner, lease_until, campaign_id, campaign_id, campaign_id, run, run,
                                        campaign_id, cursor, upper, now, now, now, MAX_UNKNOWN_ATTEMPTS, run,
                                        max_attempts, limit - len(claimed))).fetchall()
            claimed += [ClaimedRow(int(rid), Subscriber(email, name, attrs=json.loads(attrs)), list_name,
                                   int(attempts), int(unknown))
                        for rid, email, name, attrs, list_name, attempts, unknown in rows]
            cursor = upper
            if seen < _WINDOW:
                break  # that window reached the end of the campaign
        claimed.sort(key=lambda row: row.id)
        if len(claimed) >= limit:
            cursor = claimed[-1].id  # rows after the last one taken may still be due: start there next
        return Claim(claimed, cursor)

    def reconfirm(self, row_id: int, *, owner: str, lease_until: float) -> bool:
        """Extend the lease on one row if this owner still holds it (after a pause longer than the lease,
        another sender may have taken it: then it must not be sent here)."""
        with self.transaction() as tx:
            return tx.execute("UPDATE deliveries SET lease_until = ? WHERE id = ? AND owner = ? AND status <> 'sent'",
                              (lease_until, row_id, owner)).rowcount == 1

    def renew(self, *, owner: str, lease_until: float, run: int, now: float) -> int:
        """Extend this owner's leases (and say it is alive); return how many rows it holds."""
        with self.transaction() as tx:
            held = tx.execute("UPDATE deliveries SET lease_until = ? WHERE owner = ?", (lease_until, owner)).rowcount
            tx.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (now, run))
        return int(held)

    def release(self, *, owner: str) -> int:
        """Give back every row this owner holds but has not recorded (it stops; others may take them)."""
        with self.transaction() as tx:
            return int(tx.execute("UPDATE deliveries SET owner = NULL, lease_until = 0 WHERE owner = ?",
                                  (owner,)).rowcount)

    def record(self, results: Sequence[Result], *, run: int, now: float, soft_limit: int = 3,
               soft_window: float = 30 * 86400.0) -> None:
        """Record outcomes and release their rows, in one transaction; a sent row stays sent.

        Refusals of the recipient (`Result.refusal`) are bounce events under the policy, in the
        same transaction: a crash between the send and its record never loses one."""
        stamp = now_iso()
        ordered = sorted(results, key=lambda r: r.row_id)
        sent = sum(1 for r in results if r.status == "sent")
        with self.transaction() as tx:
            tx.executemany(
                "UPDATE deliveries SET status = ?, last_code = ?, last_reply = ?, attempts = attempts + 1, "
                "attempts_run = attempts_run + 1, unknown_attempts = unknown_attempts + ?, retry_at = ?, "
                "updated_at = ?, owner = NULL, lease_until = 0 WHERE id = ? AND status <> 'sent'",
                [(r.status, r.code, _storable(r.reply), 1 if r.status == "unknown" else 0, r.retry_at, stamp,
                  r.row_id) for r in ordered])
            if any(r.refusal for r in ordered):
                self.record_refusals(tx, ordered, now=now, soft_limit=soft_limit,  # type: ignore[attr-defined]
                                     soft_window=soft_window)
            tx.execute("UPDATE runs SET sent = sent + ?, heartbeat = ? WHERE id = ?", (sent, now, run))

    def next_due(self, campaign_id: int, *, run: int, max_attempts: int) -> float | None:
        """When the earliest deferred or unknown row this run may still try becomes due."""
        # Only the fixed _CURRENT condition is formatted in; the values are bound parameters.
        row = self.one(
            "SELECT MIN(d.retry_at) FROM campaign_members m JOIN deliveries d ON d.id = m.delivery "  # nosec B608
            f"WHERE m.campaign = ? AND {_CURRENT} AND ((d.status = 'deferred' AND (d.run_id IS NULL OR d.run_id <> ? "
            "OR d.attempts_run < ?)) OR (d.status = 'unknown' AND d.unknown_attempts < ?)) "
            f"AND NOT {SUPPRESSED_ROW}",
            (campaign_id, run, max_attempts, MAX_UNKNOWN_ATTEMPTS))
        return float(row[0]) if row and row[0] is not None else None

    def held_by_others(self, campaign_id: int, *, owner: str, now: float) -> int:
        """Rows of the campaign that another live sender holds."""
        row = self.one(
            "SELECT COUNT(*) FROM campaign_members m JOIN deliveries d ON d.id = m.delivery "
            "WHERE m.campaign = ? AND d.owner IS NOT NULL AND d.owner <> ? AND d.lease_until >= ?",
            (campaign_id, owner, now))
        return int(row[0]) if row else 0

    def holders(self, campaign_id: int, *, now: float) -> set[str]:
        """Owners holding live leases on the campaign: its rows and its reader."""
        found = {str(row[0]) for row in self.query(
            "SELECT DISTINCT d.owner FROM campaign_members m JOIN deliveries d ON d.id = m.delivery "
            "WHERE m.campaign = ? AND d.owner IS NOT NULL AND d.lease_until >= ?", (campaign_id, now))}
        reader = self.one("SELECT reader FROM campaigns WHERE id = ? AND reader IS NOT NULL AND reader_until >= ?",
                          (campaign_id, now))
        if reader:
            found.add(str(reader[0]))
        return found

    def expire(self, owner: str) -> None:
        """End every lease of an owner known to be dead: its rows and its reading go to others at once."""
        with self.transaction() as tx:
            tx.execute("UPDATE deliveries SET lease_until = 0 WHERE owner = ?", (owner,))
            tx.execute("UPDATE campaigns SET reader_until = 0 WHERE reader = ?", (owner,))

    # -- runs --------------------------------------------------------------------

    def start_run(self, campaign: Campaign, *, owner: str, host: str, now: float, retry_failed: bool = False,
                  retry_unknown: bool = False) -> int:
        """Register a sender; with retry_failed/retry_unknown those rows become pending again."""
        members = "id IN (SELECT delivery FROM campaign_members WHERE campaign = ?)"
        with self.transaction() as tx:
            if retry_failed:
                tx.execute(f"UPDATE deliveries SET status = 'pending' WHERE status = 'failed' AND {members}",  # nosec B608
                           (campaign.id,))
            if retry_unknown:
                # One more copy each, knowingly: the next unknown outcome is final again.
                tx.execute("UPDATE deliveries SET status = 'pending', unknown_attempts = ? "  # nosec B608
                           f"WHERE status = 'unknown' AND {members}", (MAX_UNKNOWN_ATTEMPTS - 1, campaign.id))
            row = tx.execute("INSERT INTO runs (issue, campaign, owner, host, started_at, heartbeat) "
                             "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                             (campaign.issue, campaign.id, owner, host, now_iso(), now)).fetchone()
        return int(row[0])

    def open_runs(self, campaign_id: int, *, now: float) -> list[tuple[int, str]]:
        """(run id, owner) of the campaign's runs that have not finished and were heard from lately."""
        return [(int(rid), str(owner)) for rid, owner in self.query(
            "SELECT id, owner FROM runs WHERE campaign = ? AND finished_at IS NULL AND heartbeat >= ? "
            "AND owner IS NOT NULL", (campaign_id, now - WORKER_SILENCE))]

    def finish_run(self, run: int, *, seconds: float) -> None:
        """Record how long a run took; it no longer counts as a live worker."""
        with self.transaction() as tx:
            tx.execute("UPDATE runs SET finished_at = ?, seconds = ? WHERE id = ?", (now_iso(), seconds, run))
