"""A set of seen addresses on disk (temporary SQLite), so a million-row list never sits in memory."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

__all__ = ["SeenAddresses"]


class SeenAddresses:
    """Remember addresses (by key) and the line each first appeared on."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="digest-dedupe-")
        self.db = sqlite3.connect(Path(self._dir.name) / "seen.sqlite3", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-8000")  # at most ~8 MB of page cache
        self.db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, line INTEGER) WITHOUT ROWID")
        self.db.execute("BEGIN")
        self._pending = 0

    def add(self, key: str, line: int) -> int | None:
        """Record `key`; return the line it was first seen on when it is a duplicate."""
        row = self.db.execute("SELECT line FROM seen WHERE key = ?", (key,)).fetchone()
        if row:
            return int(row[0])
        self.db.execute("INSERT INTO seen VALUES (?, ?)", (key, line))
        self._pending += 1
        if self._pending >= 10_000:
            self.db.execute("COMMIT")
            self.db.execute("BEGIN")
            self._pending = 0
        return None

    def close(self) -> None:
        """Drop the temporary database."""
        self.db.close()
        self._dir.cleanup()

    def __enter__(self) -> SeenAddresses:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
