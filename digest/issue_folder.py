"""An issue folder (`issues/<n>/`): what `build` writes whole and what `send`, `preview` and the archive read."""

from __future__ import annotations

import json
from pathlib import Path

from digest.errors import IssueError
from digest.files import replace_folder
from digest.model import Issue, Rendered

__all__ = ["ISSUE_FILES", "EDITOR_FILES", "write_issue_folder", "load_issue", "latest_issue"]

# Everything a complete issue folder holds; `send` refuses a folder missing any of them.
ISSUE_FILES = ("rendered.json", "issue.json", "issue.html", "issue.txt", "preview.eml")
# The editor's files: written once by `build` when absent, then carried over every rebuild.
EDITOR_FILES = ("plan.toml",)


def write_issue_folder(folder: Path, files: dict[str, bytes]) -> set[str]:
    """Write the issue's files into a temporary sibling and rename it into place.

    The editor's files (the plan) the folder already holds are kept as they
    are, whatever `files` says; returns the names so kept.
    """
    missing = [name for name in ISSUE_FILES if name not in files]
    if missing:
        raise ValueError(f"an issue folder needs {', '.join(missing)}")
    return replace_folder(folder, files, keep=EDITOR_FILES)


def load_issue(folder: Path) -> tuple[Issue, Rendered]:
    """Read a complete issue folder written by `build`; say what is missing otherwise."""
    if not folder.is_dir():
        raise IssueError("not a built issue (no such folder); run digest build", path=str(folder))
    missing = [name for name in ISSUE_FILES if not (folder / name).is_file()]
    if missing:
        raise IssueError(f"incomplete issue folder: {', '.join(missing)} missing; run digest build again",
                            path=str(folder))
    try:
        issue = Issue.from_json(json.loads((folder / "issue.json").read_text(encoding="utf-8")))
        rendered = Rendered.from_json(json.loads((folder / "rendered.json").read_text(encoding="utf-8")))
    except OSError as exc:
        raise IssueError(f"cannot read the issue: {exc.strerror or exc}", path=str(folder)) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise IssueError(f"damaged issue folder: {exc}", path=str(folder)) from None
    return issue, rendered


def latest_issue(issues: Path) -> Path:
    """The highest-numbered folder under issues/."""
    numbered = [p for p in issues.glob("*") if p.is_dir() and p.name.isdigit()]
    if not numbered:
        raise IssueError("no built issue in issues/; run digest build first")
    return max(numbered, key=lambda p: int(p.name))
