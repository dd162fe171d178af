"""The store role of one reader's own data: the manage page's view and choices, erasure.

Split from `digest.store.roles` by subject; `Store` (digest.store.protocol) is the union of all roles.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["ReaderStore"]


class ReaderStore(Protocol):
    """One reader's own view (the manage page) and their erasure (digest.store.erasure)."""

    def reader_lists(self, email: str) -> dict[str, bool]:
        """List name → True while it still reaches the reader, for every list the store knows them on or off."""
        ...

    def rejoin_list(self, email: str, *, list_name: str) -> bool:
        """Lift the reader's own unsubscribe from one list; True when that changed anything."""
        ...

    def reader_data(self, email: str) -> dict[str, Any]:
        """Everything stored about the address, as plain values."""
        ...

    def erase_reader(self, email: str, *, keyed_hash: str) -> dict[str, int]:
        """Remove the address from the store, keeping only its keyed hash; rows changed per table."""
        ...

    def erased_hashes(self) -> set[str]:
        """The keyed hashes of every erased reader."""
        ...

    def forget_erasure(self, keyed_hash: str) -> bool:
        """A new confirmed opt-in: the erased reader is no longer skipped."""
        ...
