"""Reading a subscriber list the way send does, keeping the rows and the problems apart."""

from __future__ import annotations

from pathlib import Path

from digest.core.model import Subscriber
from digest.subscribers import RowProblem, read_list


def read_rows(path: Path) -> tuple[list[Subscriber], list[RowProblem]]:
    """Every row of the list at `path` that reads, and every problem reported on the way."""
    problems: list[RowProblem] = []
    rows = list(read_list(path, on_problem=problems.append))
    return rows, problems
