"""Store queries for issue numbers, workspace facts and the archive (the suppression list: `suppressions`)."""

from __future__ import annotations

from digest.store.base import SQLBase, now_iso
from digest.store.records import SentIssue

__all__ = ["IssueQueries", "FactQueries", "email_key"]


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
