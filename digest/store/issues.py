"""Store queries for issue numbers, the suppression list and the archive."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from digest.errors import StateError
from digest.store.base import SQLBase, now_iso
from digest.store.records import SUPPRESSION_REASONS, SentIssue, Suppression

__all__ = ["IssueQueries", "SuppressionQueries", "FactQueries", "email_key"]

_IN_CHUNK = 500


def email_key(email: str) -> str:
    """One person, one key: the address trimmed and lower-cased."""
    return email.strip().lower()


class IssueQueries(SQLBase):
    """Issue numbers: the same content keeps its number; new content gets the next one."""

    def number_for(self, content_key: str, subject: str) -> int:
        """The issue number for this content, reserved on first use (no gaps, race-free)."""
        row = self.one("SELECT number FROM issues WHERE content_key = ?", (content_key,))
        if row:
            return int(row[0])
        with self.transaction() as tx:
            self.lock_table(tx, "issues")
            found = tx.execute("SELECT number FROM issues WHERE content_key = ?", (content_key,)).fetchone()
            if found:
                return int(found[0])
            number = int(tx.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM issues").fetchone()[0])
            tx.execute("INSERT INTO issues (number, content_key, subject, built_at) VALUES (?, ?, ?, ?)",
                       (number, content_key, subject, now_iso()))
        return number

    def peek_number(self, content_key: str) -> int:
        """The number this content has or would get, without reserving it."""
        row = self.one("SELECT number FROM issues WHERE content_key = ?", (content_key,))
        if row:
            return int(row[0])
        return int(self.query("SELECT COALESCE(MAX(number), 0) + 1 FROM issues")[0][0])

    def sent_issues(self) -> list[SentIssue]:
        """Issues with at least one delivered message, newest first, with when the first one left."""
        rows = self.query("SELECT issue, MIN(updated_at) FROM deliveries WHERE status = 'sent' "
                          "GROUP BY issue ORDER BY issue DESC")
        return [SentIssue(int(number), str(first)) for number, first in rows]


class FactQueries(SQLBase):
    """Facts about the workspace that every process and host must agree on."""

    def agree_on(self, name: str, value: str) -> str:
        """Record `value` under `name` unless one is there; return the one recorded (first writer wins)."""
        with self.transaction() as tx:
            tx.execute("INSERT INTO workspace_facts (name, value, created_at) VALUES (?, ?, ?) "
                       "ON CONFLICT (name) DO NOTHING", (name, value, now_iso()))
            return str(tx.execute("SELECT value FROM workspace_facts WHERE name = ?", (name,)).fetchone()[0])


class SuppressionQueries(SQLBase):
    """The suppression list: addresses no send may reach, and why."""

    def suppress(self, email: str, *, reason: str, issue: int | None = None) -> bool:
        """Add an address to the suppression list; False when it was already there."""
        if reason not in SUPPRESSION_REASONS:
            raise StateError(f"unknown reason {reason!r}; use one of {', '.join(SUPPRESSION_REASONS)}")
        with self.transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO suppressions (email_key, email, reason, issue, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (email_key) DO NOTHING",
                (email_key(email), email.strip(), reason, issue, now_iso()))
            return int(cursor.rowcount) == 1

    def unsuppress(self, email: str) -> bool:
        """Take an address off the suppression list; False when it was not on it."""
        with self.transaction() as tx:
            cursor = tx.execute("DELETE FROM suppressions WHERE email_key = ?", (email_key(email),))
            return int(cursor.rowcount) == 1

    def is_suppressed(self, email: str) -> bool:
        """True when the address must not be sent to."""
        return self.one("SELECT 1 FROM suppressions WHERE email_key = ?", (email_key(email),)) is not None

    def suppressed_among(self, keys: Iterable[str]) -> set[str]:
        """Which of these address keys are suppressed."""
        keys = list(keys)
        found: set[str] = set()
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start:start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            # Only "?" placeholders are formatted in; the values are bound parameters.
            found.update(row[0] for row in self.query(
                f"SELECT email_key FROM suppressions WHERE email_key IN ({marks})", chunk))  # nosec B608
        return found

    def suppressions(self) -> Iterator[Suppression]:
        """Every suppressed address, oldest first."""
        for email, reason, issue, created in self.query(
                "SELECT email, reason, issue, created_at FROM suppressions ORDER BY created_at, email"):
            yield Suppression(email, reason, issue, created)
