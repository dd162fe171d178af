"""The store roles of what happened to an issue: counted clicks and opens, the report's figures.

Split from `digest.store.roles` by subject; `Store` (digest.store.protocol) is the union of all roles.
"""

from __future__ import annotations

from typing import Protocol

from digest.store.clicks import LinkClicks
from digest.store.reports import IssueOutcome

__all__ = ["ClickStore", "ReportStore"]


class ClickStore(Protocol):
    """Counted clicks: the redirect records them, the report reads them, erasure forgets a reader's."""

    def record_click(self, *, issue: int, link: int, url: str, machine: str = "", reader: str = "",
                     at: float | None = None) -> None:
        """One click; `machine` says why it is not a person's ("" = a person's); `reader` an email or ""."""
        ...

    def link_clicks(self, issue: int | None = None) -> list[LinkClicks]:
        """Human and machine clicks per link (of one issue, or of all)."""
        ...

    def unique_clickers(self, issue: int) -> int:
        """Distinct readers with a human click in an issue (per-reader counting only)."""
        ...

    def record_open(self, *, issue: int, machine: str = "", reader: str = "", at: float | None = None) -> None:
        """One load of an issue's open pixel; `machine` "apple" (Mail Privacy Protection) or "agent"."""
        ...

    def opens(self, issue: int) -> dict[str, int]:
        """An issue's pixel loads by who made them: "" (a person, as far as one can tell), apple, agent."""
        ...

    def delivered_at(self, issue: int, email: str = "") -> float | None:
        """When the issue last left for this reader (or anyone), Unix time; None when it never did."""
        ...

    def forget_clicks(self, email: str) -> int:
        """Erasure: drop every click naming this reader (an address or its email key)."""
        ...

    def reader_clicks(self, email: str) -> list[tuple[int, int, str, float]]:
        """A reader's clicks (issue, link, URL, when), for their data download."""
        ...


class ReportStore(ClickStore, Protocol):
    """`digest report`: what happened to each sent issue, and its clicks."""

    def issue_outcomes(self) -> list[IssueOutcome]:
        """Every issue with a sent message, oldest first."""
        ...
