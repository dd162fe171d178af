"""Stream subscriber rows from CSV lists (ours, Mailchimp exports, listmonk imports), checking each."""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from digest.core.encoding import guess_encoding
from digest.core.errors import SubscriberError, describe_os_error
from digest.core.model import Subscriber
from digest.subscribers.address import MAX_EMAIL, check_address
from digest.subscribers.lines import Lines, RecordTooLong, Unterminated, looks_binary

__all__ = ["RowProblem", "ListFormat", "read_list", "list_encoding", "detect_format", "check_address"]

MAX_NAME = 200
MAX_KEY = 64
MAX_VALUE = 1000
MAX_ATTRS = 50
SAMPLE_BYTES = 64 * 1024

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_TAG_SPLIT = re.compile(r"[;,]")
csv.field_size_limit(1024 * 1024)


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row left out, with where it is and why."""

    path: str
    line: int
    reason: str
    email: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ListFormat:
    """Which columns mean what in a list file."""

    kind: str  # "digest" | "mailchimp" | "listmonk"
    email: str
    name: tuple[str, ...]
    tags: str | None
    attributes_json: str | None
    attribute_columns: tuple[str, ...]


def _norm(column: str) -> str:
    return " ".join(column.strip().lower().replace("_", " ").split())


def detect_format(header: list[str], *, path: str) -> ListFormat:
    """Tell our own lists, Mailchimp exports and listmonk imports apart by their header."""
    by_norm = {_norm(c): c for c in header}
    if "email address" in by_norm:
        names = tuple(by_norm[c] for c in ("first name", "last name") if c in by_norm)
        used = {by_norm["email address"], *names, by_norm.get("tags", "")}
        return ListFormat("mailchimp", by_norm["email address"], names, by_norm.get("tags"), None,
                          tuple(c for c in header if c not in used and c))
    if "email" not in by_norm:
        raise SubscriberError("no email column in the header (expected email or Email Address)", path=path, line=1)
    name = (by_norm["name"],) if "name" in by_norm else ()
    if "attributes" in by_norm:
        used = {by_norm["email"], *name, by_norm["attributes"]}
        return ListFormat("listmonk", by_norm["email"], name, by_norm.get("tags"), by_norm["attributes"],
                          tuple(c for c in header if c not in used and c and _norm(c) != "tags"))
    used = {by_norm["email"], *name, by_norm.get("tags", "")}
    return ListFormat("digest", by_norm["email"], name, by_norm.get("tags"), None,
                      tuple(c for c in header if c not in used and c))


def _detect_encoding(sample: bytes, *, path: str, forced: str | None, warn: Callable[[str], None]) -> str:
    if forced:
        try:
            codecs.lookup(forced)
        except LookupError:
            raise SubscriberError(f"unknown encoding {forced!r}", path=path) from None
        return forced
    if looks_binary(sample):
        raise SubscriberError("binary file, not a CSV list", path=path)
    try:
        # A sample may end inside a UTF-8 sequence: an incremental decoder allows that.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    guessed = guess_encoding(sample)
    if guessed is None:
        raise SubscriberError("cannot tell the text encoding; use --encoding", path=path)
    warn(f"{path}: not UTF-8, read as {guessed}")
    return guessed


def _sniff_delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _fields(row: dict[str, str], fmt: ListFormat, *, control: bool) -> tuple[str, str, tuple[str, ...], dict[str, str]]:
    def get(column: str) -> str:
        return row.get(column) or ""

    if control:  # the caller searched the whole row at once; this only names the cell
        for column, value in row.items():
            if _CONTROL.search(value):
                raise ValueError(f"control character (CR, LF, …) in {column}")
    email = get(fmt.email).strip()
    if len(fmt.name) == 1:
        name = get(fmt.name[0]).strip()
        if "  " in name or "\t" in name:
            name = " ".join(name.split())
    else:
        name = " ".join(" ".join(get(c).strip() for c in fmt.name).split())
    if len(name) > MAX_NAME:
        raise ValueError(f"name longer than {MAX_NAME} characters")
    tags: tuple[str, ...] = ()
    if fmt.tags and (raw_tags := get(fmt.tags)):
        tags = tuple(t.strip().strip('"').strip() for t in _TAG_SPLIT.split(raw_tags) if t.strip().strip('"'))
    attrs: dict[str, str] = {}
    if fmt.attributes_json and get(fmt.attributes_json).strip():
        try:
            parsed = json.loads(get(fmt.attributes_json))
        except json.JSONDecodeError as exc:
            raise ValueError(f"attributes is not valid JSON ({exc.msg})") from None
        if not isinstance(parsed, dict):
            raise ValueError("attributes must be a JSON object")
        for key, value in parsed.items():
            attrs[str(key)] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    for column in fmt.attribute_columns:
        value = get(column).strip()
        if value:
            attrs[_norm(column).replace(" ", "_")] = value
    if len(attrs) > MAX_ATTRS:
        raise ValueError(f"more than {MAX_ATTRS} attributes")
    for key, value in attrs.items() if attrs else ():
        if len(key) > MAX_KEY or len(value) > MAX_VALUE:
            raise ValueError(f"attribute {key[:MAX_KEY]!r} too long")
        if _CONTROL.search(key) or _CONTROL.search(value):
            raise ValueError(f"control character (CR, LF, …) in attribute {key[:MAX_KEY]!r}")
    return email, name, tags, attrs


def _open(path: Path) -> IO[bytes]:
    try:
        if path.is_dir():
            raise SubscriberError("is a folder, not a list file", path=str(path))
        return path.open("rb")
    except OSError as exc:
        raise SubscriberError(describe_os_error(exc), path=str(path)) from None


def list_encoding(path: Path, *, forced: str | None = None, warn: Callable[[str], None] = lambda _: None) -> str:
    """The text encoding `read_list` would use for this file (warning when it is a guess)."""
    with _open(path) as raw:
        sample = raw.read(SAMPLE_BYTES)
    if not sample.strip():
        raise SubscriberError("empty file, no header", path=str(path))
    return _detect_encoding(sample, path=str(path), forced=forced, warn=warn)


def read_list(
    path: Path,
    *,
    on_problem: Callable[[RowProblem], None],
    warn: Callable[[str], None] = lambda _: None,
    check_dns: bool = False,
    encoding: str | None = None,
) -> Iterator[Subscriber]:
    """Yield every valid row, one at a time; report each bad row through `on_problem`.

    A row over the size limits (a line over 64 KB, a quoted field of more than
    50 lines or 512 KB), a NUL or a stray CR is that row's problem. What makes
    the rest unreadable (a quote never closed, text not in the file's encoding)
    stops the list with a SubscriberError naming its line: everything after it
    would be guesswork.
    """
    name = str(path)
    raw = _open(path)
    with raw:
        sample = raw.read(SAMPLE_BYTES)
        if not sample.strip():
            raise SubscriberError("empty file, no header", path=name)
        chosen = _detect_encoding(sample, path=name, forced=encoding, warn=warn)
        raw.seek(0)
        lines = Lines(raw, chosen, path=name, cr_only=b"\r" in sample and b"\n" not in sample)
        head = sample.decode(chosen, errors="replace")[: SAMPLE_BYTES // 4]
        delimiter = _sniff_delimiter(head.lstrip("\ufeff"))
        reader = csv.reader(lines, delimiter=delimiter, strict=False)
        start = 1
        try:
            header = next(reader, None)
            if not header:
                raise SubscriberError("empty file, no header", path=name)
            header = [h.strip().lstrip("\ufeff") for h in header]
            fmt = detect_format(header, path=name)
            while True:
                start = lines.line + 1
                lines.begin_record()
                try:
                    values = next(reader, None)
                except RecordTooLong as exc:
                    on_problem(RowProblem(name, start, exc.reason))
                    # The reader stopped inside the record: a fresh one starts at the next line.
                    reader = csv.reader(lines, delimiter=delimiter, strict=False)
                    continue
                if values is None:
                    return
                joined = "".join(values)
                if not joined.strip():
                    continue
                if len(values) > len(header):
                    on_problem(RowProblem(name, start, f"{len(values)} fields, header has {len(header)}"))
                    continue
                row = dict(zip(header, values, strict=False))
                try:
                    email, person, tags, attrs = _fields(row, fmt, control=_CONTROL.search(joined) is not None)
                    address = check_address(email, check_dns=check_dns)
                except ValueError as exc:
                    on_problem(RowProblem(name, start, str(exc), (row.get(fmt.email) or "")[:MAX_EMAIL]))
                    continue
                yield Subscriber(address, person, tags, attrs, origin=name, line=start)
        except Unterminated:
            raise SubscriberError("a quote opened on this line is never closed; fix it (every row after it "
                                  "would be misread)", path=name, line=start) from None
        except RecordTooLong as exc:  # the header itself
            raise SubscriberError(exc.reason, path=name, line=1) from None
        except csv.Error as exc:
            raise SubscriberError(f"broken CSV: {exc}", path=name, line=start) from None
