"""What every command and web app works with, loaded once: the workspace, its settings, secret and store."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from digest.config import Settings, Workspace, load_settings
from digest.model import Rendered
from digest.store import Store, open_store

if TYPE_CHECKING:
    from digest.compose import MessageSkeleton

__all__ = ["Context", "DATABASE_URL_ENV"]

DATABASE_URL_ENV = "DIGEST_DATABASE_URL"


class Context:
    """A workspace with its settings read once, its secret and its store opened on first use.

    Hand one down instead of re-reading `digest.toml` per call; close it when done.
    """

    def __init__(self, workspace: Workspace | Path, *, settings: Settings | None = None,
                 store: Store | None = None) -> None:
        self.workspace = workspace if isinstance(workspace, Workspace) else Workspace(Path(workspace))
        if settings is not None:
            self.__dict__["settings"] = settings
        if store is not None:
            self.__dict__["store"] = store

    @property
    def root(self) -> Path:
        """The workspace folder."""
        return self.workspace.root

    @cached_property
    def settings(self) -> Settings:
        """`digest.toml`, read and checked once."""
        return load_settings(self.workspace.root)

    @cached_property
    def secret(self) -> bytes:
        """The key of every signed token (DIGEST_SECRET, or made once in .digest/secret)."""
        from digest.secret import load_secret

        return load_secret(self.workspace.state_dir)

    @property
    def database_location(self) -> str:
        """DIGEST_DATABASE_URL, else [state] url, else the workspace's SQLite file."""
        return os.environ.get(DATABASE_URL_ENV) or self.settings.state.url or str(self.workspace.database)

    @cached_property
    def store(self) -> Store:
        """The store, opened (and migrated) on first use."""
        return open_store(self.database_location)

    def has_store(self) -> bool:
        """True when the store is already open (or, for SQLite, its file exists)."""
        if "store" in self.__dict__:
            return True
        location = self.database_location
        return "://" in location or Path(location).exists()

    def skeleton(self, rendered: Rendered, *, list_name: str,
                 clock: Callable[[], float] | None = None) -> MessageSkeleton:
        """The message skeleton for an issue, signed with DKIM when [dkim] is configured."""
        from digest.compose import MessageSkeleton
        from digest.compose.dkim import DKIMSigner

        settings = self.settings
        signer = DKIMSigner(settings.dkim, root=self.workspace.root) if settings.dkim else None
        skeleton = MessageSkeleton(rendered, settings.newsletter, secret=self.secret, list_name=list_name,
                                   signer=signer, return_path=settings.bounces.return_path(settings.newsletter))
        if clock is not None:
            skeleton.clock = clock
        return skeleton

    def close(self) -> None:
        """Close the store if it was opened."""
        store = self.__dict__.pop("store", None)
        if store is not None:
            store.close()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
