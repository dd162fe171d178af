"""Checking, importing and exporting lists: the library behind `digest subscribers …`.

A check's result is cached in the store under the file's path, size, mtime
and SHA-256: checking an unchanged million-row list again costs one hash of
the file, not a million address validations.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from digest.core.errors import SubscriberError
from digest.core.files import write_atomically
from digest.store import ListCheck, Suppression
from digest.store.protocol import ListsStore
from digest.store.seen import SeenAddresses
from digest.store.signups import Member
from digest.subscribers.reader import RowProblem, list_encoding, read_list

__all__ = ["ListReport", "ERASED", "count_erased", "check_list", "list_stats", "import_list", "write_suppressions",
           "write_members", "file_sha256"]

MAX_CACHED_LINES = 100_000  # a list with more bad rows than this is checked afresh each time


@dataclass
class ListReport:
    """A list's check: counts, and each row left out as (line, address, reason)."""

    check: ListCheck
    lines: list[tuple[int, str, str]] = field(default_factory=list)
    cached: bool = False


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _exists(path: Path) -> Path:
    if not path.exists():
        raise SubscriberError("no such file", path=str(path))
    return path


ERASED = "erased on request (not imported, never sent)"


def count_erased(path: Path, erased: Container[str], *, encoding: str | None = None) -> int:
    """How many rows of a list are readers erased on request (0 at once when nobody was erased)."""
    if not erased:
        return 0
    return sum(1 for sub in read_list(_exists(path), on_problem=lambda _: None, encoding=encoding)
               if sub.key in erased)


def check_list(path: Path, *, store: ListsStore | None = None, check_dns: bool = False, encoding: str | None = None,
               warn: Callable[[str], None] = lambda _: None) -> ListReport:
    """Validate every row (cached in the store for an unchanged file); duplicates count as left out."""
    stat = _exists(path).stat()
    key = str(path.resolve())
    cacheable = store is not None and not check_dns and encoding is None
    if cacheable and store is not None:
        cached = store.list_check(key, size=stat.st_size, mtime_ns=stat.st_mtime_ns)
        if cached is not None and cached.sha256 == file_sha256(path):
            list_encoding(path, warn=warn)  # the same warning as a full check gives
            return ListReport(cached, list(store.list_check_lines(key)), cached=True)
    lines: list[tuple[int, str, str]] = []
    problems: list[RowProblem] = []
    rows = valid = duplicates = 0
    batch: list[tuple[str, int, str]] = []

    def flush() -> None:
        nonlocal valid, duplicates, cacheable
        for (_, line, email), first in zip(batch, seen.add_many([(k, ln) for k, ln, _ in batch]), strict=True):
            if first is None:
                valid += 1
                continue
            duplicates += 1
            if cacheable:
                lines.append((line, email, f"duplicate of line {first} ({email})"))
                if len(lines) > MAX_CACHED_LINES:
                    cacheable = False
                    lines.clear()  # only the counts are reported for such a list
        batch.clear()

    with SeenAddresses() as seen:
        for sub in read_list(path, on_problem=problems.append, warn=warn, check_dns=check_dns, encoding=encoding):
            rows += 1
            batch.append((sub.key, sub.line, sub.email))
            if len(batch) >= 2000:
                flush()
        flush()
    lines.extend((p.line, p.email, p.reason) for p in problems[:MAX_CACHED_LINES])
    lines.sort()
    check = ListCheck(key, stat.st_size, stat.st_mtime_ns, file_sha256(path) if cacheable else "",
                      rows + len(problems), valid, duplicates, len(problems))
    if cacheable and store is not None and len(problems) <= MAX_CACHED_LINES:
        store.save_list_check(check, lines)
    return ListReport(check, lines)


def list_stats(path: Path, store: ListsStore, *, warn: Callable[[str], None] = lambda _: None
               ) -> tuple[Counter[str], Counter[str]]:
    """(counts by status: active, suppressed, duplicate, invalid; active subscribers by tag).

    Suppressed means for this list (named by the file's stem, as a send names it).
    """
    status: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    batch: list[tuple[str, tuple[str, ...]]] = []

    def flush() -> None:
        blocked = store.suppressed_among([k for k, _ in batch], list_name=path.stem)
        for key, sub_tags in batch:
            if key in blocked:
                status["suppressed"] += 1
            else:
                status["active"] += 1
                tags.update(sub_tags)
        batch.clear()

    with SeenAddresses() as seen:
        for sub in read_list(_exists(path), on_problem=lambda _: status.update(["invalid"]), warn=warn):
            if seen.add(sub.key, sub.line) is not None:
                status["duplicate"] += 1
                continue
            batch.append((sub.key, sub.tags))
            if len(batch) >= 500:
                flush()
        flush()
    return status, tags


def import_list(source: Path, target: Path, *, check_dns: bool = False, encoding: str | None = None,
                warn: Callable[[str], None] = lambda _: None, erased: Container[str] = frozenset(),
                ) -> tuple[int, list[RowProblem]]:
    """Write a clean list (ours: email,name,tags,…) from any supported one; (kept, left out).

    Readers `erased` on request are left out as ERASED (a problem without the address).
    """
    left_out: list[RowProblem] = []
    keys: list[str] = []
    rows: list[dict[str, str]] = []
    with SeenAddresses() as seen:
        for sub in read_list(_exists(source), on_problem=left_out.append, warn=warn, check_dns=check_dns,
                             encoding=encoding):
            if sub.key in erased:
                left_out.append(RowProblem(str(source), sub.line, ERASED))
                continue
            first = seen.add(sub.key, sub.line)
            if first is not None:
                left_out.append(RowProblem(str(source), sub.line, f"duplicate of line {first}", sub.email))
                continue
            row = {"email": sub.email, "name": sub.name, "tags": ";".join(sub.tags)}
            row.update({k: v for k, v in sub.attrs.items() if k not in ("email", "name", "tags")})
            keys.extend(k for k in row if k not in keys)
            rows.append(row)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys or ["email", "name", "tags"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    # Addresses are personal data, like the database: 0600 whatever the umask (nothing serves a list).
    write_atomically(target, buffer.getvalue(), private=True)
    return len(rows), left_out


def write_suppressions(out: TextIO, suppressions: Iterator[Suppression], *, as_json: bool = False) -> int:
    """Write the suppression list as CSV (email, reason, issue, created_at, list) or JSON lines; return the count.

    `list` is empty for a suppression of every list, else the one list the reader left.
    """
    count = 0
    writer = csv.writer(out, lineterminator="\n")
    if not as_json:
        writer.writerow(["email", "reason", "issue", "created_at", "list"])
    for s in suppressions:
        if as_json:
            out.write(json.dumps({"email": s.email, "reason": s.reason, "issue": s.issue,
                                  "created_at": s.created_at, "list": s.list}) + "\n")
        else:
            writer.writerow([_cell(s.email), _cell(s.reason), s.issue or "", s.created_at, _cell(s.list)])
        count += 1
    return count


# C0 (but tab and newline, which CSV quotes) and C1 controls, line separators, bidi overrides and isolates.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _cell(value: object) -> str:
    """A text cell as exported: safe on a terminal and in a spreadsheet.

    Every cell of an export may come from outside (a signup's name, address and Referer, a
    bounce's address): control characters are shown as escapes (`\\x1b`), never sent to the
    terminal, and a cell a spreadsheet would read as a formula (= + - @, a tab or CR first)
    gets a leading ' so it stays text (OWASP's advice for CSV injection).
    """
    text = _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                            else f"\\u{ord(m.group()):04x}", str(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_members(out: TextIO, store: ListsStore, list_name: str, *, consent: bool = False) -> int:
    """Write a list's confirmed signups as CSV (email,name[,consent columns]), suppressed ones left out."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "name"] + (["consented_at", "confirmed_at", "source", "client"] if consent else []))
    count = 0
    batch: list[Member] = []

    def flush() -> None:
        nonlocal count
        blocked = store.suppressed_among([m.email.strip().lower() for m in batch], list_name=list_name)
        for m in batch:
            if m.email.strip().lower() in blocked:
                continue
            row = [_cell(m.email), _cell(m.name)]
            if consent:
                row += [m.consented_at, m.confirmed_at, _cell(m.source), _cell(m.client)]
            writer.writerow(row)
            count += 1
        batch.clear()

    for member in store.members(list_name):
        batch.append(member)
        if len(batch) >= 500:
            flush()
    flush()
    return count
