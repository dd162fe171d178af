"""What is stored about one reader: their lists, the data they may download, and erasure.

Erasure (migration 0530_erasure) removes the address from every table that
holds it: signups, signup attempts, list members, suppressions and their
exemptions, bounce and complaint events, the refusal changes, the lines of
list checks. Journal rows stay, so an issue's counts stay right, but lose
the address, the name, the attributes and the relay's last reply (which may
quote the address). What is left is a keyed hash (HMAC with the workspace
secret, made by the caller: the store never sees the secret) in
`erased_readers`, so a later import or send of an old CSV skips the person.
"""

from __future__ import annotations

from typing import Any

from digest.store.base import SQLBase, Tx, now_iso
from digest.store.issues import email_key
from digest.store.suppressions import suppressed_on

__all__ = ["ErasureQueries", "ERASED_TABLES"]

#: Tables whose rows about an address are deleted outright (by their email_key column).
ERASED_TABLES = ("signups", "signup_attempts", "list_members", "suppressions", "list_suppressions",
                 "suppression_exemptions", "bounce_events", "refusal_changes", "clicks")


def _rows(store: SQLBase, sql: str, key: str, names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [dict(zip(names, row, strict=True)) for row in store.query(sql, (key,))]


class ErasureQueries(SQLBase):
    """One reader's lists and data, their changes from the manage page, and their erasure."""

    def reader_lists(self, email: str) -> dict[str, bool]:
        """Every list the store knows the reader on or off: list name → True while it still reaches them."""
        key = email_key(email)
        names = {row[0] for row in self.query(
            "SELECT list FROM list_members WHERE email_key = ? UNION SELECT list FROM list_suppressions "
            "WHERE email_key = ? UNION SELECT list FROM deliveries WHERE email_key = ? AND list <> ''",
            (key, key, key))}
        return {name: not self.list_suppressed(email, list_name=name) for name in sorted(names)}

    def list_suppressed(self, email: str, *, list_name: str) -> bool:
        """True when `list_name` may not be sent to the address (the same condition a send checks)."""
        # suppressed_on formats in the two fixed placeholders only; the values are bound parameters.
        return self.one(f"SELECT 1 WHERE {suppressed_on('?', '?')}",  # nosec B608
                        (email_key(email), list_name, email_key(email), list_name, email_key(email))) is not None

    def rejoin_list(self, email: str, *, list_name: str) -> bool:
        """The reader ticks a list again on their manage page: their unsubscribe from it goes, and an
        unsubscribe from everything no longer holds for it. A bounce or complaint is not lifted here."""
        key = email_key(email)
        with self.transaction() as tx:
            removed = int(tx.execute("DELETE FROM list_suppressions WHERE list = ? AND email_key = ?",
                                     (list_name, key)).rowcount)
            exempted = int(tx.execute(
                "INSERT INTO suppression_exemptions (list, email_key, created_at) SELECT ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM suppressions WHERE email_key = ? AND reason IN "
                "('unsubscribed', 'manual', 'manage')) ON CONFLICT (list, email_key) DO NOTHING",
                (list_name, key, now_iso(), key)).rowcount)
            return removed + exempted > 0

    def reader_data(self, email: str) -> dict[str, Any]:
        """Everything the store holds about an address, as plain values (the reader's data download)."""
        key = email_key(email)
        return {
            "signups": _rows(self, "SELECT list, email, name, state, source, client, requested_at, confirmed_at "
                             "FROM signups WHERE email_key = ? ORDER BY id", key,
                             ("list", "email", "name", "state", "source", "client", "requested_at", "confirmed_at")),
            "consent": _rows(self, "SELECT list, email, name, consented_at, confirmed_at, source, client "
                             "FROM list_members WHERE email_key = ? ORDER BY list", key,
                             ("list", "email", "name", "consented_at", "confirmed_at", "source", "client")),
            "suppressions": self._suppressions(key),
            "sends": _rows(self, "SELECT issue, list, status, attempts, created_at, updated_at FROM deliveries "
                           "WHERE email_key = ? ORDER BY issue", key,
                           ("issue", "list", "status", "attempts", "created_at", "updated_at")),
            "bounces_and_complaints": _rows(
                self, "SELECT kind, issue, status, diagnostic, source, created_at FROM bounce_events "
                "WHERE email_key = ? AND kind <> 'delivered' ORDER BY at", key,
                ("kind", "issue", "status", "diagnostic", "source", "created_at")),
            # Only with [tracking] per_reader: clicks and opens that name the reader.
            "clicks": _rows(self, "SELECT kind, issue, link, url, machine, at FROM clicks WHERE email_key = ? "
                            "ORDER BY at, id", key, ("kind", "issue", "link", "url", "machine", "at")),
        }

    def _suppressions(self, key: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT '', reason, issue, created_at FROM suppressions WHERE email_key = ? UNION ALL "
                          "SELECT list, reason, issue, created_at FROM list_suppressions WHERE email_key = ? "
                          "ORDER BY 4", (key, key))
        return [dict(zip(("list", "reason", "issue", "created_at"), row, strict=True)) for row in rows]

    def erase_reader(self, email: str, *, keyed_hash: str) -> dict[str, int]:
        """Remove the address everywhere the store holds it; keep `keyed_hash` so an old list skips them.

        Returns how many rows each table lost (journal rows: how many were made anonymous).
        """
        key = email_key(email)
        counts: dict[str, int] = {}
        with self.transaction() as tx:
            self.prepare_erasure(tx)
            for table in ERASED_TABLES:
                # The table names are our own constants, never input.
                counts[table] = int(tx.execute(f"DELETE FROM {table} WHERE email_key = ?",  # nosec B608
                                               (key,)).rowcount)
            counts["list_check_lines"] = int(tx.execute(
                "DELETE FROM list_check_lines WHERE LOWER(TRIM(email)) = ?", (key,)).rowcount)
            # The journal keeps its counts: the row stays, unique per issue under a key that names nobody.
            counts["deliveries"] = int(tx.execute(
                "UPDATE deliveries SET email = '', email_key = 'erased:' || CAST(id AS TEXT), name = '', "
                "attrs = '{}', last_reply = NULL WHERE email_key = ?", (key,)).rowcount)
            tx.execute("INSERT INTO erased_readers (keyed_hash, erased_at) VALUES (?, ?) "
                       "ON CONFLICT (keyed_hash) DO NOTHING", (keyed_hash, now_iso()))
        self.scrub()
        return counts

    def erased_hashes(self) -> set[str]:
        """The keyed hashes of every erased reader (a send checks each row of a list against them)."""
        return {row[0] for row in self.query("SELECT keyed_hash FROM erased_readers")}

    def forget_erasure(self, keyed_hash: str) -> bool:
        """The reader opted in again (a confirmed signup): their old erasure no longer skips them."""
        with self.transaction() as tx:
            return int(tx.execute("DELETE FROM erased_readers WHERE keyed_hash = ?", (keyed_hash,)).rowcount) > 0

    def prepare_erasure(self, tx: Tx) -> None:
        """Before the deletes, in their transaction: what the backend needs so deleted rows are overwritten."""

    def scrub(self) -> None:
        """After an erasure: make deleted rows unreadable in the database files where the backend can."""
