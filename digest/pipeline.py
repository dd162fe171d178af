"""The pipeline as library calls, at the top of the library: build an issue folder, send an issue to lists.

Everything here works on a `Context` (the workspace with its settings, secret
and store loaded once). The stages below know nothing of this module.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

from digest.collect import collect
from digest.compose import sign_token, unsubscribe_url
from digest.context import Context
from digest.curate import CurateOptions, curate
from digest.deliver.audience import AudienceRead, read_audience
from digest.deliver.mailbox import embedded_mailbox
from digest.deliver.sender import SendOptions, SendReport, send_campaign
from digest.deliver.transport import SMTPTransport, Transport
from digest.errors import ConfigError, DeliveryError, SourceError
from digest.issue_folder import load_issue, write_issue_folder
from digest.model import Issue, Rendered, Subscriber
from digest.render import PREVIEW_VALUES, render_issue
from digest.store import Audience, Campaign, CampaignStatus
from digest.store.base import owner_id
from digest.subscribers import RowProblem

__all__ = [
    "BuildResult",
    "build_issue",
    "send_to_lists",
    "audience_for",
    "GMAIL_CLIP_BYTES",
    "WARN_BYTES",
    "MESSAGE_WARN_BYTES",
    "MESSAGE_MAX_BYTES",
    "EMBEDDED_MAILBOX",
]

GMAIL_CLIP_BYTES = 102 * 1024  # Gmail clips a message whose HTML is larger
WARN_BYTES = 90 * 1024
# Whole messages: many providers refuse over 10 MB (and count the base64/QP growth); a
# newsletter over 1 MB is almost certainly a mistake in a source or a template.
MESSAGE_WARN_BYTES = 1024 * 1024
MESSAGE_MAX_BYTES = 10 * 1024 * 1024
EMBEDDED_MAILBOX = "the embedded mailbox (outbox/)"


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


def build_issue(
    ctx: Context,
    sources: Sequence[Path],
    *,
    options: CurateOptions | None = None,
    out: Path | None = None,
    encoding: str | None = None,
    strict: bool = False,
    allow_large: bool = False,
    reserve_number: bool = True,
) -> BuildResult:
    """Collect, curate, number, render and write issues/<number>/ whole (nothing written on error)."""
    settings = ctx.settings
    found = collect(sources, encoding=encoding, strict=strict)
    if not found.articles:
        if found.errors:
            raise found.errors[0]
        raise SourceError("no articles found in the sources", path=", ".join(map(str, sources)))
    options = options or CurateOptions()
    options = replace(options, newsletter=settings.newsletter.name, subject_template=settings.newsletter.subject)
    curated = curate(found.articles, options)
    # The same content keeps its number, so a failed render wastes none; previews only peek.
    if reserve_number:
        number = ctx.store.number_for(curated.issue.content_key, curated.issue.subject)
    else:
        number = ctx.store.peek_number(curated.issue.content_key)
    issue = replace(curated.issue, number=number)
    rendered = render_issue(issue, settings, templates=ctx.workspace.templates)
    folder = out or ctx.workspace.issues / str(number)
    skeleton = ctx.skeleton(rendered, list_name="preview")
    reader = Subscriber(PREVIEW_VALUES["email"], PREVIEW_VALUES["name"])
    preview = skeleton.compose(reader)
    token = sign_token(ctx.secret, email=reader.key, list_name="preview", issue=number)
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
    write_issue_folder(folder, {
        "rendered.json": json.dumps(rendered.to_json(), ensure_ascii=False).encode("utf-8"),
        "issue.json": (json.dumps(issue.to_json(), ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
        "issue.html": html.encode("utf-8"),
        "issue.txt": text.encode("utf-8"),
        "preview.eml": preview.data,
    })
    warnings = list(found.warnings)
    if message_bytes > MESSAGE_WARN_BYTES:
        warnings.append(f"{folder / 'preview.eml'}: the message is {message_bytes / 1024 / 1024:.1f} MB; "
                        "a newsletter is usually under 100 KB")
    warnings += [f"{origin}: no date; kept in the issue" for origin in curated.undated]
    warnings += [f"{path}: skipped, not a supported source" for path in found.skipped]
    return BuildResult(issue, rendered, folder, size, warnings, found.errors, found.skipped)


def audience_for(ctx: Context, lists: Sequence[Path], *, tags: Sequence[str] = (),
                 where: Sequence[tuple[str, str]] = ()) -> Audience:
    """The audience of a send command: its lists (named relative to the workspace) and segment."""
    root = ctx.workspace.root.resolve()
    names = []
    for path in lists:
        resolved = path.resolve()
        names.append(resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(resolved))
    return Audience(tuple(names), tuple(tags), tuple(where))


async def send_to_lists(
    ctx: Context,
    folder: Path,
    lists: Sequence[Path],
    *,
    options: SendOptions,
    on_problem: Callable[[RowProblem], None],
    tags: Sequence[str] = (),
    where: Sequence[tuple[str, str]] = (),
    transport: Transport | None = None,
    stop: asyncio.Event | None = None,
    on_progress: Callable[[SendReport], None] | None = None,
    on_start: Callable[[str, CampaignStatus], None] | None = None,
) -> SendReport:
    """Send the issue to the campaign of these lists and segment, reading them as sending goes on.

    Several of these may run at once on one campaign (two terminals, cron
    overlaps, `--worker` on other hosts): they share the work through the
    store's claims and never send a row twice.
    """
    settings = ctx.settings
    _, rendered = load_issue(folder)
    if not lists:
        raise ConfigError("give at least one --list FILE")
    for path in lists:
        if not path.is_file():
            raise ConfigError("no such list file", path=str(path))
    audience = audience_for(ctx, lists, tags=tags, where=where)
    list_name = "+".join(p.stem for p in lists) or "list"
    skeleton = ctx.skeleton(rendered, list_name=list_name)
    store = ctx.store
    if options.worker:
        campaign = await _wait_for_campaign(ctx, rendered.number, audience, options, stop)
    else:
        campaign = await asyncio.to_thread(store.open_campaign, rendered.number, audience.key, audience.describe())

    def reader(halt: threading.Event) -> AudienceRead:
        """Journal the audience (in a thread) while the pool sends."""
        return read_audience(store, campaign, lists, message_id=skeleton.message_id, owner=owner_id("reader"),
                             lease=options.lease, on_problem=on_problem, stop=halt, tags=tags, where=where)

    async with AsyncExitStack() as stack:
        where_to = transport.describe() if transport is not None else ""
        if transport is None:
            smtp = settings.smtp
            if smtp is None:
                smtp = await stack.enter_async_context(embedded_mailbox(ctx.workspace.outbox))
                where_to = EMBEDDED_MAILBOX
            transport = SMTPTransport(smtp)
            where_to = where_to or transport.describe()
        if on_start:
            on_start(where_to, await asyncio.to_thread(store.campaign_status, campaign, now=time.time()))
        return await send_campaign(store=store, campaign=campaign, skeleton=skeleton, transport=transport,
                                   sender=settings.newsletter.sender_address, options=options,
                                   reader=None if options.worker else reader, stop=stop, on_progress=on_progress)


async def _wait_for_campaign(ctx: Context, issue: int, audience: Audience, options: SendOptions,
                             stop: asyncio.Event | None) -> Campaign:
    """A worker joins a campaign another sender starts; it waits up to one lease for it to appear."""
    waited = 0.0
    while True:
        campaign = await asyncio.to_thread(ctx.store.find_campaign, issue, audience.key)
        if campaign is not None:
            return campaign
        if waited >= options.lease or (stop is not None and stop.is_set()):
            raise DeliveryError(f"no campaign of issue {issue} for {audience.describe()} has been started; "
                                "run digest send without --worker first (on any host)")
        await asyncio.sleep(options.poll)
        waited += options.poll
