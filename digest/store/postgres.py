"""The shared store: PostgreSQL through psycopg 3 and a small connection pool per process.

Several `digest send` processes, on one host or many, share one campaign
ledger here; row claims use `SELECT … FOR UPDATE SKIP LOCKED` so two senders
never take the same row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from digest.core.errors import StateError
from digest.store.base import SQLBase, Tx
from digest.store.queries import Queries

__all__ = ["PostgresStore", "redact_url"]

_PASSWORD_KV = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)
# A fixed key for pg_advisory_xact_lock: migrations of this schema, one at a time.
_MIGRATION_LOCK = 0x6469676573  # "diges"


def _secrets_in(url: str) -> list[str]:
    """Every way the URL's password could appear in a message: as written and percent-decoded."""
    from urllib.parse import unquote

    found: list[str] = []
    for match in _PASSWORD_KV.finditer(url):
        found.append(match.group(2).strip("'"))
    scheme, sep, rest = url.partition("://")
    if sep:
        # The user info ends at the last "@" before the path: a password may hold "@", "/" or "#".
        authority = rest.rsplit("@", 1)[0] if "@" in rest else ""
        if ":" in authority:
            found.append(authority.split(":", 1)[1])
    for query in re.findall(r"[?&]password=([^&]*)", url, flags=re.IGNORECASE):
        found.append(query)
    # libpq takes a password's text after an "@" for the host: mask those pieces on their own too.
    pieces = [piece for secret in found for piece in secret.split("@")[1:]]
    return [v for s in [*found, *pieces] if s for v in {s, unquote(s)} if len(v) >= 2]


def redact_url(url: str, text: str | None = None) -> str:
    """`text` (default: the URL itself) with the URL's password replaced by ***, however it is written."""
    message = url if text is None else text
    for secret in sorted(_secrets_in(url), key=len, reverse=True):
        message = message.replace(secret, "***")
    message = _PASSWORD_KV.sub(r"\1***", message)
    return re.sub(r"(?i)([?&]password=)[^&\s]*", r"\1***", message)


class _PGResult:
    """A statement's cursor in pipeline mode: reading its rows or its row count waits for the server."""

    def __init__(self, cursor: Any, pipeline: Any) -> None:
        self.cursor = cursor
        self.pipeline = pipeline

    @property
    def rowcount(self) -> int:
        self.pipeline.sync()
        return int(self.cursor.rowcount)

    def fetchone(self) -> Any:
        return self.cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self.cursor.fetchall())


class _PGTx:
    def __init__(self, conn: Any, pipeline: Any, translate: Any) -> None:
        self.conn = conn
        self.pipeline = pipeline
        self.translate = translate

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _PGResult:
        return _PGResult(self.conn.execute(self.translate(sql), tuple(params)), self.pipeline)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.conn.cursor().executemany(self.translate(sql), rows)


class PostgresStore(Queries, SQLBase):
    """The workspace state in PostgreSQL."""

    backend = "postgresql"
    claim_lock = "FOR UPDATE OF d SKIP LOCKED"
    row_lock = "FOR UPDATE"

    def __init__(self, url: str, *, pool_size: int = 8, timeout: float = 30.0) -> None:
        import logging

        import psycopg
        from psycopg_pool import ConnectionPool

        # psycopg and its pool log every reconnection attempt and every pipeline a lost connection
        # broke; digest reports a failure once, in one line.
        logging.getLogger("psycopg").setLevel(logging.CRITICAL)

        self.url = url
        self._psycopg = psycopg
        self._sql: dict[str, str] = {}
        try:
            # One plain connection first: an unreachable server or a wrong password fails
            # now, with the server's own reason, instead of after the pool's retries.
            psycopg.connect(url, connect_timeout=int(min(timeout, 10))).close()
        except psycopg.Error as exc:
            raise StateError(f"cannot connect to PostgreSQL at {redact_url(url)}: {self._reason(exc)}") from None
        try:
            self.pool = ConnectionPool(url, min_size=1, max_size=pool_size, timeout=timeout, open=False,
                                       kwargs={"autocommit": True, "connect_timeout": int(timeout)},
                                       name="digest")
            self.pool.open(wait=True, timeout=timeout)
        except (psycopg.Error, Exception) as exc:  # psycopg_pool raises its own PoolTimeout
            raise StateError(f"cannot connect to PostgreSQL at {redact_url(url)}: {self._reason(exc)}") from None
        try:
            self.migrate()
        except BaseException:
            self.close()
            raise

    def describe(self) -> str:
        """Where the state lives, for humans (never the password)."""
        return f"PostgreSQL {redact_url(self.url)}"

    def _reason(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        # psycopg quotes bits of a malformed URL back (a password with a space or a bad %-escape).
        return redact_url(self.url, text)[:300]

    def _translate(self, sql: str) -> str:
        done = self._sql.get(sql)
        if done is None:
            # Our statements hold no '?' or '%' inside literals: a plain swap is exact.
            done = self._sql[sql] = sql.replace("?", "%s")
        return done

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One pooled connection, one transaction."""
        from psycopg_pool import PoolTimeout

        psycopg = self._psycopg
        try:
            # Pipeline mode: BEGIN, the statements and COMMIT travel together; a round trip is paid only
            # where a result is read (a claim's RETURNING), not per statement.
            with self.pool.connection() as conn, conn.pipeline() as pipeline, conn.transaction():
                yield _PGTx(conn, pipeline, self._translate)
        except psycopg.Error as exc:
            raise self.fail(exc, "database write failed") from None
        except PoolTimeout as exc:
            raise self.fail(psycopg.OperationalError(str(exc)), "database write failed") from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement."""
        from psycopg_pool import PoolTimeout

        try:
            with self.pool.connection() as conn:
                return list(conn.execute(self._translate(sql), tuple(params)).fetchall())
        except self._psycopg.Error as exc:
            raise self.fail(exc, "database read failed") from None
        except PoolTimeout as exc:
            raise self.fail(self._psycopg.OperationalError(str(exc)), "database read failed") from None

    def ddl(self, sql: str) -> str:
        """PostgreSQL types for the schema placeholders."""
        return (sql.replace("{pk}", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
                .replace("{real}", "DOUBLE PRECISION").replace("{bigint}", "BIGINT"))

    def lock_migrations(self, tx: Tx) -> None:
        """Two processes opening a fresh database at once: one migrates, the other waits."""
        tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    def lock_table(self, tx: Tx, table: str) -> None:
        """Serialise writers of one table for the rest of the transaction."""
        tx.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")

    def has_table(self, tx: Tx, name: str) -> bool:
        """True when the table exists."""
        return tx.execute("SELECT to_regclass(?)", (name,)).fetchone()[0] is not None

    def fail(self, exc: BaseException, what: str) -> StateError:
        """A one-line error naming the server, never its password; retryable when the connection failed."""
        error = StateError(f"{what} on PostgreSQL {redact_url(self.url)}: {self._reason(exc)}")
        error.retryable = isinstance(exc, self._psycopg.OperationalError | self._psycopg.InterfaceError)
        return error

    def close(self) -> None:
        """Close the pool."""
        try:
            self.pool.close()
        except Exception:  # nosec B110 - closing a broken pool must not hide the real error
            pass
