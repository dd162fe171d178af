"""What every item of `digest check` shares: the outcome words, an item, the options, what was found."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from digest.core.errors import DigestError
from digest.core.settings import Settings, Workspace

__all__ = ["OK", "FAIL", "WARN", "Item", "CheckOptions", "Found", "latest_message_size", "latest_issue_html"]

OK, FAIL, WARN = "ok", "fail", "warn"


@dataclass(frozen=True, slots=True)
class Item:
    """One line of the report: what was checked, its outcome, what was found and the fix."""

    name: str
    status: str  # OK | FAIL | WARN
    found: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """How to check: the DNS resolver to ask, the address SPF is evaluated for, time limits."""

    dns: tuple[str, int] | None = None  # None: the system's resolver
    sending_ip: str = ""  # "" = the address the relay answered from
    timeout: float = 10.0


@dataclass
class Found:
    """What earlier items learnt that later ones need."""

    settings: Settings | None = None
    relay_ip: str = ""
    relay_size: int | None = None
    items: list[Item] = field(default_factory=list)


def latest_issue_html(workspace: Workspace) -> tuple[Path, str] | None:
    from digest.app.issue_folder import latest_issue

    try:
        folder = latest_issue(workspace.issues)
        return folder, (folder / "issue.html").read_text(encoding="utf-8", errors="replace")
    except (DigestError, OSError):
        return None


def latest_message_size(workspace: Workspace) -> tuple[str, int] | None:
    """The latest built issue's number and the size in bytes of its message (preview.eml), if any."""
    from digest.app.issue_folder import latest_issue

    try:
        folder = latest_issue(workspace.issues)
        return folder.name, (folder / "preview.eml").stat().st_size
    except (DigestError, OSError):
        return None
