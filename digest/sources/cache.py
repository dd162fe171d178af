"""Fetched bodies on disk, content-addressed: `<workspace>/.digest/cache/<aa>/<sha256>`.

A body is named by its SHA-256, so two processes fetching the same answer write
the same file (atomically, through a rename), a torn or tampered file is noticed
on read (the name no longer matches), and every body an issue was built from
stays until someone deletes the folder: `--offline` rebuilds from exactly that.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from digest.files import write_atomically

__all__ = ["BodyCache"]


class BodyCache:
    """Bodies keyed by their SHA-256 under one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_of(self, digest: str) -> Path:
        """Where the body with this hash lives."""
        return self.folder / digest[:2] / digest

    def put(self, body: bytes) -> str:
        """Store a body (if new); return its hash."""
        digest = hashlib.sha256(body).hexdigest()
        path = self.path_of(digest)
        if not path.exists():
            write_atomically(path, body, private=True)
        return digest

    def get(self, digest: str) -> bytes | None:
        """The body with this hash, or None when missing or damaged."""
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            return None
        try:
            body = self.path_of(digest).read_bytes()
        except OSError:
            return None
        return body if hashlib.sha256(body).hexdigest() == digest else None

    def has(self, digest: str) -> bool:
        """True when the body is there (not checked against its hash: `get` does that)."""
        return len(digest) == 64 and self.path_of(digest).is_file()
