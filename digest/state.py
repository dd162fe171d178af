"""The workspace database (SQLite, WAL): issue numbers, the send journal, the suppression list."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from digest.errors import StateError

__all__ = ["State", "Suppression", "SUPPRESSION_REASONS", "now_iso"]

SUPPRESSION_REASONS = ("unsubscribed", "bounced", "complained", "manual")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS issues (
    number INTEGER PRIMARY KEY,
    content_key TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    built_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    issue INTEGER NOT NULL,
    email TEXT NOT NULL,            -- address as written in the list
    email_key TEXT NOT NULL,        -- lower-cased: one person, one row per issue
    name TEXT NOT NULL DEFAULT '',
    attrs TEXT NOT NULL DEFAULT '{}',
    list TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'deferred', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    attempts_run INTEGER NOT NULL DEFAULT 0,  -- attempts in the current run (--max-attempts)
    retry_at REAL NOT NULL DEFAULT 0,          -- POSIX time a deferred row is due again
    last_code INTEGER,
    last_reply TEXT,
    message_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (issue, email_key)
);
CREATE INDEX IF NOT EXISTS deliveries_by_status ON deliveries (issue, status, id);
CREATE TABLE IF NOT EXISTS suppressions (
    email_key TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    reason TEXT NOT NULL,
    issue INTEGER,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    issue INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    sent INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0
);
"""


def explain(exc: BaseException, path: Path) -> str:
    """SQLite's message, plus the likely cause when the disk is full or read-only."""
    message = str(exc)
    try:
        stats = os.statvfs(path.parent if path.parent.exists() else Path.cwd())
    except OSError:
        return message
    if stats.f_flag & os.ST_RDONLY:
        return f"{message} (the folder is on a read-only file system)"
    if stats.f_bavail * stats.f_frsize < 1024 * 1024:
        return f"{message} (the disk is full)"
    return message


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Suppression:
    """An address that must never be sent to again, and why."""

    email: str
    reason: str
    issue: int | None
    created_at: str


class State:
    """One open connection to the workspace database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, timeout=10)
            # WAL + NORMAL: a commit survives a killed process (it is in the WAL);
            # fsync happens at checkpoints, which keeps per-commit cost low.
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(_SCHEMA)
            self.db.execute("BEGIN IMMEDIATE")  # fails now, not mid-send, on a read-only folder
            self.db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise StateError(f"cannot open the workspace database: {explain(exc, path)}", path=str(path)) from None
        except OSError as exc:
            raise StateError(f"cannot create the state folder: {exc.strerror}", path=str(path)) from None

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, sql: str, params: Iterable[object] = ()) -> sqlite3.Cursor:
        """Run one statement, turning disk-full and read-only errors into StateError."""
        try:
            return self.db.execute(sql, tuple(params))
        except sqlite3.OperationalError as exc:
            raise StateError(f"database write failed: {explain(exc, self.path)}", path=str(self.path)) from None

    # -- issue numbers -------------------------------------------------------

    def number_for(self, content_key: str, subject: str) -> int:
        """The issue number for this content: the same content keeps its number."""
        row = self.db.execute("SELECT number FROM issues WHERE content_key = ?", (content_key,)).fetchone()
        if row:
            return int(row[0])
        cursor = self.write(
            "INSERT INTO issues (content_key, subject, built_at) VALUES (?, ?, ?)",
            (content_key, subject, now_iso()),
        )
        return int(cursor.lastrowid or 0)

    def peek_number(self, content_key: str) -> int:
        """The number this content has or would get, without reserving it."""
        row = self.db.execute("SELECT number FROM issues WHERE content_key = ?", (content_key,)).fetchone()
        if row:
            return int(row[0])
        return int(self.db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM issues").fetchone()[0])

    # -- suppression list ----------------------------------------------------

    def suppress(self, email: str, *, reason: str, issue: int | None = None) -> bool:
        """Add an address to the suppression list; False when it was already there."""
        if reason not in SUPPRESSION_REASONS:
            raise StateError(f"unknown reason {reason!r}; use one of {', '.join(SUPPRESSION_REASONS)}")
        cursor = self.write(
            "INSERT OR IGNORE INTO suppressions (email_key, email, reason, issue, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (email.strip().lower(), email.strip(), reason, issue, now_iso()),
        )
        return cursor.rowcount == 1

    def unsuppress(self, email: str) -> bool:
        """Take an address off the suppression list; False when it was not on it."""
        cursor = self.write("DELETE FROM suppressions WHERE email_key = ?", (email.strip().lower(),))
        return cursor.rowcount == 1

    def is_suppressed(self, email: str) -> bool:
        """True when the address must not be sent to."""
        row = self.db.execute(
            "SELECT 1 FROM suppressions WHERE email_key = ?", (email.strip().lower(),)
        ).fetchone()
        return row is not None

    def suppressions(self) -> Iterator[Suppression]:
        """Every suppressed address, oldest first."""
        for email, reason, issue, created in self.db.execute(
            "SELECT email, reason, issue, created_at FROM suppressions ORDER BY created_at, email"
        ):
            yield Suppression(email, reason, issue, created)
