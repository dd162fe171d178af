"""Store queries for the weekly cycle: what each issue carried, where its window ended, what was seen when.

Three small facts make "each issue carries only what is new" work across runs,
processes and hosts:

* `issue_items`: the stories an issue carried (its lead and Top News), by the
  same canonical URL and normalised-title keys the cross-page dedupe uses, so a
  later issue can leave out what an earlier one sent;
* `issue_windows`: when an issue's window ended (the moment its plan was made),
  so the next issue's window starts there;
* `first_seen`: when digest first saw a source file or an undated item, since a
  file's article date says nothing about when it came into `pages/`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from digest.core.errors import StateError
from digest.store.base import SQLBase

__all__ = ["CarriedItem", "CarriedQueries"]

_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class CarriedItem:
    """One story an issue carried: position 0 is the lead, 1… the Top News in order."""

    issue: int
    position: int
    url_key: str
    title_key: str
    origin: str
    title: str
    summary_key: str = ""


class CarriedQueries(SQLBase):
    """What issues carried, their cut-offs, and first sightings of sources."""

    def record_carried(self, issue: int, items: Sequence[CarriedItem]) -> None:
        """Replace what `issue` carries (a rebuild from an edited plan changes it)."""
        with self.transaction() as tx:
            tx.execute("DELETE FROM issue_items WHERE issue = ?", (issue,))
            if items:
                tx.executemany(
                    "INSERT INTO issue_items (issue, position, url_key, title_key, origin, title, summary_key) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(issue, i.position, i.url_key, i.title_key, i.origin, i.title, i.summary_key) for i in items])

    def carried_items(self, issues: Iterable[int]) -> list[CarriedItem]:
        """What these issues carried, oldest issue first."""
        wanted = sorted(set(issues))
        found: list[CarriedItem] = []
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start:start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            # Only "?" placeholders are formatted in; the values are bound parameters.
            rows = self.query("SELECT issue, position, url_key, title_key, origin, title, summary_key "  # nosec B608
                              f"FROM issue_items WHERE issue IN ({marks}) ORDER BY issue, position", chunk)
            found += [CarriedItem(int(a), int(b), str(c), str(d), str(e), str(f), str(g))
                      for a, b, c, d, e, f, g in rows]
        return found

    def issues_carrying(self) -> list[int]:
        """Every issue with recorded stories."""
        return [int(row[0]) for row in self.query("SELECT DISTINCT issue FROM issue_items ORDER BY issue", ())]

    def set_cutoff(self, issue: int, cutoff: float) -> float:
        """Record where the issue's window ended unless recorded already; return the one recorded."""
        with self.transaction() as tx:
            tx.execute("INSERT INTO issue_windows (issue, cutoff) VALUES (?, ?) ON CONFLICT (issue) DO NOTHING",
                       (issue, cutoff))
            return float(tx.execute("SELECT cutoff FROM issue_windows WHERE issue = ?", (issue,)).fetchone()[0])

    def cutoffs(self) -> dict[int, float]:
        """Each issue's recorded cut-off (unix time)."""
        found: dict[int, float] = {}
        for issue, cutoff in self.query("SELECT issue, cutoff FROM issue_windows", ()):
            try:
                found[int(issue)] = float(cutoff)
            except (TypeError, ValueError):
                raise StateError(f"the store's cut-off of issue {issue} is not a time ({str(cutoff)[:40]!r}); "
                                 "delete that row of issue_windows to let the next build record it again") from None
        return found

    def mark_seen(self, keys: Iterable[str], *, now: float) -> dict[str, float]:
        """Record `now` as the first sighting of every key not seen before; return each key's first sighting."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        seen: dict[str, float] = {}
        with self.transaction() as tx:
            tx.executemany("INSERT INTO first_seen (key, seen_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                           [(key, now) for key in wanted])
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start:start + _IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                # Only "?" placeholders are formatted in; the values are bound parameters.
                rows = tx.execute(f"SELECT key, seen_at FROM first_seen WHERE key IN ({marks})",  # nosec B608
                                  chunk).fetchall()
                seen.update((str(k), float(v)) for k, v in rows)
        return seen
