"""A scratch set of seen addresses in a temporary SQLite file (not the workspace store).

A million-row list never sits in memory.
"""

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

    def add_many(self, items: list[tuple[str, int]]) -> list[int | None]:
        """Record a batch of (key, line); for each, the line it was first seen on when a duplicate.

        Three statements a batch instead of two a row: what keeps a million-row check fast.
        """
        result: list[int | None] = [None] * len(items)
        first_in_batch: dict[str, int] = {}
        keys = list({key for key, _ in items})
        earlier: dict[str, int] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            # Only "?" placeholders are formatted in; the keys are bound parameters.
            earlier.update(self.db.execute(f"SELECT key, line FROM seen WHERE key IN ({marks})", chunk))  # nosec B608
        new: list[tuple[str, int]] = []
        for index, (key, line) in enumerate(items):
            first = earlier.get(key) or first_in_batch.get(key)
            if first is not None:
                result[index] = first
            else:
                first_in_batch[key] = line
                new.append((key, line))
        self.db.executemany("INSERT INTO seen VALUES (?, ?)", new)
        self._pending += len(new)
        if self._pending >= 10_000:
            self.db.execute("COMMIT")
            self.db.execute("BEGIN")
            self._pending = 0
        return result

    def close(self) -> None:
        """Drop the temporary database."""
        self.db.close()
        self._dir.cleanup()

    def __enter__(self) -> SeenAddresses:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
