"""The layout of a newsletter workspace: where its pages, templates, issues, lists, outbox and state live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Workspace"]


@dataclass(frozen=True, slots=True)
class Workspace:
    """A newsletter folder: settings, pages, templates, subscribers, outbox and state."""

    root: Path

    @property
    def pages(self) -> Path:
        """Default sources for `digest build`."""
        return self.root / "pages"

    @property
    def templates(self) -> Path:
        """Templates here override the built-in ones file by file."""
        return self.root / "templates"

    @property
    def issues(self) -> Path:
        """Where `digest build` writes issues/<number>/."""
        return self.root / "issues"

    @property
    def outbox(self) -> Path:
        """The embedded mailbox (a Maildir) used when no [smtp] is configured."""
        return self.root / "outbox"

    @property
    def state_dir(self) -> Path:
        """Private state: the database and the generated secret; never committed."""
        return self.root / ".digest"

    @property
    def database(self) -> Path:
        """The embedded SQLite store: issue numbers, campaigns and journal, suppressions."""
        return self.state_dir / "state.sqlite3"

    @property
    def subscribers(self) -> Path:
        """Subscriber lists (CSV)."""
        return self.root / "subscribers"
