"""Store queries for the fetch cache: per URL, the validators and which cached body answers it.

The bodies themselves are files (content-addressed, under the workspace's
cache folder); the store keeps what HTTP needs to ask again conditionally
(ETag, Last-Modified, RFC 9110 §13.1) and what an offline build needs to
find the body again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from digest.store.base import SQLBase

__all__ = ["FetchRecord", "FetchCacheQueries"]

_COLUMNS = "url, final_url, etag, last_modified, content_type, body_sha256, size, fetched_at, checked_at"
_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class FetchRecord:
    """The last good answer for one URL."""

    url: str
    final_url: str
    etag: str
    last_modified: str
    content_type: str
    body_sha256: str
    size: int
    fetched_at: str  # when the body was last downloaded
    checked_at: str  # when the server was last asked (a 304 moves only this)


def _record(row: tuple) -> FetchRecord:
    url, final_url, etag, last_modified, content_type, digest, size, fetched_at, checked_at = row
    return FetchRecord(str(url), str(final_url), str(etag), str(last_modified), str(content_type), str(digest),
                       int(size), str(fetched_at), str(checked_at))


class FetchCacheQueries(SQLBase):
    """Validators and body keys of fetched URLs; the last writer wins (both answers are good ones)."""

    def fetch_records(self, urls: Iterable[str]) -> dict[str, FetchRecord]:
        """The cached records of these URLs (absent ones left out)."""
        urls = list(dict.fromkeys(urls))
        found: dict[str, FetchRecord] = {}
        for start in range(0, len(urls), _IN_CHUNK):
            chunk = urls[start:start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            # Only "?" placeholders are formatted in; the values are bound parameters.
            for row in self.query(f"SELECT {_COLUMNS} FROM fetch_cache WHERE url IN ({marks})",  # nosec B608
                                  chunk):
                record = _record(row)
                found[record.url] = record
        return found

    def save_fetches(self, records: Sequence[FetchRecord]) -> None:
        """Insert or replace these records in one transaction."""
        if not records:
            return
        with self.transaction() as tx:
            # Only the fixed column list is formatted in; the values are bound parameters.
            tx.executemany(
                f"INSERT INTO fetch_cache ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "  # nosec B608
                "ON CONFLICT (url) DO UPDATE SET final_url = excluded.final_url, etag = excluded.etag, "
                "last_modified = excluded.last_modified, content_type = excluded.content_type, "
                "body_sha256 = excluded.body_sha256, size = excluded.size, fetched_at = excluded.fetched_at, "
                "checked_at = excluded.checked_at",
                [(r.url, r.final_url, r.etag, r.last_modified, r.content_type, r.body_sha256, r.size, r.fetched_at,
                  r.checked_at) for r in records])

    def fetch_bodies(self) -> set[str]:
        """The SHA-256 of every cached body a record still points to (what pruning the cache keeps)."""
        return {str(row[0]) for row in self.query("SELECT DISTINCT body_sha256 FROM fetch_cache", ())}

    def forget_fetch(self, url: str) -> bool:
        """Drop a URL's record (its body is then fetched whole next time); False when there was none."""
        with self.transaction() as tx:
            return int(tx.execute("DELETE FROM fetch_cache WHERE url = ?", (url,)).rowcount) == 1
