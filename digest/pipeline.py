"""The pipeline as library calls: build an issue folder, send an issue to lists."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from digest.collect import collect
from digest.compose import MessageSkeleton, sign_token, unsubscribe_url
from digest.compose.dkim import DKIMSigner
from digest.config import Settings, Workspace
from digest.curate import CurateOptions, curate
from digest.errors import ConfigError, DeliveryError, SourceError, StateError
from digest.model import Issue, Rendered, Subscriber
from digest.render import PREVIEW_VALUES, fill_markers, render_issue
from digest.state import State

__all__ = [
    "BuildResult",
    "build_issue",
    "load_issue",
    "write_atomically",
    "skeleton_for",
    "GMAIL_CLIP_BYTES",
    "WARN_BYTES",
]

GMAIL_CLIP_BYTES = 102 * 1024  # Gmail clips a message whose HTML is larger
WARN_BYTES = 90 * 1024


@dataclass
class BuildResult:
    """What `build_issue` made and noticed."""

    issue: Issue
    rendered: Rendered
    folder: Path
    html_bytes: int
    warnings: list[str] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def skeleton_for(workspace: Workspace, settings: Settings, rendered: Rendered, *, list_name: str) -> MessageSkeleton:
    """The message skeleton for an issue, signed with DKIM when [dkim] is configured."""
    signer = DKIMSigner(settings.dkim, root=workspace.root) if settings.dkim else None
    return MessageSkeleton(rendered, settings.newsletter, secret=workspace.secret(), list_name=list_name,
                           signer=signer)


def write_atomically(path: Path, data: str | bytes) -> None:
    """Write a file via a temporary beside it and a rename: never half-written."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise StateError(f"cannot write: {exc.strerror or exc}", path=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise StateError(f"cannot write: {exc.strerror or exc}", path=str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_issue(
    workspace: Workspace,
    sources: Sequence[Path],
    *,
    options: CurateOptions | None = None,
    out: Path | None = None,
    encoding: str | None = None,
    strict: bool = False,
    settings: Settings | None = None,
    allow_large: bool = False,
    reserve_number: bool = True,
) -> BuildResult:
    """Collect, curate, number, render and write issues/<number>/ (nothing written on error)."""
    settings = settings or workspace.settings()
    found = collect(sources, encoding=encoding, strict=strict)
    if not found.articles:
        if found.errors:
            raise found.errors[0]
        raise SourceError("no articles found in the sources", path=", ".join(map(str, sources)))
    options = options or CurateOptions()
    options = replace(options, newsletter=settings.newsletter.name, subject_template=settings.newsletter.subject)
    curated = curate(found.articles, options)
    with State(workspace.database) as state:
        # The same content keeps its number, so a failed render wastes none; previews only peek.
        if reserve_number:
            number = state.number_for(curated.issue.content_key, curated.issue.subject)
        else:
            number = state.peek_number(curated.issue.content_key)
    issue = replace(curated.issue, number=number)
    rendered = render_issue(issue, settings, templates=workspace.templates)
    folder = out or workspace.issues / str(number)
    secret = workspace.secret()
    skeleton = skeleton_for(workspace, settings, rendered, list_name="preview")
    reader = Subscriber(PREVIEW_VALUES["email"], PREVIEW_VALUES["name"])
    preview = skeleton.compose(reader)
    token = sign_token(secret, email=reader.key, list_name="preview", issue=number)
    values = skeleton.values_for(reader, unsubscribe_url(settings.newsletter.base_url, token))
    html = fill_markers(rendered.html, rendered.marker, values)
    text = fill_markers(rendered.text, rendered.marker, values)
    size = len(html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES and not allow_large:
        raise ConfigError(
            f"the HTML is {size / 1024:.1f} KB, over Gmail's 102 KB clip; shorten the issue "
            "(--excerpt-words, --top) or pass --allow-large", path=str(folder / "issue.html"))
    write_atomically(folder / "rendered.json", json.dumps(rendered.to_json(), ensure_ascii=False))
    write_atomically(folder / "issue.json", json.dumps(issue.to_json(), ensure_ascii=False, indent=2) + "\n")
    write_atomically(folder / "issue.html", html)
    write_atomically(folder / "issue.txt", text)
    write_atomically(folder / "preview.eml", preview.data)
    warnings = list(found.warnings)
    warnings += [f"{origin}: no date; kept in the issue" for origin in curated.undated]
    warnings += [f"{path}: skipped, not a supported source" for path in found.skipped]
    return BuildResult(issue, rendered, folder, size, warnings, found.errors, found.skipped)


def load_issue(folder: Path) -> tuple[Issue, Rendered]:
    """Read an issue folder written by `build_issue`."""
    try:
        issue = Issue.from_json(json.loads((folder / "issue.json").read_text(encoding="utf-8")))
        rendered = Rendered.from_json(json.loads((folder / "rendered.json").read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise DeliveryError(f"not a built issue ({Path(exc.filename).name} missing); run digest build",
                            path=str(folder)) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise DeliveryError(f"damaged issue folder: {exc}", path=str(folder)) from None
    return issue, rendered
