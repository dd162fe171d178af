"""Store queries for the bounce mailbox's memory: which IMAP messages `inbox process` has already judged.

Used when the IMAP server does not let digest set its own keyword
(`$DigestSeen`) on a message: then (mailbox, UIDVALIDITY, UID) is kept here.
A new UIDVALIDITY means the server renumbered the folder: the old UIDs say
nothing any more and are dropped (RFC 3501 section 2.3.1.1).
"""

from __future__ import annotations

from collections.abc import Sequence

from digest.store.base import SQLBase, now_iso

__all__ = ["InboxQueries"]

_CHUNK = 500


class InboxQueries(SQLBase):
    """Judged IMAP messages by (mailbox, UIDVALIDITY, UID)."""

    def inbox_judged(self, mailbox: str, uidvalidity: int) -> set[int]:
        """The UIDs of this mailbox already judged under this UIDVALIDITY."""
        rows = self.query("SELECT uid FROM inbox_judged WHERE mailbox = ? AND uidvalidity = ?",
                          (mailbox, uidvalidity))
        return {int(row[0]) for row in rows}

    def mark_inbox_judged(self, mailbox: str, uidvalidity: int, uids: Sequence[int]) -> None:
        """Remember these UIDs as judged; forget the mailbox's UIDs of any other UIDVALIDITY."""
        with self.transaction() as tx:
            tx.execute("DELETE FROM inbox_judged WHERE mailbox = ? AND uidvalidity <> ?", (mailbox, uidvalidity))
            now = now_iso()
            wanted = sorted(set(uids))
            for start in range(0, len(wanted), _CHUNK):
                tx.executemany(
                    "INSERT INTO inbox_judged (mailbox, uidvalidity, uid, judged_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING",
                    [(mailbox, uidvalidity, uid, now) for uid in wanted[start:start + _CHUNK]])
