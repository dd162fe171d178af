"""An issue folder (`issues/<n>/`): what `build` writes and what `send`, `preview` and the archive read.

The folder is updated in place, file by file, never replaced: other files in
it (notes, backups, an editor's swap file, a symlinked plan) stay, and a shell
inside it stays where it is. Each output is written whole (a temporary, then a
rename), and `.built` records the SHA-256 of each output of the build that
wrote them, renamed into place *before* the outputs: a build stopped half-way
(kill -9, a power cut) leaves a folder whose files do not match its `.built`,
which `load_issue` refuses as incomplete, as it refuses one with a file
missing. Builds take turns (a lock on issues/), readers wait for a build
under way to finish, so they never read outputs of two builds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from digest.core.errors import IssueError
from digest.core.files import folder_lock, update_folder
from digest.core.model import Issue, Rendered

__all__ = ["ISSUE_FILES", "EDITOR_FILES", "BUILT", "write_issue_folder", "load_issue", "latest_issue",
           "plan_edited_since_build"]

# Everything a complete issue folder holds; `send` refuses a folder missing any of them.
ISSUE_FILES = ("rendered.json", "issue.json", "issue.html", "issue.txt", "preview.eml")
# The editor's files: written once by `build` when absent, never replaced.
EDITOR_FILES = ("plan.toml",)
BUILT = ".built"
PLAN = "plan.toml"


def write_issue_folder(folder: Path, files: dict[str, bytes]) -> set[str]:
    """Write the issue's outputs into the folder (see the module's docstring), the editor's files only if absent.

    Returns the names of the editor's files that were already there (kept as they are).
    """
    missing = [name for name in ISSUE_FILES if name not in files]
    if missing:
        raise ValueError(f"an issue folder needs {', '.join(missing)}")
    digests = {name: hashlib.sha256(files[name]).hexdigest() for name in ISSUE_FILES}
    record: dict[str, object] = {"files": digests}
    plan = _plan_bytes(folder)
    if plan is None:
        plan = files.get(PLAN)
    if plan is not None:
        record["plan"] = hashlib.sha256(plan).hexdigest()  # the plan this build rendered (see plan_edited_since_build)
    manifest = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("ascii")
    ordered = {BUILT: manifest, **{name: data for name, data in files.items() if name != BUILT}}
    return update_folder(folder, ordered, create_only=EDITOR_FILES)


def _plan_bytes(folder: Path) -> bytes | None:
    try:
        return (folder / PLAN).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None


def plan_edited_since_build(folder: Path) -> bool:
    """True when the folder's plan.toml is not the plan its last build rendered (edited, not built again)."""
    try:
        recorded = json.loads((folder / BUILT).read_text(encoding="ascii")).get("plan")
        plan = _plan_bytes(folder)
    except (OSError, ValueError, AttributeError):
        return False  # load_issue says what is wrong with the folder
    return isinstance(recorded, str) and plan is not None and hashlib.sha256(plan).hexdigest() != recorded


def _check_built(folder: Path) -> None:
    """Refuse outputs that are not all of the build `.built` names (an interrupted build, an edited output)."""
    try:
        recorded = json.loads((folder / BUILT).read_text(encoding="ascii"))["files"]
    except FileNotFoundError:
        if (folder / PLAN).exists():
            # Folders with a plan were built by a version that writes .built: without it, nothing
            # vouches for the outputs (deleted to get past this check?).
            raise IssueError(f"incomplete issue folder: {BUILT} missing, so nothing says the outputs are the "
                             "last build's; run digest build again", path=str(folder)) from None
        return  # built by an earlier version, whole by the folder swap it used
    except (OSError, ValueError, KeyError, TypeError):
        raise IssueError(f"damaged issue folder: {BUILT} unreadable; run digest build again",
                         path=str(folder)) from None
    changed = [name for name in ISSUE_FILES
               if hashlib.sha256((folder / name).read_bytes()).hexdigest() != recorded.get(name)]
    if changed:
        raise IssueError(f"incomplete issue folder: {', '.join(changed)} not as the last build wrote them (a build "
                         "interrupted, or edited by hand: the issue is made from plan.toml); run digest build again",
                         path=str(folder))


def load_issue(folder: Path) -> tuple[Issue, Rendered]:
    """Read a complete issue folder written by `build`; say what is missing otherwise."""
    if not folder.is_dir():
        raise IssueError("not a built issue (no such folder); run digest build", path=str(folder))
    try:
        with folder_lock(folder.parent, shared=True):  # a build under way finishes first
            missing = [name for name in ISSUE_FILES if not (folder / name).is_file()]
            if missing:
                raise IssueError(f"incomplete issue folder: {', '.join(missing)} missing; run digest build again",
                                 path=str(folder))
            _check_built(folder)
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
