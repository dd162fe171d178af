"""Fetched bodies on disk, content-addressed: `<workspace>/.digest/cache/<aa>/<sha256>`.

A body is named by its SHA-256, so two processes fetching the same answer write
the same file (atomically, through a rename), a torn or tampered file is noticed
on read (the name no longer matches), and every body an issue was built from
stays until `digest fetch --prune` deletes the bodies no record points to any
more (the answers superseded by newer ones): `--offline` rebuilds from the
bodies the records point to, which pruning keeps.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from pathlib import Path

from digest.core.files import write_atomically

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
        if not self.intact(digest):  # a damaged copy under this name is replaced, not kept
            write_atomically(self.path_of(digest), body, private=True)
        else:
            with contextlib.suppress(OSError):
                os.utime(self.path_of(digest))  # in use again: `prune` spares it until the run records it
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

    def prune(self, keep: set[str], *, older_than: float) -> tuple[int, int]:
        """Delete the bodies not in `keep` last written more than `older_than` seconds ago; (files, bytes).

        The age spares what a fetch running now has written but not yet recorded (a run
        saves its records when it ends). Left-over temporary files go the same way.
        """
        removed = freed = 0
        cutoff = time.time() - older_than
        for path in sorted(self.folder.glob("*/*")):
            try:
                info = path.stat()
                if path.name in keep or not path.is_file() or info.st_mtime > cutoff:
                    continue
                path.unlink()
            except OSError:
                continue  # gone already (another prune), or not ours to remove
            removed += 1
            freed += info.st_size
        for folder in self.folder.glob("*/"):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
        return removed, freed

    def intact(self, digest: str) -> bool:
        """True when the body is there, readable, and still matches its hash."""
        return self.get(digest) is not None
