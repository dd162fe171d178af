"""Store queries for cached list validations: an unchanged list file is not checked again."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from digest.store.base import SQLBase, now_iso
from digest.store.records import ListCheck

__all__ = ["ListCheckQueries"]

_BATCH = 1000


class ListCheckQueries(SQLBase):
    """The last validation of each list file, keyed by its path, size, mtime and content hash."""

    def list_check(self, path: str, *, size: int, mtime_ns: int) -> ListCheck | None:
        """The cached check of this file if its size and mtime are unchanged (the caller checks the hash)."""
        row = self.one("SELECT path, size, mtime_ns, sha256, rows, valid, duplicates, invalid FROM list_checks "
                       "WHERE path = ? AND size = ? AND mtime_ns = ?", (path, size, mtime_ns))
        if row is None:
            return None
        p, s, m, digest, rows, valid, duplicates, invalid = row
        return ListCheck(str(p), int(s), int(m), str(digest), int(rows), int(valid), int(duplicates), int(invalid))

    def list_check_lines(self, path: str) -> Iterator[tuple[int, str, str]]:
        """(line, address, reason) of every row the cached check left out, in line order."""
        for line, email, reason in self.query(
                "SELECT l.line, l.email, l.reason FROM list_check_lines l JOIN list_checks c ON c.id = l.check_id "
                "WHERE c.path = ? ORDER BY l.line", (path,)):
            yield int(line), str(email), str(reason)

    def save_list_check(self, check: ListCheck, lines: Iterable[tuple[int, str, str]]) -> None:
        """Replace the cached check of this path: its counts and the rows it left out."""
        with self.transaction() as tx:
            self.lock_table(tx, "list_checks")  # two checks of one file at once: one replaces, then the other
            old = tx.execute("SELECT id FROM list_checks WHERE path = ?", (check.path,)).fetchone()
            if old:
                tx.execute("DELETE FROM list_check_lines WHERE check_id = ?", (old[0],))
                tx.execute("DELETE FROM list_checks WHERE id = ?", (old[0],))
            check_id = tx.execute(
                "INSERT INTO list_checks (path, size, mtime_ns, sha256, rows, valid, duplicates, invalid, checked_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (check.path, check.size, check.mtime_ns, check.sha256, check.rows, check.valid, check.duplicates,
                 check.invalid, now_iso())).fetchone()[0]
            batch: list[tuple[int, int, str, str]] = []
            for line, email, reason in lines:
                batch.append((check_id, line, email, reason))
                if len(batch) >= _BATCH:
                    tx.executemany("INSERT INTO list_check_lines (check_id, line, email, reason) VALUES (?, ?, ?, ?) "
                                   "ON CONFLICT (check_id, line) DO NOTHING", batch)
                    batch = []
            tx.executemany("INSERT INTO list_check_lines (check_id, line, email, reason) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (check_id, line) DO NOTHING", batch)
