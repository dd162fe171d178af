"""The send journal: one row per (issue, recipient), written in batched transactions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from digest.errors import StateError
from digest.model import Subscriber
from digest.state import State, explain, now_iso

__all__ = ["JournalRow", "Result", "Journal", "JournalWriter"]

ENQUEUE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class JournalRow:
    """A recipient waiting to be sent to."""

    id: int
    subscriber: Subscriber
    list_name: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Result:
    """An outcome to record against a journal row."""

    row_id: int
    status: str
    code: int
    reply: str
    retry_at: float = 0.0


class Journal:
    """Journal queries for one issue."""

    def __init__(self, state: State, issue: int) -> None:
        self.state = state
        self.issue = issue

    def enqueue(
        self, subscribers: Iterable[tuple[Subscriber, str]], message_id: Callable[[str], str]
    ) -> tuple[int, int]:
        """Add a pending row per new recipient; return (added, suppressed); streams in batches."""
        added = suppressed = 0
        batch: list[tuple[Subscriber, str]] = []
        for item in subscribers:
            batch.append(item)
            if len(batch) >= ENQUEUE_BATCH:
                a, s = self._insert(batch, message_id)
                added, suppressed, batch = added + a, suppressed + s, []
        if batch:
            a, s = self._insert(batch, message_id)
            added, suppressed = added + a, suppressed + s
        return added, suppressed

    def _insert(self, batch: list[tuple[Subscriber, str]], message_id: Callable[[str], str]) -> tuple[int, int]:
        db = self.state.db
        keys = [s.key for s, _ in batch]
        marks = ",".join("?" * len(keys))
        # Only "?" placeholders are formatted in; the values are bound parameters.
        query = f"SELECT email_key FROM suppressions WHERE email_key IN ({marks})"  # nosec B608
        blocked = {row[0] for row in db.execute(query, keys)}
        now = now_iso()
        rows = [
            (self.issue, s.email, s.key, s.name, json.dumps(dict(s.attrs), ensure_ascii=False),
             list_name, message_id(s.key), now, now)
            for s, list_name in batch if s.key not in blocked
        ]
        try:
            with db:
                db.execute("BEGIN")
                before = db.total_changes
                db.executemany(
                    "INSERT OR IGNORE INTO deliveries (issue, email, email_key, name, attrs, list, "
                    "message_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                added = db.total_changes - before
        except Exception as exc:
            raise StateError(f"cannot write the journal: {explain(exc, self.state.path)}",
                             path=str(self.state.path)) from None
        return added, len(batch) - len(rows)

    def start_run(self, *, retry_failed: bool) -> int:
        """Reset per-run attempt counters; with retry_failed, failed rows become pending again."""
        db = self.state.db
        with db:
            db.execute("BEGIN")
            if retry_failed:
                db.execute(
                    "UPDATE deliveries SET status = 'pending' WHERE issue = ? AND status = 'failed'", (self.issue,)
                )
            db.execute("UPDATE deliveries SET attempts_run = 0 WHERE issue = ?", (self.issue,))
            cursor = db.execute("INSERT INTO runs (issue, started_at) VALUES (?, ?)", (self.issue, now_iso()))
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, *, sent: int, seconds: float) -> None:
        """Record how much this run sent and how long it took."""
        self.state.write(
            "UPDATE runs SET finished_at = ?, sent = ?, seconds = ? WHERE id = ?",
            (now_iso(), sent, seconds, run_id),
        )

    def ready(self, *, max_attempts: int, after: int = 0, limit: int = 500) -> list[JournalRow]:
        """The next rows to try: pending, or deferred and due, in id order after `after`."""
        rows = self.state.db.execute(
            "SELECT id, email, name, attrs, list, attempts FROM deliveries "
            "WHERE issue = ? AND id > ? AND attempts_run < ? AND (status = 'pending' "
            "OR (status = 'deferred' AND retry_at <= ?)) "
            "AND email_key NOT IN (SELECT email_key FROM suppressions) ORDER BY id LIMIT ?",
            (self.issue, after, max_attempts, time.time(), limit),
        ).fetchall()
        return [
            JournalRow(rid, Subscriber(email, name, attrs=json.loads(attrs)), list_name, attempts)
            for rid, email, name, attrs, list_name, attempts in rows
        ]

    def next_retry(self, *, max_attempts: int) -> float | None:
        """When the earliest deferred row that may still be tried this run becomes due."""
        row = self.state.db.execute(
            "SELECT MIN(retry_at) FROM deliveries WHERE issue = ? AND status = 'deferred' AND attempts_run < ?",
            (self.issue, max_attempts),
        ).fetchone()
        return row[0] if row and row[0] is not None else None

    def counts(self) -> dict[str, int]:
        """Rows by status."""
        counts = dict.fromkeys(("pending", "sent", "deferred", "failed"), 0)
        for status, n in self.state.db.execute(
            "SELECT status, COUNT(*) FROM deliveries WHERE issue = ? GROUP BY status", (self.issue,)
        ):
            counts[status] = n
        return counts

    def failures(self) -> Iterator[tuple[str, int | None, str]]:
        """Every failed or still-deferred recipient with the server's last reply."""
        yield from self.state.db.execute(
            "SELECT email, last_code, last_reply FROM deliveries WHERE issue = ? "
            "AND status IN ('failed', 'deferred') ORDER BY status, id",
            (self.issue,),
        )

    def write_results(self, results: list[Result]) -> None:
        """Record a batch of outcomes in one transaction."""
        now = now_iso()
        db = self.state.db
        try:
            with db:
                db.execute("BEGIN")
                db.executemany(
                    "UPDATE deliveries SET status = ?, last_code = ?, last_reply = ?, attempts = attempts + 1, "
                    "attempts_run = attempts_run + 1, retry_at = ?, updated_at = ? WHERE id = ?",
                    [(r.status, r.code, r.reply, r.retry_at, now, r.row_id) for r in results],
                )
        except Exception as exc:
            raise StateError(f"cannot write the journal: {explain(exc, self.state.path)}",
                             path=str(self.state.path)) from None


class JournalWriter:
    """Group commit: callers await their result's commit; one transaction per wake-up."""

    def __init__(self, journal: Journal, on_commit: Callable[[list[Result]], None] | None = None) -> None:
        self.journal = journal
        self.on_commit = on_commit
        self._pending: list[tuple[Result, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._error: StateError | None = None

    async def record(self, result: Result) -> None:
        """Queue a result and return once it is committed; raise if the journal cannot be written."""
        if self._error is not None:
            raise self._error  # the writer is gone: nobody would ever commit this
        future = asyncio.get_running_loop().create_future()
        self._pending.append((result, future))
        self._wake.set()
        await future

    async def run(self) -> None:
        """Commit whatever has queued up, until closed and drained."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                results = [r for r, _ in batch]
                try:
                    self.journal.write_results(results)
                except StateError as exc:
                    self._error = exc
                    for _, future in [*batch, *self._pending]:
                        if not future.done():
                            future.set_exception(exc)
                    self._pending = []
                    raise
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
                if self.on_commit:
                    self.on_commit(results)
            if self._closed and not self._pending:
                return

    def close(self) -> None:
        """Ask the writer to finish once everything queued is committed."""
        self._closed = True
        self._wake.set()
