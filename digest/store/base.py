"""What both SQL backends share: one connection per thread, transactions, and the migrations runner.

Queries are written once, with `?` placeholders and SQL that SQLite (≥ 3.35) and
PostgreSQL both accept (`ON CONFLICT DO NOTHING`, `RETURNING`); a backend
translates placeholders and supplies the few clauses that differ.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from digest.core.errors import StateError
from digest.store import migrations as _migrations
from digest.store.tx import Tx

__all__ = ["Tx", "SQLBase", "now_iso", "host_id", "owner_id"]


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def host_id() -> str:
    """This machine's name (DIGEST_HOSTNAME, else the host name), telling senders apart in `digest status`.

    Containers often share a host name; give each its own with DIGEST_HOSTNAME.
    """
    name = os.environ.get("DIGEST_HOSTNAME") or socket.gethostname() or "localhost"
    return "".join(c for c in name if c.isalnum() or c in "-._")[:64] or "localhost"


def owner_id(role: str = "sender") -> str:
    """A name no other process, here or on another host, uses: role, host, pid and a random part."""
    return f"{role}:{host_id()}:{os.getpid()}:{secrets.token_hex(4)}"


class SQLBase:
    """The plumbing each backend implements; the query mixins build on it."""

    #: Human name of the backend, for messages.
    backend = "sql"
    #: Appended to the claim's inner SELECT: PostgreSQL's row locks; nothing for SQLite.
    claim_lock = ""
    #: Appended to a SELECT whose row the same transaction then updates from what it read: PostgreSQL
    #: (READ COMMITTED) would let two transactions read the same old row; SQLite's BEGIN IMMEDIATE
    #: already serialises writers.
    row_lock = ""

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: a locked snapshot)."""
        raise NotImplementedError
        yield  # pragma: no cover

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement."""
        raise NotImplementedError

    def ddl(self, sql: str) -> str:
        """Fill the dialect's types into a schema statement ({pk}, {real}, {bigint})."""
        raise NotImplementedError

    def fail(self, exc: BaseException, what: str) -> StateError:
        """A one-line StateError for a database exception."""
        raise NotImplementedError

    def close(self) -> None:
        """Close every connection."""

    def __enter__(self) -> SQLBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a read-only statement, or None."""
        rows = self.query(sql, params)
        return rows[0] if rows else None

    # -- migrations -----------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply every migration this database lacks, in order; return their names.

        Safe when several processes open a fresh database at once: the check and
        the migration run in one write transaction (SQLite's write lock, or a
        PostgreSQL advisory lock), so exactly one of them applies each step.
        """
        applied: list[str] = []
        with self.transaction() as tx:
            self.lock_migrations(tx)
            tx.execute(self.ddl("CREATE TABLE IF NOT EXISTS schema_migrations ("
                                "name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"))
            done = {row[0] for row in tx.execute("SELECT name FROM schema_migrations").fetchall()}
            for name, step in _migrations.MIGRATIONS:  # read now: a test may replace the list
                if name in done:
                    continue
                step(self, tx)
                tx.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", (name, now_iso()))
                applied.append(name)
        return applied

    def lock_migrations(self, tx: Tx) -> None:
        """Serialise migrations between processes (the write transaction does it on SQLite)."""

    def lock_table(self, tx: Tx, table: str) -> None:
        """Serialise writers of one table for the rest of the transaction (SQLite's write lock does it)."""

    def has_table(self, tx: Tx, name: str) -> bool:
        """True when the table exists."""
        raise NotImplementedError

    def migrations(self) -> list[str]:
        """Names of the applied migrations, in order."""
        return [row[0] for row in self.query("SELECT name FROM schema_migrations ORDER BY name")]
