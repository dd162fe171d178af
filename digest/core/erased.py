"""Readers erased on request, known only by a keyed hash of their address.

The hash is an HMAC of the address's key with the workspace secret: the
store keeps it, so a later import or send of an old list skips the person,
yet nobody holding the database alone can test an address against it.
"""

from __future__ import annotations

from collections.abc import Iterable

from digest.core import signing

__all__ = ["erasure_hash", "ErasedReaders"]


def erasure_hash(secret: bytes, email: str) -> str:
    """The keyed hash an erased address leaves behind (its key: trimmed, lower-cased)."""
    return signing.keyed_hex(secret, b"digest-erased\x00" + email.strip().lower().encode("utf-8"))


class ErasedReaders:
    """`key in erased`: is this address one that was erased? (One HMAC per question.)"""

    def __init__(self, secret: bytes, hashes: Iterable[str]) -> None:
        self.secret = secret
        self.hashes = frozenset(hashes)

    def __contains__(self, email: object) -> bool:
        return bool(self.hashes) and isinstance(email, str) and erasure_hash(self.secret, email) in self.hashes

    def __bool__(self) -> bool:
        return bool(self.hashes)
