"""Building an issue folder, as a library call (sending is digest.app.send).

Everything here works on a `Context` (the workspace with its settings, secret
and store loaded once). The stages below know nothing of this module.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from digest.app.audiences import audience_for, resolve_lists, signed_up_members
from digest.app.context import Context
from digest.app.issue_folder import write_issue_folder
from digest.app.planning import plan_target, sending_began
from digest.collect import Collection, collect
from digest.compose import sign_token, unsubscribe_url
from digest.core.errors import ConfigError, SourceError
from digest.core.model import Article, Issue, Rendered, Subscriber, TopNewsItem
from digest.core.sourcespec import SourceSpec
from digest.core.urls import redact
from digest.curate import CurateOptions, in_period
from digest.curate.dedupe import Merge, merge_duplicates
from digest.curate.plan import apply_plan, named_in_workspace
from digest.curate.planfile import PLAN_NAME
from digest.render import PREVIEW_VALUES, render_issue
from digest.render.contrast import theme_contrast_warnings
from digest.render.intro import intro_text

if TYPE_CHECKING:
    from digest.sources.fetch import FetchReport

__all__ = [
    "BuildResult",
    "PlanState",
    "build_issue",
    "gather_articles",
    "audience_for",
    "resolve_lists",
    "signed_up_members",
    "GMAIL_CLIP_BYTES",
    "WARN_BYTES",
    "MESSAGE_WARN_BYTES",
    "MESSAGE_MAX_BYTES",
]

GMAIL_CLIP_BYTES = 102 * 1024  # Gmail clips a message whose HTML is larger
WARN_BYTES = 90 * 1024
# Whole messages: many providers refuse over 10 MB (and count the base64/QP growth); a
# newsletter over 1 MB is almost certainly a mistake in a source or a template.
MESSAGE_WARN_BYTES = 1024 * 1024
MESSAGE_MAX_BYTES = 10 * 1024 * 1024


@dataclass
class PlanState:
    """The plan a build used: where it is, whether this build wrote it, what it does not hold yet."""

    path: Path
    created: bool = False  # this build wrote it (it did not exist)
    written: bool = True  # it lives beside the outputs (not so for the preview's)
    new: list[TopNewsItem] = field(default_factory=list)  # articles found since it was made
    why: str = ""  # why the build rendered this issue from its plan (the open issue: not sent to readers yet)


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
    fetched: FetchReport | None = None  # the web sources' report, when there were any
    merged: list[Merge] = field(default_factory=list)  # copies of one story merged into one article
    plan: PlanState | None = None


def gather_articles(ctx: Context, sources: Sequence[Path], *, web: Sequence[SourceSpec] = (),
                    fetched: FetchReport | None = None, offline: bool = False, encoding: str | None = None,
                    strict: bool = False) -> tuple[Collection, FetchReport | None]:
    """Articles of files and folders, and of web sources (fetched now, or from the cache when offline).

    A web source that fails is recorded in the collection's errors and the rest
    go on; `strict` makes the first failure an error. No source at all is an error.
    """
    if not sources and not web and fetched is None:
        raise SourceError("no sources: give files, folders or URLs, or add [[sources]] to digest.toml",
                          path=str(ctx.workspace.root / "digest.toml"))
    found = collect(sources, encoding=encoding, strict=strict) if sources else Collection()
    if fetched is None and web:
        from digest.app.fetching import fetch_sources

        fetched = fetch_sources(ctx, web, offline=offline)
    if fetched is not None:
        from digest.app.fetching import cache_of
        from digest.sources import articles_from

        got = articles_from(fetched, cache_of(ctx))
        if strict and got.errors:
            raise got.errors[0]
        found.articles.extend(got.articles)
        if encoding:
            found.warnings.append(f"--encoding {encoding} applies to files only: web sources are decoded by the "
                                  "charset their server gives, else detected")
        found.warnings.extend(got.warnings)
        found.errors.extend(got.errors)
    return found, fetched


def build_issue(
    ctx: Context,
    sources: Sequence[Path],
    *,
    web: Sequence[SourceSpec] = (),
    fetched: FetchReport | None = None,
    offline: bool = False,
    options: CurateOptions | None = None,
    out: Path | None = None,
    encoding: str | None = None,
    strict: bool = False,
    allow_large: bool = False,
    reserve_number: bool = True,
    new_issue: bool = False,
    plan_folder: Path | None = None,
) -> BuildResult:
    """Collect (files, and web sources fetched or cached), then render the issue from its plan and write
    issues/<number>/ (each output whole, in place; nothing written on error).

    `web` sources are fetched first (or read from the cache with `offline`);
    pass `fetched` instead to build from a fetch already made. The plan is the
    open issue's (see `digest.app.planning`), the folder's, or a new one made by
    the curation rules and written beside the outputs. `plan_folder` names the
    issue folder whose plan to render (`digest run`: the latest issue until it
    has gone to the run's lists, whoever else it went to).
    """
    settings = ctx.settings
    found, fetched = gather_articles(ctx, sources, web=web, fetched=fetched, offline=offline, encoding=encoding,
                                     strict=strict)
    if not found.articles:
        if found.errors:
            raise found.errors[0]
        names = [*map(str, sources), *(redact(s.url) for s in web)]
        raise SourceError("no articles found in the sources", path=", ".join(names))
    # Origins named from the workspace: the same issue whatever folder the command runs in.
    articles, merged = merge_duplicates(named_in_workspace(found.articles, ctx.root))
    options = options or CurateOptions()
    options = replace(options, newsletter=settings.newsletter.name, subject_template=settings.newsletter.subject)
    target = plan_target(ctx, articles, options, out=out, reserve_number=reserve_number, new_issue=new_issue,
                         plan_folder=plan_folder)
    planned = apply_plan(target.plan, articles, period=in_period(articles, options), root=ctx.root)
    issue = replace(planned.issue, number=target.number)
    # The marker is an HMAC of the issue: the same content and plan render the same bytes, and
    # content cannot forge it without the workspace secret.
    marker = "dgst" + hmac.new(ctx.secret, json.dumps(issue.to_json(), sort_keys=True).encode(),
                               hashlib.sha256).hexdigest()[:12]
    rendered = render_issue(issue, settings, templates=ctx.workspace.templates, marker=marker)
    folder = target.folder
    skeleton = ctx.skeleton(rendered, list_name="preview", clock=lambda: _issue_time(ctx, issue))
    reader = Subscriber(PREVIEW_VALUES["email"], PREVIEW_VALUES["name"])
    preview = skeleton.compose(reader)
    token = sign_token(ctx.secret, email=reader.key, list_name="preview", issue=issue.number)
    # Escaped as in the mailed copy: issue.html is opened in browsers (preview, the archive's source).
    html, text = skeleton.personalised(reader, unsubscribe_url(settings.newsletter.base_url, token))
    size = len(html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES and not allow_large:
        raise ConfigError(
            f"the HTML is {size / 1024:.1f} KB, over Gmail's 102 KB clip; shorten the issue "
            "(--excerpt-words, --top) or pass --allow-large", path=str(folder / "issue.html"))
    message_bytes = len(preview.data)
    if message_bytes > MESSAGE_MAX_BYTES and not allow_large:
        raise ConfigError(
            f"the message is {message_bytes / 1024 / 1024:.1f} MB, over the 10 MB many mail servers refuse; "
            "shorten the issue or its templates, or pass --allow-large", path=str(folder / "preview.eml"))
    files = {
        "rendered.json": json.dumps(rendered.to_json(), ensure_ascii=False).encode("utf-8"),
        "issue.json": (json.dumps(issue.to_json(), ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
        "issue.html": html.encode("utf-8"),
        "issue.txt": text.encode("utf-8"),
        "preview.eml": preview.data,
    }
    if target.new_text is not None and target.plan_path.parent == folder:
        files[PLAN_NAME] = target.new_text.encode("utf-8")
    changed_after_sending = reserve_number and _differs(folder / "issue.html", files["issue.html"]) and \
        sending_began(ctx, issue.number)
    kept = write_issue_folder(folder, files)
    warnings = list(found.warnings)
    if skeleton.signer is not None and skeleton.signer.warning:
        warnings.append(skeleton.signer.warning)
    if changed_after_sending:
        warnings.append(f"issue {issue.number} has already gone out (to some lists at least): readers have the "
                        "earlier version; the archive and any send from now on get this one")
    if message_bytes > MESSAGE_WARN_BYTES:
        warnings.append(f"{folder / 'preview.eml'}: the message is {message_bytes / 1024 / 1024:.1f} MB; "
                        "a newsletter is usually under 100 KB")
    warnings += [f"{ctx.workspace.root / 'digest.toml'}: {line}" for line in theme_contrast_warnings(settings.theme)]
    warnings += [f"{origin}: no date; kept in the issue" for origin in _undated(articles, options)]
    warnings += [f"{path}: skipped, not a supported source" for path in found.skipped]
    warnings += [f"{target.plan_path}:{entry.line}: the source of {entry.title!r} ({entry.source}) is gone; "
                 "the entry stays as written (delete it to drop it)" for entry in planned.vanished]
    if issue.intro and not _shows_intro(rendered.text, issue.intro):
        warnings.append(f"{ctx.workspace.templates}: the workspace templates do not show the intro; "
                        "add {{ intro_text }} (text) and the intro partial (HTML), see digest templates init")
    plan = PlanState(target.plan_path, created=target.new_text is not None and PLAN_NAME not in kept,
                     written=target.plan_path.parent == folder, new=planned.new, why=target.why)
    return BuildResult(issue, rendered, folder, size, warnings, found.errors, found.skipped, fetched=fetched,
                       merged=merged, plan=plan)


def _differs(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() != data
    except OSError:
        return False  # nothing built before: nothing changed


def _undated(articles: Sequence[Article], options: CurateOptions) -> list[str]:
    return [a.origin for a in in_period(articles, options) if a.published is None]


def _issue_time(ctx: Context, issue: Issue) -> float:
    """When preview.eml says it was sent: the issue's date at midnight in the newsletter's zone."""
    day = issue.date or (issue.lead.published.date() if issue.lead.published else None)
    if day is None:
        return time.time()
    return datetime.combine(day, datetime.min.time(), tzinfo=ctx.settings.newsletter.zone).timestamp()


def _shows_intro(text: str, intro: str) -> bool:
    words = intro_text(intro).split()[:6]
    return not words or " ".join(words) in " ".join(text.split())
