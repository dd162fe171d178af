"""Store queries for counted clicks: one row per click, human or machine, per reader only when asked.

A click row names the issue, the link's number and URL (from its signed token), whether it
looked like a machine (and why), and the reader's email key only with `[tracking] per_reader`.
`forget_clicks` is what erasure calls to drop one reader's clicks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from digest.store.base import SQLBase
from digest.store.issues import email_key

__all__ = ["ClickQueries", "LinkClicks"]


@dataclass(frozen=True, slots=True)
class LinkClicks:
    """The clicks on one link of one issue: human, machine, and distinct human clickers (per-reader only)."""

    issue: int
    link: int
    url: str
    human: int
    machine: int
    clickers: int


class ClickQueries(SQLBase):
    """Counted clicks (digest.render.tracking makes the links, digest.web.clicks counts them)."""

    def record_click(self, *, issue: int, link: int, url: str, machine: str = "", reader: str = "",
                     at: float | None = None) -> None:
        """One click: `machine` says why it is not a person's ("" = a person's); `reader` an email, or ""."""
        with self.transaction() as tx:
            tx.execute("INSERT INTO clicks (issue, link, url, machine, email_key, at) VALUES (?, ?, ?, ?, ?, ?)",
                       (issue, link, url[:2000], machine[:40], email_key(reader) if reader else None,
                        time.time() if at is None else at))

    def link_clicks(self, issue: int | None = None) -> list[LinkClicks]:
        """Clicks per link (of one issue, or of all), in the issue's link order."""
        where, params = ("AND issue = ? ", (issue,)) if issue is not None else ("", ())
        rows = self.query(
            "SELECT issue, link, MIN(url), SUM(CASE WHEN machine = '' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN machine = '' THEN 0 ELSE 1 END), "
            "COUNT(DISTINCT CASE WHEN machine = '' THEN email_key END) "
            f"FROM clicks WHERE kind = 'click' {where}GROUP BY issue, link ORDER BY issue, link",  # nosec B608
            params)
        return [LinkClicks(int(i), int(n), str(u), int(h or 0), int(m or 0), int(c or 0)) for i, n, u, h, m, c in rows]

    def unique_clickers(self, issue: int) -> int:
        """Distinct readers with a human click in an issue (0 unless clicks are counted per reader)."""
        row = self.one("SELECT COUNT(DISTINCT email_key) FROM clicks WHERE kind = 'click' AND issue = ? "
                       "AND machine = '' AND email_key IS NOT NULL", (issue,))
        return int(row[0]) if row else 0

    def record_open(self, *, issue: int, machine: str = "", reader: str = "", at: float | None = None) -> None:
        """One load of an issue's open pixel: `machine` "apple" for Mail Privacy Protection, "agent" for others."""
        with self.transaction() as tx:
            tx.execute("INSERT INTO clicks (kind, issue, link, url, machine, email_key, at) "
                       "VALUES ('open', ?, 0, '', ?, ?, ?)",
                       (issue, machine[:40], email_key(reader) if reader else None, time.time() if at is None else at))

    def opens(self, issue: int) -> dict[str, int]:
        """An issue's pixel loads by who made them: "" (a person, as far as anyone can tell), apple, agent."""
        rows = self.query("SELECT machine, COUNT(*) FROM clicks WHERE kind = 'open' AND issue = ? GROUP BY machine",
                          (issue,))
        return {str(m): int(n) for m, n in rows}

    def delivered_at(self, issue: int, email: str = "") -> float | None:
        """When the issue last left for this reader (or for anyone), as a Unix time; None when it never did."""
        if email:
            row = self.one("SELECT MAX(updated_at) FROM deliveries WHERE issue = ? AND email_key = ? "
                           "AND status = 'sent'", (issue, email_key(email)))
        else:
            row = self.one("SELECT MAX(updated_at) FROM deliveries WHERE issue = ? AND status = 'sent'", (issue,))
        if not row or not row[0]:
            return None
        try:
            return datetime.strptime(str(row[0]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            return None  # a row written some other way: no delivery time to compare a click with

    def forget_clicks(self, email: str) -> int:
        """Erasure: drop every click that names this reader; how many went."""
        with self.transaction() as tx:
            return int(tx.execute("DELETE FROM clicks WHERE email_key = ?", (email_key(email),)).rowcount)

    def reader_clicks(self, email: str) -> list[tuple[int, int, str, float]]:
        """A reader's own clicks (issue, link, URL, when), for their data download."""
        rows = self.query("SELECT issue, link, url, at FROM clicks WHERE email_key = ? ORDER BY at, id",
                          (email_key(email),))
        return [(int(i), int(n), str(u), float(a)) for i, n, u, a in rows]
