"""What every command and web app works with, loaded once: the workspace, its settings, secret and store."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from digest.core.model import Rendered
from digest.core.settings import Settings, load_settings
from digest.core.workspace import Workspace
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
        from digest.core.secret import load_secret

        return load_secret(self.workspace.state_dir)

    @property
    def database_location(self) -> str:
        """DIGEST_DATABASE_URL, else [state] url, else the workspace's SQLite file."""
        from digest.core.errors import ConfigError
        from digest.core.settingscheck import DATABASE_URL_SCHEMES

        env = os.environ.get(DATABASE_URL_ENV)
        if env is not None and env.strip():
            if not env.strip().startswith(DATABASE_URL_SCHEMES):
                # Never a path: a mistyped URL must not quietly become a new, empty SQLite ledger
                # (and its text, password included, a file name). Its value is never printed.
                raise ConfigError(f"{DATABASE_URL_ENV} must be a postgresql:// URL (unset it for the workspace's "
                                  "SQLite file)")
            return env.strip()
        return self.settings.state.url or str(self.workspace.database)

    @cached_property
    def store(self) -> Store:
        """The store, opened (and migrated) on first use."""
        return open_store(self.database_location)

    def check_secret(self) -> None:
        """Refuse to go on when this process's token key is not the one the store has seen before.

        Several hosts sharing one store must sign unsubscribe links and Message-IDs with the same
        key; a host without `.digest/secret` (or DIGEST_SECRET) would otherwise make its own and
        send links the others reject. The store keeps a fingerprint of the first key it saw.
        """
        from digest.core.errors import StateError
        from digest.core.signing import keyed_hex

        mine = keyed_hex(self.secret, b"digest: which key signs this workspace's tokens")
        if self.store.agree_on("secret-fingerprint", mine[:32]) != mine[:32]:
            raise StateError("this process's token key (DIGEST_SECRET or .digest/secret) is not the one the store "
                             "has been used with: copy .digest/secret from the first host (or set the same "
                             "DIGEST_SECRET everywhere); unsubscribe links signed here would be refused there")

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
                                   signer=signer, return_path=settings.bounces.return_path(settings.newsletter),
                                   esp=settings.esp.provider if settings.esp else "")
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
