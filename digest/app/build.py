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
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digest.app.audiences import audience_for, resolve_lists, signed_up_members
from digest.app.context import Context
from digest.app.issue_folder import load_issue, write_issue_folder
from digest.app.planning import PlanTarget, plan_target, sending_began
from digest.app.weekly import Window, already_sent, fresh_articles, record_carried, stamp_cutoff, window_for
from digest.collect import Collection, collect
from digest.compose import sign_token, unsubscribe_url
from digest.core.errors import ConfigError, IssueError, NothingNewError, SourceError
from digest.core.model import Article, Issue, Rendered, Subscriber, TopNewsItem
from digest.core.sourcespec import SourceSpec
from digest.core.urls import redact
from digest.curate import AlreadySent, CurateOptions, in_period, subject_line
from digest.curate.dedupe import Merge, merge_duplicates
from digest.curate.plan import Following, Planned, apply_plan, named_in_workspace
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
    news: NewsReport | None = None  # what the weekly cycle left out


@dataclass
class NewsReport:
    """What the weekly cycle decided: the window and what it left out."""

    window: Window | None = None  # None: no issue went to readers yet, or --since/--until chose by hand
    older: list[str] = field(default_factory=list)  # titles first seen before the window
    dated_before: list[str] = field(default_factory=list)  # feed entries new to digest but dated before it
    already_sent: list[tuple[str, int]] = field(default_factory=list)  # (title, issue that sent it)
    overflow: list[str] = field(default_factory=list)  # new stories past --top, left for no issue
    pinned: list[tuple[str, int]] = field(default_factory=list)  # sent before, kept because the plan names them


@dataclass
class _Chosen:
    target: PlanTarget
    planned: Planned
    news: NewsReport


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


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """How to build: where the articles come from, how to curate them, where the issue goes."""

    web: Sequence[SourceSpec] = ()  # fetched first (or read from the cache with `offline`)
    fetched: FetchReport | None = None  # a fetch already made, instead of fetching `web`
    offline: bool = False
    options: CurateOptions | None = None
    out: Path | None = None  # the plan and outputs go there instead of issues/<n>/
    encoding: str | None = None
    strict: bool = False  # the first bad source is an error
    allow_large: bool = False  # over Gmail's clip or 10 MB is built anyway
    reserve_number: bool = True  # False: the preview's build, nothing reserved or written to the store
    new_issue: bool = False  # a new issue by the rules even when the latest is unsent
    plan_folder: Path | None = None  # render this issue folder's plan (`digest run`, `build --issue N`)
    issue_day: date | None = None  # the issue's date (default: the day it is made)


@dataclass
class _Made:
    """An issue rendered and composed once, before anything is written."""

    rendered: Rendered
    files: dict[str, bytes]
    html_bytes: int
    signer_warning: str | None


def build_issue(ctx: Context, sources: Sequence[Path], request: BuildRequest | None = None, /,
                **fields: Any) -> BuildResult:
    """Collect (files, and web sources fetched or cached), then render the issue from its plan and write
    issues/<number>/ (each output whole, in place; nothing written on error).

    `fields` are those of `BuildRequest`, by keyword. The plan is the open issue's
    (see `digest.app.planning`), the folder's, or a new one made by the curation
    rules and written beside the outputs. A new issue holds only what is new since
    the last issue sent (see `digest.app.weekly`); NothingNewError when nothing is.
    """
    req = replace(request or BuildRequest(), **fields)
    settings = ctx.settings
    found, fetched = gather_articles(ctx, sources, web=req.web, fetched=req.fetched, offline=req.offline,
                                     encoding=req.encoding, strict=req.strict)
    if not found.articles:
        if found.errors:
            raise found.errors[0]
        names = ", ".join([*map(str, sources), *(redact(s.url) for s in req.web)])
        if req.plan_folder is None:  # an emptied pages/: nothing new this week, not a broken source
            raise NothingNewError("nothing new: no article in the sources", path=names)
        raise SourceError("no articles found in the sources", path=names)
    # Origins named from the workspace: the same issue whatever folder the command runs in.
    articles, merged = merge_duplicates(named_in_workspace(found.articles, ctx.root))
    options = replace(req.options or CurateOptions(), newsletter=settings.newsletter.name,
                      subject_template=settings.newsletter.subject)
    chosen = _choose_issue(ctx, articles, options, req)
    target, planned = chosen.target, chosen.planned
    issue = replace(planned.issue, number=target.number)
    folder = target.folder
    made = _render(ctx, issue, folder, allow_large=req.allow_large)
    if target.new_text is not None and target.plan_path.parent == folder:
        made.files[PLAN_NAME] = target.new_text.encode("utf-8")
    changed_after_sending = req.reserve_number and _differs(folder / "issue.html", made.files["issue.html"]) and \
        sending_began(ctx, issue.number)
    kept = write_issue_folder(folder, made.files)
    if req.reserve_number:
        original = target.plan.lead.title
        record_carried(ctx, issue, also=[(original, "")] if original and original != issue.lead.title else [])
        stamp_cutoff(ctx, issue.number)  # the first build of an issue ends its window
    warnings = list(found.warnings) + ([made.signer_warning] if made.signer_warning else [])
    if changed_after_sending:
        warnings.append(f"issue {issue.number} has already gone out (to some lists at least): readers have the "
                        "earlier version; the archive and any send from now on get this one")
    warnings += _warnings(ctx, issue, made, folder, articles=articles, options=options)
    warnings += [f"{path}: skipped, not a supported source" for path in found.skipped]
    warnings += [f"{target.plan_path}:{entry.line}: the source of {entry.title!r} ({entry.source}) is gone; "
                 "the entry stays as written (delete it to drop it)" for entry in planned.vanished]
    plan = PlanState(target.plan_path, created=target.new_text is not None and PLAN_NAME not in kept,
                     written=target.plan_path.parent == folder, new=planned.new, why=target.why)
    return BuildResult(issue, made.rendered, folder, made.html_bytes, warnings, found.errors, found.skipped,
                       fetched=fetched, merged=merged, plan=plan, news=chosen.news)


def _render(ctx: Context, issue: Issue, folder: Path, *, allow_large: bool) -> _Made:
    """Render the issue once and compose its preview; refuse one over Gmail's clip or 10 MB."""
    settings = ctx.settings
    # The marker is an HMAC of the issue: the same content and plan render the same bytes, and
    # content cannot forge it without the workspace secret.
    marker = "dgst" + hmac.new(ctx.secret, json.dumps(issue.to_json(), sort_keys=True).encode(),
                               hashlib.sha256).hexdigest()[:12]
    rendered = render_issue(issue, settings, templates=ctx.workspace.templates, marker=marker, secret=ctx.secret)
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
    if len(preview.data) > MESSAGE_MAX_BYTES and not allow_large:
        raise ConfigError(
            f"the message is {len(preview.data) / 1024 / 1024:.1f} MB, over the 10 MB many mail servers refuse; "
            "shorten the issue or its templates, or pass --allow-large", path=str(folder / "preview.eml"))
    files = {
        "rendered.json": json.dumps(rendered.to_json(), ensure_ascii=False).encode("utf-8"),
        "issue.json": (json.dumps(issue.to_json(), ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
        "issue.html": html.encode("utf-8"),
        "issue.txt": text.encode("utf-8"),
        "preview.eml": preview.data,
    }
    signer = skeleton.signer
    return _Made(rendered, files, size, signer.warning if signer is not None and signer.warning else None)


def _warnings(ctx: Context, issue: Issue, made: _Made, folder: Path, *, articles: Sequence[Article],
              options: CurateOptions) -> list[str]:
    """What a build says about the issue it made: size, contrast, undated articles, an intro not shown."""
    warnings = []
    message_bytes = len(made.files["preview.eml"])
    if message_bytes > MESSAGE_WARN_BYTES:
        warnings.append(f"{folder / 'preview.eml'}: the message is {message_bytes / 1024 / 1024:.1f} MB; "
                        "a newsletter is usually under 100 KB")
    root = ctx.workspace.root
    warnings += [f"{root / 'digest.toml'}: {line}" for line in theme_contrast_warnings(ctx.settings.theme)]
    warnings += [f"{origin}: no date; kept in the issue" for origin in _undated(articles, options)]
    if issue.intro and not _shows_intro(made.rendered.text, issue.intro):
        warnings.append(f"{ctx.workspace.templates}: the workspace templates do not show the intro; "
                        "add {{ intro_text }} (text) and the intro partial (HTML), see digest templates init")
    return warnings


def _choose_issue(ctx: Context, articles: Sequence[Article], options: CurateOptions, req: BuildRequest) -> _Chosen:
    """The issue to render and its plan, applied: only what is new since the last issue sent, nothing twice."""
    by_hand = options.since is not None or options.until is not None
    window = None if by_hand else window_for(ctx)
    fresh = fresh_articles(ctx, articles, window)
    sent = already_sent(ctx)
    news = NewsReport(window, fresh.older, fresh.dated_before)
    if req.plan_folder is not None:
        articles = [*articles, *_built_lead(req.plan_folder, articles)]
    try:
        target = plan_target(ctx, fresh.articles, options, out=req.out, reserve_number=req.reserve_number,
                             new_issue=req.new_issue, plan_folder=req.plan_folder, sent=sent)
    except NothingNewError as nothing:
        if by_hand:
            period = f"{options.since or '…'} to {options.until or '…'}"
            raise NothingNewError(f"{nothing.message} ({period}); nothing built") from None
        raise NothingNewError(_nothing_new(ctx, news, len(articles), sent, fresh.articles)) from None
    news.already_sent, news.overflow = list(target.already_sent), list(target.overflow)
    if target.new_text is None:  # an issue rendered from its plan: the window's leavings are not its news
        news.older, news.dated_before = [], []
    day = req.issue_day or _issue_day(ctx, target)
    following = Following(subject=lambda title: subject_line(options, title), day=day)
    planned = apply_plan(target.plan, articles, period=in_period(fresh.articles, options), root=ctx.root,
                         following=following)
    planned.new = [item for item in planned.new if sent.issue_of(item.title, item.url, item.origin) is None]
    if target.new_text is None:  # the editor's plan: what it names is kept, even if it went out before
        issue = planned.issue
        shown = [(issue.lead.title, issue.lead.url, issue.lead.origin, ""),
                 *((i.title, i.url, i.origin, i.summary) for i in issue.top_news)]
        earlier = already_sent(ctx, before=target.number)
        news.pinned = [(title, n) for title, url, origin, summary in shown
                       if (n := earlier.issue_of(title, url, origin, summary)) is not None]
    return _Chosen(target, planned, news)


def _built_lead(folder: Path, articles: Sequence[Article]) -> list[Article]:
    """The lead of an issue as built, when the sources no longer hold it (`build --issue N` of an old issue:
    the feed rolled over, the file was renamed)."""
    try:
        built, _ = load_issue(folder)
    except IssueError:
        return []
    lead = built.lead
    if any(a.origin == lead.origin and a.title == lead.title for a in articles):
        return []
    return [lead]


def _nothing_new(ctx: Context, news: NewsReport, total: int, sent: AlreadySent, fresh: Sequence[Article]) -> str:
    """Why nothing is new, in one line."""
    since = f" since {news.window.describe(ctx.settings.newsletter.zone)}" if news.window else ""
    repeated = sum(1 for a in fresh if sent.issue_of(a.title, a.url, a.origin) is not None)
    parts = [f"{len(news.older)} seen before it"] if news.window else []
    if news.dated_before:
        titles = "; ".join(news.dated_before[:3]) + (" …" if len(news.dated_before) > 3 else "")
        parts.append(f"{len(news.dated_before)} dated before it: {titles}")
    if repeated:
        parts.append(f"{repeated} already sent")
    detail = f" ({total} article(s): {', '.join(parts)})" if parts else ""
    return (f"nothing new{since}{detail}; nothing built (--since/--until/--week choose by hand; "
            "a story named in a plan is kept on purpose)")


def _issue_day(ctx: Context, target: PlanTarget) -> date:
    """The issue's date: the day it is made, kept once it has gone out (a later render for another list)."""
    if target.plan.date is None and sending_began(ctx, target.number):
        try:
            built, _ = load_issue(target.folder)
        except IssueError:
            built = None
        if built is not None and built.date is not None:
            return built.date
    return datetime.now(ctx.settings.newsletter.zone).date()


def date_for_send(ctx: Context, folder: Path, day: date) -> str | None:
    """Date the issue the day it goes out (`send --at`), rendering it again from its plan and the cached
    sources, when its plan sets no date and its sending has not begun; a warning when it cannot be."""
    from digest.curate.planfile import read_plan

    number = int(folder.name) if folder.name.isdigit() else 0
    plan = folder / PLAN_NAME
    if not number or not plan.is_file() or read_plan(plan).date is not None or sending_began(ctx, number):
        return None
    issue, _ = load_issue(folder)
    if issue.date == day:
        return None
    pages = [ctx.workspace.pages] if ctx.workspace.pages.exists() else []
    try:
        build_issue(ctx, pages, web=list(ctx.settings.sources), offline=True, plan_folder=folder, issue_day=day)
    except (SourceError, ConfigError, IssueError) as exc:
        return f"issue {number} stays dated {issue.date} (it could not be rendered again for {day}: {exc})"
    return None


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
