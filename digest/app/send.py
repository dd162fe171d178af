"""Sending an issue: one request, resolved once, handed down with one listener.

    request = send_request(ctx, folder, lists, options=SendOptions(), at=when)
    outcome = await send(request, listener)      # waits for a schedule first, if there is one

A request holds everything a send decides before it records anything: the
issue loaded, the lists resolved and checked, the audience they make, the
segment and the options. The listener hears what happens (`on_start`,
`on_progress`, `on_problem`, `on_notice`, `on_waiting`, `on_due`); the CLI's
listener prints, a test's records. Scheduling is a mode of the send: with
`at` (or a schedule already recorded for the campaign) the send waits for it,
then reads the issue folder again — an issue rebuilt meanwhile goes out as
rebuilt — and sends.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from digest.app.audiences import audience_for, find_campaign, resolve_lists, signed_up_members
from digest.app.context import Context
from digest.app.issue_folder import load_issue
from digest.app.schedule import SendTime, record_schedule, wait_for_schedule
from digest.core.erased import ErasedReaders
from digest.core.errors import ConfigError, DeliveryError
from digest.core.model import Rendered, Subscriber
from digest.deliver.audience import AudienceRead, Selection, SignedUpMembers, read_audience
from digest.deliver.channels import EmailChannel, extra_channels, publish_beside_email
from digest.deliver.dryrun import DryRunReport, dry_run
from digest.deliver.sender import UNKNOWN_DELAY, SendOptions, SendReport
from digest.deliver.transport import Transport
from digest.store import Audience, Campaign, CampaignStatus
from digest.store.base import owner_id
from digest.store.schedules import Schedule
from digest.subscribers import RowProblem

__all__ = ["SendListener", "SendRequest", "ScheduledSend", "send_request", "send", "send_now", "send_to_lists",
           "dry_run_send", "abandon_campaign", "issue_number"]


class SendListener:
    """What a send tells as it goes; every method does nothing here: override the ones you need."""

    def on_start(self, where: str, status: CampaignStatus) -> None:
        """Sending begins, through `where` (a relay, or the embedded mailbox)."""

    def on_progress(self, report: SendReport) -> None:
        """The run so far (called every few hundred messages and at the end)."""

    def on_problem(self, problem: RowProblem) -> None:
        """A list row left out (bad address, duplicate …), as the lists are read."""

    def on_notice(self, text: str) -> None:
        """One line worth showing (a worker waiting for its campaign, another channel's summary)."""

    def on_waiting(self, schedule: Schedule) -> None:
        """The send waits for its schedule (said once `digest status` can see the waiter)."""

    def on_due(self, schedule: Schedule) -> None:
        """The schedule is due: sending starts."""


@dataclass(frozen=True)
class SendRequest:
    """One send, resolved once: the issue, the lists and their audience, the segment, the options."""

    ctx: Context
    folder: Path
    number: int
    rendered: Rendered
    lists: tuple[Path, ...]
    audience: Audience
    members: SignedUpMembers
    options: SendOptions
    tags: tuple[str, ...] = ()
    where: tuple[tuple[str, str], ...] = ()
    at: SendTime | None = None  # send then (a schedule recorded for the campaign)
    transport: Transport | None = None  # given (tests, a memory transport); else [smtp] or the embedded mailbox

    @property
    def selection(self) -> Selection:
        """Who the send is for, as the deliver stage takes it."""
        erased = ErasedReaders(self.ctx.secret, self.ctx.store.erased_hashes())
        return Selection(self.lists, self.tags, self.where, self.members, erased)

    def reloaded(self) -> SendRequest:
        """The same request with the issue folder read again (after waiting for a schedule)."""
        issue, rendered = load_issue(self.folder)
        return replace(self, number=issue.number, rendered=rendered)


@dataclass
class ScheduledSend:
    """How a send ended: sent (with the send's report), cancelled, or stopped while waiting."""

    state: str  # "sent" | "cancelled" | "stopped"
    schedule: Schedule | None = None
    report: SendReport | None = None


def send_request(ctx: Context, folder: Path, lists: Sequence[Path], *, options: SendOptions,
                 tags: Sequence[str] = (), where: Sequence[tuple[str, str]] = (), at: SendTime | None = None,
                 transport: Transport | None = None) -> SendRequest:
    """Load the issue and resolve the lists (each checked): a mistyped list fails now, before anything is recorded."""
    issue, rendered = load_issue(folder)
    if not lists:
        raise ConfigError("give at least one --list FILE")
    resolved = tuple(resolve_lists(ctx, lists))
    return SendRequest(ctx, folder, issue.number, rendered, resolved,
                       audience_for(ctx, resolved, tags=tags, where=where), signed_up_members(ctx), options,
                       tuple(tags), tuple((key, value) for key, value in where), at, transport)


async def send(request: SendRequest, listener: SendListener | None = None, *, stop: asyncio.Event | None = None,
               cancel: asyncio.Event | None = None, clock: Callable[[], float] = time.time,
               poll: float = 30.0) -> ScheduledSend:
    """Send the issue, at `request.at` or at the time already scheduled for its campaign (if any), else now.

    `cancel` cancels a schedule being waited for; `stop` stops waiting (the
    schedule stays) or, once sending, stops the send cleanly.
    """
    listener = listener or SendListener()
    stop = stop or asyncio.Event()
    cancel = cancel or asyncio.Event()
    schedule = await asyncio.to_thread(record_schedule, request)
    if schedule is not None:
        waiting = schedule
        outcome = await wait_for_schedule(request.ctx, schedule.campaign, stop=stop, cancel=cancel, clock=clock,
                                          poll=poll, on_waiting=lambda: listener.on_waiting(waiting))
        if outcome != "due":
            return ScheduledSend(outcome, schedule)
        listener.on_due(schedule)
        request = await asyncio.to_thread(request.reloaded)
    return ScheduledSend("sent", schedule, await send_now(request, listener, stop=stop))


def _options(request: SendRequest) -> SendOptions:
    """The request's options with what the workspace decides: the unknown-outcome delay, the bounce policy."""
    settings = request.ctx.settings
    options = request.options
    if settings.smtp is not None and options.unknown_delay == UNKNOWN_DELAY:
        # A tenth of the wait for the final reply, at most a minute: the first copy may still be on its way in.
        options = replace(options, unknown_delay=min(60.0, settings.smtp.data_timeout / 10))
    # Refusals recorded while sending count like bounces, under the workspace's [bounces] policy.
    return replace(options, soft_limit=settings.bounces.soft_limit,
                   soft_window=settings.bounces.soft_window_days * 86400.0)


async def send_now(request: SendRequest, listener: SendListener | None = None, *,
                   stop: asyncio.Event | None = None) -> SendReport:
    """Send the issue to the campaign of the request's lists and segment, reading them as sending goes on.

    Several of these may run at once on one campaign (two terminals, cron
    overlaps, `--worker` on other hosts): they share the work through the
    store's claims and never send a row twice.
    """
    listener = listener or SendListener()
    stop = stop or asyncio.Event()
    ctx, rendered, audience = request.ctx, request.rendered, request.audience
    ctx.check_secret()  # every host of a shared store signs with the same key
    options = _options(request)
    skeleton = ctx.skeleton(rendered, list_name="+".join(p.stem for p in request.lists) or "list")
    store = ctx.store
    if options.worker:
        campaign = await _wait_for_campaign(ctx, rendered.number, audience, options, stop, listener)
    else:
        campaign = await asyncio.to_thread(store.open_campaign, rendered.number, audience.key, audience.describe())
    if campaign.closed:
        raise ConfigError(f"the campaign of issue {rendered.number} for {audience.describe()} was abandoned: "
                          "nothing more is sent for it")

    def reader(halt: threading.Event) -> AudienceRead:
        """Journal the audience (in a thread) while the pool sends."""
        return read_audience(store, campaign, request.selection, message_id=skeleton.message_id,
                             owner=owner_id("reader"), lease=options.lease, on_problem=listener.on_problem,
                             stop=halt)

    email = EmailChannel(store=store, campaign=campaign, skeleton=skeleton, smtp=ctx.settings.smtp,
                         outbox=ctx.workspace.outbox, sender=ctx.settings.newsletter.sender_address,
                         options=options, reader=None if options.worker else reader, transport=request.transport)
    await email.publish(rendered, listener, stop=stop)
    assert email.report is not None  # nosec B101 - publish always leaves its report
    report = email.report
    if report.status is not None and report.status.campaign.complete and not report.status.remaining \
            and not stop.is_set():
        await publish_beside_email(extra_channels(ctx.settings, store), rendered, listener, stop=stop)
    return report


class _Callbacks(SendListener):
    """A listener made of the callbacks `send_to_lists` takes."""

    def __init__(self, callbacks: dict[str, Callable[..., None] | None]) -> None:
        unknown = set(callbacks) - {"on_problem", "on_progress", "on_start", "on_notice"}
        if unknown:
            raise TypeError(f"send_to_lists() got unexpected keyword argument {sorted(unknown)[0]!r}")
        for name, callback in callbacks.items():
            if callback is not None:
                setattr(self, name, callback)


async def send_to_lists(ctx: Context, folder: Path, lists: Sequence[Path], *, options: SendOptions,
                        tags: Sequence[str] = (), where: Sequence[tuple[str, str]] = (),
                        transport: Transport | None = None, stop: asyncio.Event | None = None,
                        **callbacks: Callable[..., None] | None) -> SendReport:
    """`send_now` for a caller with callbacks (`on_problem`, `on_progress`, `on_start`, `on_notice`): the public API."""
    request = send_request(ctx, folder, lists, options=options, tags=tags, where=where, transport=transport)
    return await send_now(request, _Callbacks(callbacks), stop=stop)


def dry_run_send(request: SendRequest, listener: SendListener, *,
                 on_bad_message: Callable[[Subscriber, str], None]) -> DryRunReport:
    """Compose and check every message the request would send now; send and record nothing."""
    ctx, options = request.ctx, request.options
    skeleton = ctx.skeleton(request.rendered, list_name="+".join(p.stem for p in request.lists))
    return dry_run(ctx.store, skeleton, request.number, request.selection, limit=options.limit,
                   retry_failed=options.retry_failed, retry_unknown=options.retry_unknown,
                   on_problem=listener.on_problem, on_bad_message=on_bad_message)


def abandon_campaign(ctx: Context, folder: Path, lists: Sequence[Path], *, tags: Sequence[str] = (),
                     where: Sequence[tuple[str, str]] = ()) -> tuple[Campaign, int]:
    """Close the campaign of this issue and audience for good; (the campaign, how many were left unsent).

    The lists need not exist any more: any campaign `digest status` shows can be closed.
    """
    number = issue_number(folder)
    campaign, audience = find_campaign(ctx, number, lists, tags=tags, where=where)
    if campaign is None:
        raise ConfigError(f"no campaign of issue {number} for {audience.describe()} to abandon")
    ctx.store.cancel_schedule(campaign.id)  # a sender waiting for it stops; status no longer lists it
    return campaign, ctx.store.close_campaign(campaign.id)


def issue_number(folder: Path) -> int:
    """The number of a built issue folder (or of `issues/<n>/`, built or not)."""
    if folder.name.isdigit() and not (folder / "issue.json").is_file():
        return int(folder.name)
    issue, _ = load_issue(folder)
    return issue.number


async def _wait_for_campaign(ctx: Context, issue: int, audience: Audience, options: SendOptions,
                             stop: asyncio.Event, listener: SendListener) -> Campaign:
    """A worker joins a campaign another sender starts; it waits up to one lease for it to appear."""
    waited = 0.0
    while True:
        campaign = await asyncio.to_thread(ctx.store.find_campaign, issue, audience.key)
        if campaign is not None:
            return campaign
        if waited == 0:
            listener.on_notice(f"Waiting up to {options.lease:.0f} s for a digest send of issue {issue} to "
                               f"{audience.describe()} to start the campaign…")
        if waited >= options.lease or stop.is_set():
            raise DeliveryError(f"no campaign of issue {issue} for {audience.describe()} has been started; "
                                "run digest send without --worker first (on any host)")
        await asyncio.sleep(options.poll)
        waited += options.poll
