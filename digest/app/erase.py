"""Erase a reader on request: the store, the list files and the bounce mailbox; and their data download.

What stays is a keyed hash of the address (digest.core.erased) so an old list
never mails them again. The log line names no address, only what was removed.
"""

from __future__ import annotations

import codecs
import csv
import logging
import os
import re
import stat
from collections.abc import Iterator
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from digest.app.context import Context
from digest.core.erased import ErasedReaders, erasure_hash
from digest.core.errors import StateError, SubscriberError
from digest.core.files import folder_lock, write_atomically
from digest.subscribers.reader import detect_format, list_encoding

__all__ = ["Erasure", "erase_reader", "reader_data", "reader_lists", "erased_readers", "list_rows_of",
           "mask_address"]

_log = logging.getLogger("digest.erase")


@dataclass
class Erasure:
    """What an erasure removed: store rows per table, list rows per file, mailbox messages."""

    store: dict[str, int] = field(default_factory=dict)
    list_rows: dict[str, int] = field(default_factory=dict)
    messages: int = 0

    def summary(self) -> str:
        """One line naming counts only (never the address)."""
        rows = sum(v for k, v in self.store.items() if k != "deliveries")
        return (f"{rows} stored row(s) deleted, {self.store.get('deliveries', 0)} journal row(s) made anonymous, "
                f"{sum(self.list_rows.values())} list row(s) removed, {self.messages} bounce message(s) deleted")


def mask_address(email: str) -> str:
    """`a***@e***.com`: enough for the reader to recognise, not enough to read off a shoulder."""
    local, _, domain = email.partition("@")
    name, dot, tld = domain.rpartition(".")
    shown_domain = f"{name[:1]}***{dot}{tld}" if dot else f"{domain[:1]}***"
    return f"{local[:1]}***@{shown_domain}"


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def _address_pattern(key: str) -> re.Pattern[bytes]:
    """The address as a whole word: not inside joann@… or …@example.com.au or …@example.community."""
    return re.compile(rb"(?<![\w.+-])" + re.escape(key.encode("utf-8")) + rb"(?![\w-]|\.\w)", re.IGNORECASE)


def _records(text: str, delimiter: str) -> Iterator[tuple[list[str], str]]:
    """Each CSV record with the exact text it was read from (a quoted field may span lines)."""
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        # Lines end at CR/LF only, as csv reads them (str.splitlines would also split at U+2028, U+0085 …).
        for line in _LINE.findall(text):
            consumed.append(line)
            yield line

    for row in csv.reader(lines(), delimiter=delimiter):
        raw = "".join(consumed)
        consumed.clear()
        yield row, raw


def _list_files(ctx: Context) -> list[Path]:
    folder = ctx.workspace.subscribers
    return sorted(p for p in folder.glob("*.csv") if p.is_file()) if folder.is_dir() else []


def _without(path: Path, key: str) -> tuple[bytes, int] | None:
    """The file's bytes without the rows of `key` and how many went; None when it has none (or no header)."""
    try:
        encoding = list_encoding(path)
        data = path.read_bytes()
        if encoding.lower().replace("_", "-") == "utf-8-sig" and not data.startswith(codecs.BOM_UTF8):
            encoding = "utf-8"  # written back as it was: no byte mark added
        text = data.decode(encoding)
    except (SubscriberError, OSError, UnicodeDecodeError, LookupError):
        return None
    if key not in text.lower():
        return None  # the cheap answer for almost every file
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count) if any(d in first for d in ",;\t") else ","
    kept: list[str] = []
    removed = 0
    column = -1
    for row, raw in _records(text, delimiter):
        if column < 0:
            try:
                fmt = detect_format(row, path=str(path))
            except SubscriberError:
                return None
            column = row.index(fmt.email)
        elif len(row) > column and row[column].strip().lower() == key:
            removed += 1
            continue
        kept.append(raw)
    return ("".join(kept).encode(encoding), removed) if removed else None


def list_rows_of(ctx: Context, email: str) -> dict[str, int]:
    """List name → how many rows of subscribers/NAME.csv are this address."""
    key = email.strip().lower()
    found = {}
    for path in _list_files(ctx):
        result = _without(path, key)
        if result:
            found[path.stem] = result[1]
    return found


def _mailbox_messages(ctx: Context, key: str) -> Iterator[Path]:
    """Messages of the bounce mailbox (bounces/, every Maildir folder in it) that mention the address."""
    root = ctx.workspace.root / "bounces"
    if not root.is_dir():
        return
    needle = _address_pattern(key)
    for path in root.rglob("*"):
        if not path.is_file() or path.parent.name not in ("new", "cur", "tmp"):
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if needle.search(data) or _mentions(data, needle):
            yield path


def _mentions(data: bytes, needle: re.Pattern[bytes]) -> bool:
    """The address in a decoded part (base64 or quoted-printable reports, attached original messages)."""
    try:
        message = message_from_bytes(data, policy=default_policy)
        for part in message.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and needle.search(payload):
                return True
    except (ValueError, LookupError, TypeError):
        return False
    return False


def _rewrite(path: Path, data: bytes) -> None:
    """Replace a list file by a rename (the old bytes are not left beside it), keeping its mode and owner."""
    before = path.stat()
    write_atomically(path, data)
    os.chmod(path, stat.S_IMODE(before.st_mode))
    with suppress(PermissionError):  # only root may give a file away; anyone else wrote it as its owner
        os.chown(path, before.st_uid, before.st_gid)


def erase_reader(ctx: Context, email: str) -> Erasure:
    """Remove the address from the store, every list file and the bounce mailbox; keep its keyed hash."""
    key = email.strip().lower()
    done = Erasure()
    done.store = ctx.store.erase_reader(key, keyed_hash=erasure_hash(ctx.secret, key))
    folder = ctx.workspace.subscribers
    with folder_lock(folder) if folder.is_dir() else nullcontext():  # two erasures at once: one after the other
        for path in _list_files(ctx):
            result = _without(path, key)
            if result is None:
                continue
            data, removed = result
            _rewrite(path.resolve(), data)  # through a symlink: the list it points at
            done.list_rows[path.stem] = removed
    for message in list(_mailbox_messages(ctx, key)):
        try:
            message.unlink()
        except OSError as exc:
            raise StateError(f"cannot delete a bounce message: {exc.strerror or exc}", path=str(message)) from None
        done.messages += 1
    _log.info("erased one reader on request: %s", done.summary())
    return done


def reader_lists(ctx: Context, email: str) -> dict[str, bool]:
    """Every list of the workspace the reader is on or has left: name → True while it reaches them."""
    lists = dict(ctx.store.reader_lists(email))
    for name in list_rows_of(ctx, email):
        lists.setdefault(name, not ctx.store.is_suppressed(email, list_name=name))
    return dict(sorted(lists.items()))


def reader_data(ctx: Context, email: str) -> dict[str, Any]:
    """Everything the workspace keeps about an address (the manage page's download)."""
    data: dict[str, Any] = {"email": email.strip().lower(), "lists": reader_lists(ctx, email)}
    data["list_files"] = list_rows_of(ctx, email)
    data.update(ctx.store.reader_data(email))
    return data


def erased_readers(ctx: Context) -> ErasedReaders:
    """The erased readers, to skip in a list that still has them."""
    return ErasedReaders(ctx.secret, ctx.store.erased_hashes())
