"""The embedded store: one SQLite file in WAL mode, private to its owner (0600 in a 0700 folder)."""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from digest.core.errors import StateError
from digest.store.base import SQLBase, Tx
from digest.store.queries import Queries

__all__ = ["SQLiteStore", "explain"]


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


class _SQLiteTx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.db.executemany(sql, rows)


def _private(path: Path) -> None:
    """Create the file 0600 (before SQLite does, with the umask's mode); a folder made for it is 0700.

    The workspace's own `.digest/` is made private even when it already exists; any
    other folder a database is put in is left as its owner set it.
    """
    if not path.parent.exists():
        # exist_ok: two processes starting on a fresh workspace both get here.
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    if path.parent.name == ".digest":
        os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    # A database made by an earlier version (0644) becomes private too; SQLite gives the
    # WAL and shared-memory files the database file's mode.
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if name.stat().st_mode & 0o077:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            pass


def _wal(db: sqlite3.Connection, timeout: float) -> None:
    """Switch to WAL, waiting for other processes doing the same on a fresh file.

    Changing the journal mode needs an exclusive lock, and SQLite answers SQLITE_BUSY at
    once (without the busy handler) while another connection holds it, so two processes
    opening a new workspace together would see "database is locked"; wait as a write would.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class SQLiteStore(Queries, SQLBase):
    """The workspace database as a SQLite file; one connection per thread."""

    backend = "sqlite"

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self.read_only = False
        try:
            _private(path)
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM) or not path.is_file():
                raise StateError(f"cannot create the state folder: {exc.strerror or exc}", path=str(path)) from None
            # A read-only folder: what only reads (status, checks) works; the first write is a one-line
            # error, before anything is sent or written.
            self.read_only = True
        db = self._connection()
        try:
            if self.read_only:
                from digest.store.migrations import MIGRATIONS

                if {name for name, _ in MIGRATIONS} - set(self.migrations()):
                    raise sqlite3.OperationalError("it needs an upgrade, which cannot be written")
            else:
                # Fail now, not mid-send, on a read-only database or a full disk.
                self.migrate()
                db.execute("BEGIN IMMEDIATE")
                db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            self.close()
            raise StateError(f"cannot open the workspace database: {explain(exc, path)}", path=str(path)) from None
        except StateError:
            self.close()
            raise

    def prepare_erasure(self, tx: Tx) -> None:
        """secure_delete: SQLite overwrites the deleted rows (and the index entries) with zeros."""
        tx.execute("PRAGMA secure_delete=ON")

    def scrub(self) -> None:
        """After an erasure: rebuild the file (VACUUM leaves no free page with old content) and fold the
        WAL into it, truncated to nothing, so no older copy of a page stays readable in `-wal`."""
        db = self._connection()
        try:
            db.execute("VACUUM")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise self.fail(exc, "cannot compact the workspace database after an erasure") from None
        finally:
            db.execute("PRAGMA secure_delete=OFF")

    def describe(self) -> str:
        """Where the state lives, for humans."""
        return f"SQLite {self.path}"

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            return db
        try:
            if self.read_only:
                db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                                     timeout=self.timeout, check_same_thread=False)
                try:
                    db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
                except sqlite3.Error:
                    # No -shm file and none can be made: read the file as it is (a clean close left
                    # no WAL behind; nobody can change a file on a read-only file system).
                    db.close()
                    db = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, isolation_level=None,
                                         timeout=self.timeout, check_same_thread=False)
            else:
                # Each connection is used by the thread that made it; close() may run elsewhere.
                db = sqlite3.connect(self.path, isolation_level=None, timeout=self.timeout, check_same_thread=False)
                # WAL + NORMAL: a commit survives a killed process (it is in the WAL);
                # fsync happens at checkpoints, which keeps per-commit cost low.
                _wal(db, self.timeout)
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StateError(f"cannot open the workspace database: {explain(exc, self.path)}",
                             path=str(self.path)) from None
        self._local.db = db
        with self._guard:
            self._all.append(db)
        return db

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """BEGIN IMMEDIATE: the write lock is taken first, so a read-then-write never races."""
        db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self.fail(exc, "cannot write the workspace database") from None
        try:
            yield _SQLiteTx(db)
        except sqlite3.Error as exc:
            db.execute("ROLLBACK")
            raise self.fail(exc, "cannot write the workspace database") from None
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise self.fail(exc, "cannot write the workspace database") from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement."""
        try:
            return self._connection().execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise self.fail(exc, "cannot read the workspace database") from None

    def ddl(self, sql: str) -> str:
        """SQLite types for the schema placeholders."""
        return sql.replace("{pk}", "INTEGER PRIMARY KEY").replace("{real}", "REAL").replace("{bigint}", "INTEGER")

    def has_table(self, tx: Tx, name: str) -> bool:
        """True when the table exists."""
        return tx.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() \
            is not None

    def fail(self, exc: BaseException, what: str) -> StateError:
        """A one-line error naming the file and the likely cause."""
        return StateError(f"{what}: {explain(exc, self.path)}", path=str(self.path))

    def close(self) -> None:
        """Close every thread's connection."""
        with self._guard:
            connections, self._all = self._all, []
        for db in connections:
            try:
                db.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()
