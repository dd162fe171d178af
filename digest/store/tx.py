"""What a migration step and a query module see of a database: a transaction and the dialect's DDL.

Kept apart from store/base.py so the migrations can name these types without
importing the base that applies them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["Tx", "Schema", "run_script"]


class Tx(Protocol):
    """A transaction: statements with `?` placeholders, rows as tuples."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; the returned cursor has fetchone/fetchall/rowcount."""
        ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement per row (results are not read: on PostgreSQL they travel pipelined)."""
        ...


class Schema(Protocol):
    """What a migration step needs of the store beside its transaction: the dialect and its types."""

    #: "sqlite" or "postgresql".
    backend: str

    def ddl(self, sql: str) -> str:
        """Fill the dialect's types into a schema statement ({pk}, {real}, {bigint})."""
        ...


def run_script(store: Schema, tx: Tx, script: str) -> None:
    """Run a schema script (statements separated by `;`) with the dialect's types filled in."""
    for statement in script.split(";"):
        if statement.strip():
            tx.execute(store.ddl(statement))
