"""`digest send`: options parsed, the send handed to `digest.app.send`, what happens printed."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from digest.app import send as sending
from digest.app.context import Context
from digest.app.issue_folder import latest_issue, load_issue, plan_edited_since_build
from digest.app.schedule import SendTime, describe_wait, parse_send_time
from digest.app.send import ScheduledSend, SendListener, SendRequest, dry_run_send, send_request
from digest.cli.output import print_rich, printable, say, stdout_closed, warn
from digest.core import aio
from digest.core.errors import ConfigError, DeliveryError
from digest.deliver.sender import SendOptions, SendReport
from digest.store import CampaignStatus
from digest.store.schedules import Schedule
from digest.subscribers import RowProblem

__all__ = ["send", "deliver", "deliver_request", "warn_stale_plan"]


def _where(values: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        key, sep, wanted = value.partition("=")
        if not sep or not key:
            raise ConfigError(f"--where {value!r}: expected KEY=VALUE")
        pairs.append((key.strip(), wanted))
    return pairs


class _Progress:
    """A rich progress bar on a terminal, a plain line every few seconds otherwise; never fails on a closed pipe."""

    def __init__(self) -> None:
        self.tty = sys.stdout is not None and sys.stdout.isatty()  # None: started with stdout closed
        self.last = time.monotonic()
        self.bar: Any = None
        self.task: Any = None

    def start(self, target: str, status: CampaignStatus) -> None:
        """Say what goes where; start the bar on a terminal."""
        campaign = status.campaign
        done = status.counts.get("sent", 0)
        say(f"Sending issue {campaign.issue} to {printable(campaign.audience)} via {printable(target)}"
            + (f" ({done} already sent)" if done else ""))
        if self.tty and not stdout_closed():
            from rich.progress import BarColumn, Progress, TextColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}"))
            self.task = self.bar.add_task("sending", total=None)
            try:
                self.bar.start()
            except OSError:
                self.bar = None

    def update(self, report: SendReport) -> None:
        """Show progress: the bar, or a plain line every few seconds."""
        text = (f"sent {report.sent} · deferred {report.deferred} · failed {report.failed} · "
                f"unknown {report.unknown} · {report.rate:.0f} msg/s")
        if report.workers > 1:
            text += f" · campaign: {report.campaign_sent} sent by {report.workers} senders"
        if self.bar is not None:
            try:
                self.bar.update(self.task, completed=report.sent + report.failed, description=text)
            except OSError:
                self.bar = None
        elif time.monotonic() - self.last >= 5:
            self.last = time.monotonic()
            say(f"  {text}")

    def stop(self) -> None:
        """Close the bar."""
        if self.bar is not None:
            try:
                self.bar.stop()
            except OSError:
                pass


@click.command()
@click.argument("issue_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--list", "lists", multiple=True, type=click.Path(path_type=Path),
              help="A subscriber list: a CSV file, or a NAME (subscribers/NAME.csv and the confirmed signups of NAME); "
                   "repeat for several. A person on two lists gets one message.")
@click.option("--tag", "tags", multiple=True, help="Only subscribers with this tag (repeatable: any of them).")
@click.option("--where", "where", multiple=True, help="Only subscribers whose attribute KEY equals VALUE.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64),
              help="SMTP connections used at once.")
@click.option("--rate", type=click.FloatRange(0.1, None), help="At most this many messages per second (this process).")
@click.option("--max-attempts", default=5, show_default=True, type=click.IntRange(1, 50),
              help="Tries per recipient in this run for temporary (4xx) failures.")
@click.option("--retry-failed", is_flag=True, help="Also try again recipients that failed permanently.")
@click.option("--retry-unknown", is_flag=True,
              help="Also send again to recipients whose outcome is unknown (they may get a second copy).")
@click.option("--limit", type=click.IntRange(1, None), help="Send at most this many messages in this run.")
@click.option("--lease", default=60.0, show_default=True, type=click.FloatRange(5, 3600),
              help="Seconds a claimed recipient stays this sender's without renewal (renewed while working).")
@click.option("--worker", is_flag=True,
              help="Join a campaign another `digest send` started (any host on the same database); "
                   "never read the lists.")
@click.option("--dry-run", is_flag=True, help="Compose and check every message a send would send now; send nothing.")
@click.option("--test-to", help="Send one message of the issue to this address, outside the journal.")
@click.option("--at", "at", metavar='"YYYY-MM-DD HH:MM"',
              help="Send at this local time of [newsletter] timezone; waits until then (Ctrl-C cancels).")
@click.option("--abandon", is_flag=True,
              help="Close the campaign of this issue and lists for good: nothing more is sent for it.")
@click.option("--cancel", is_flag=True,
              help="Cancel the scheduled send of this issue to the lists (a sender waiting for it stops).")
@click.pass_obj
def send(ctx: Context, issue_dir: Path | None, lists: tuple[Path, ...], tags: tuple[str, ...],
         where: tuple[str, ...], concurrency: int, rate: float | None, max_attempts: int, retry_failed: bool,
         retry_unknown: bool, limit: int | None, lease: float, worker: bool, dry_run: bool,
         test_to: str | None, at: str | None, abandon: bool, cancel: bool) -> None:
    """Send the issue (default: the latest built) to the lists; safe to stop, rerun, or run twice at once.

    A second `digest send` on the same issue and lists joins the first as another
    worker: both claim recipients from the journal, nobody gets two copies. With
    --at the send is scheduled in the store and waited for; run again, the same
    command waits for the recorded time.
    """
    folder = issue_dir or latest_issue(ctx.workspace.issues)
    if abandon or cancel:
        if at or dry_run or test_to:
            raise ConfigError(f"--{'abandon' if abandon else 'cancel'} sends nothing; it cannot be combined with "
                              "--at, --dry-run or --test-to")
        # Closing or unscheduling needs neither a complete folder nor the list files: only their names.
        _close(ctx, folder, lists, tags, _where(where), abandon=abandon, cancel=cancel)
        return
    load_issue(folder)  # a clear error before anything else
    warn_stale_plan(folder)
    if at and (test_to or dry_run):
        raise ConfigError("--at schedules a send; it cannot be combined with --test-to or --dry-run")
    if test_to:
        from digest.app.testsend import send_one

        say(printable(aio.run(send_one(ctx, folder, test_to)).capitalize()))
        return
    if not lists:
        raise ConfigError("give at least one --list FILE (or --test-to ADDRESS)")
    options = SendOptions(concurrency=concurrency, rate=rate, max_attempts=max_attempts, retry_failed=retry_failed,
                          retry_unknown=retry_unknown, limit=limit, lease=lease, worker=worker)
    when = parse_send_time(at, ctx.settings.newsletter.timezone) if at else None
    if when is not None and when.note:
        warn(when.note)
    if when is not None:
        from digest.app.build import date_for_send

        problem = date_for_send(ctx, folder, when.local_day)  # the issue is dated the day it goes out
        if problem:
            warn(problem)
    # The issue loaded and the lists resolved (and checked) once, before anything is recorded.
    request = send_request(ctx, folder, lists, options=options, tags=tags, where=_where(where))
    if dry_run:
        _dry_run(request)
        return
    deliver_request(replace(request, at=when))


async def _halted(halt: threading.Event, terminate: Callable[[], None]) -> None:
    """Stop the send (as SIGTERM does) once `halt` is set."""
    while not halt.is_set():
        await asyncio.sleep(0.25)
    say("\nAnother digest run took this one's lock over: stopping.", err=True)
    terminate()


def warn_stale_plan(folder: Path) -> None:
    """One line when plan.toml was edited after the last build: the send uses the build, not the edit."""
    if plan_edited_since_build(folder):
        warn(f"{printable(folder / 'plan.toml')} was edited after the last build: this sends the issue as built, "
             "without the edit (digest build first to send it)")


def _close(ctx: Context, folder: Path, lists: tuple[Path, ...], tags: tuple[str, ...], where: list[tuple[str, str]],
           *, abandon: bool, cancel: bool) -> None:
    """--abandon and --cancel: on the campaign of these lists, whether their files still exist or not."""
    from digest.app.schedule import cancel_scheduled
    from digest.app.send import abandon_campaign, issue_number

    if abandon and cancel:
        raise ConfigError("--abandon already cancels any schedule; give one of --abandon and --cancel")
    if not lists:
        raise ConfigError(f"give the --list (or lists) of the campaign to {'abandon' if abandon else 'cancel'}")
    if cancel:
        schedule = cancel_scheduled(ctx, issue_number(folder), lists, tags=tags, where=where)
        say(f"Cancelled: issue {schedule.issue} to {printable(schedule.audience)} is no longer scheduled for "
            f"{schedule.local_time} {schedule.timezone}; nothing was sent. digest run does not send it by itself; "
            "send it with digest send, or --abandon it to let digest run go on with the next issue.")
        return
    campaign, left = abandon_campaign(ctx, folder, lists, tags=tags, where=where)
    say(f"Abandoned the campaign of issue {campaign.issue} to {printable(campaign.audience)}: {left} "
        "recipient(s) left unsent; nothing more is sent for it.")


class _Printer(SendListener):
    """The send as the terminal sees it: a progress bar or lines, the schedule, the rows left out."""

    def __init__(self, *, waiting: bool) -> None:
        self.progress = _Progress()
        self.waiting = waiting  # from the start with --at: a Ctrl-C before the wait begins cancels too

    def on_start(self, where: str, status: CampaignStatus) -> None:
        self.progress.start(where, status)

    def on_progress(self, report: SendReport) -> None:
        self.progress.update(report)

    def on_problem(self, problem: RowProblem) -> None:
        warn(f"left out {problem}")

    def on_notice(self, text: str) -> None:
        say(text)

    def on_waiting(self, schedule: Schedule) -> None:
        self.waiting = True
        say(f"Scheduled: issue {schedule.issue} to {printable(schedule.audience)} for "
            f"{describe_wait(schedule, now=time.time())}. Waiting; Ctrl-C cancels the schedule.")

    def on_due(self, schedule: Schedule) -> None:
        self.waiting = False
        from datetime import datetime
        from zoneinfo import ZoneInfo

        now = datetime.now(ZoneInfo(schedule.timezone))
        late = f" (scheduled for {schedule.local_time})" if time.time() - schedule.send_at >= 60 else ""
        say(f"It is {now:%Y-%m-%d %H:%M} {schedule.timezone}{late}: sending.")


def _signals(printer: _Printer, stop: asyncio.Event, cancel: asyncio.Event) -> Callable[[], None]:
    """Ctrl-C and SIGTERM wired to the send; returns `terminate` (what SIGTERM does)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def interrupt() -> None:
        if printer.waiting:
            cancel.set()
        elif stop.is_set() and task is not None:
            task.cancel()  # in-flight messages stay pending in the journal: sent again on resume
        else:
            say("\nStopping: finishing the messages in flight (Ctrl-C again to stop now)", err=True)
            stop.set()

    def terminate() -> None:
        if printer.waiting or not stop.is_set():
            if not printer.waiting:
                say("\nStopping: finishing the messages in flight (SIGTERM)", err=True)
            stop.set()  # waiting: a reboot or `systemctl stop`; the schedule stays for the next start
        elif task is not None:
            task.cancel()

    # A closed terminal (SIGHUP) must not stop a send half-way: it goes on, its output dropped.
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for sig, handler in ((signal.SIGINT, interrupt), (signal.SIGTERM, terminate)):
        try:
            loop.add_signal_handler(sig, handler)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests) or not supported here
    return terminate


def deliver(ctx: Context, folder: Path, lists: list[Path], *, options: SendOptions, tags: tuple[str, ...] = (),
            where: list[tuple[str, str]] | None = None, at: SendTime | None = None,
            halt: threading.Event | None = None) -> None:
    """Send (at `at`, or at the time already scheduled, else now), print the summary, exit 3 when not done.

    While waiting, Ctrl-C cancels the schedule and SIGTERM stops waiting (the
    schedule stays). While sending, a first Ctrl-C (or SIGTERM) stops cleanly
    and a second one stops at once. `halt` (set from another thread: a run that
    lost its lock) stops like SIGTERM.
    """
    deliver_request(send_request(ctx, folder, lists, options=options, tags=tags, where=where or [], at=at), halt=halt)


def deliver_request(request: SendRequest, *, halt: threading.Event | None = None) -> None:
    """`deliver` for a request already made."""
    printer = _Printer(waiting=request.at is not None)

    async def run() -> ScheduledSend:
        stop, cancel = asyncio.Event(), asyncio.Event()
        terminate = _signals(printer, stop, cancel)
        watch = asyncio.ensure_future(_halted(halt, terminate)) if halt is not None else None
        try:
            return await sending.send(request, printer, stop=stop, cancel=cancel)
        finally:
            if watch is not None:
                watch.cancel()
            printer.progress.stop()

    try:
        outcome = aio.run(run())
    except asyncio.CancelledError:
        say("Stopped at once. The journal is intact: run the same command again to send the rest.", err=True)
        sys.exit(3)
    _ended(outcome, worker=request.options.worker, halted=halt is not None and halt.is_set())


def _ended(outcome: ScheduledSend, *, worker: bool, halted: bool) -> None:
    """Say how the send ended; exit 3 when it is not done (SystemExit), raise what stopped it."""
    schedule, report = outcome.schedule, outcome.report
    if report is None:  # cancelled or stopped while waiting: nothing was sent
        if halted and outcome.state != "cancelled":
            return  # a run that lost its lock: another run waits for the schedule now, and this one says so
        if schedule is not None and outcome.state == "cancelled":
            say(f"Cancelled: issue {schedule.issue} to {printable(schedule.audience)} is no longer scheduled; "
                "nothing was sent.")
        elif schedule is not None:
            say(f"Stopped waiting: issue {schedule.issue} to {printable(schedule.audience)} stays scheduled for "
                f"{schedule.local_time} {schedule.timezone}; run the same command to wait again.")
        sys.exit(3)
    audience = report.audience
    _summary(report, read_error=audience is not None and audience.error is not None, worker=worker)
    if audience is not None and audience.erased:
        say(f"{audience.erased} row(s) of the lists skipped: erased on request (not sent).")
    if audience is not None and audience.left:
        say(f"{audience.left} recipient(s) no longer on the lists were taken out of the campaign (not sent).")
    if audience is not None and audience.error is not None:
        # The list could not be read to the end: what was journaled stays with this campaign.
        raise audience.error
    if report.stopped:
        raise DeliveryError(report.stopped, retryable=False)
    if report.interrupted and halted:
        return  # a run that lost its lock mid-send: the run that took over sends the rest, and this one says so
    if report.interrupted:
        say("Stopped. Nothing is lost: run the same command again to send the rest.")
    if report.status is not None and (report.status.remaining or report.counts.get("failed")
                                      or not report.status.campaign.complete):
        sys.exit(3)


def _dry_run(request: SendRequest) -> None:
    """--dry-run: what a send would send now, and what it would leave out; nothing sent."""
    report = dry_run_send(request, _Printer(waiting=False),
                          on_bad_message=lambda s, why: warn(f"{s.origin}:{s.line}: {s.email}: {why}"))
    left_out = [f"{report.already_sent} already sent this issue", f"{report.suppressed} suppressed",
                f"{report.duplicates} duplicate(s)"]
    if report.failed_before:
        left_out.append(f"{report.failed_before} failed before (--retry-failed sends them)")
    if report.unknown_before:
        left_out.append(f"{report.unknown_before} with an unknown outcome (--retry-unknown sends them)")
    if report.over_limit:
        left_out.append(f"{report.over_limit} over --limit")
    if report.erased:
        left_out.append(f"{report.erased} erased on request")
    say(f"Dry run: {report.would_send} message(s) would be sent ({report.average_bytes} bytes on average, "
        f"{report.bad} with problems in those parsed back); left out: {', '.join(left_out)}. Nothing sent.")
    if report.bad:
        raise SystemExit(3)


def _summary(report: SendReport, *, read_error: bool = False, worker: bool = False) -> None:
    from rich.table import Table

    table = Table("", "outcomes this run", "campaign total", title="Send summary")
    for state in ("sent", "deferred", "failed", "unknown"):
        table.add_row(state, str(getattr(report, state)), str(report.counts.get(state, 0)))
    table.add_row("pending", "", str(report.counts.get("pending", 0)))
    if report.status is not None:
        if report.status.suppressed:
            table.add_row("of those, suppressed", "", str(report.status.suppressed))
        if report.status.sent_elsewhere:
            table.add_row("sent by another campaign", "", str(report.status.sent_elsewhere))
    table.add_row("msg/s", f"{report.rate:.1f}", "")
    print_rich(table)
    if report.status is None or report.status.campaign.complete or read_error:
        return
    if worker:
        say("The lists are not read to the end yet: the digest send that reads them goes on.")
    else:
        say("The lists were not read to the end: run the same command again to journal and send the rest.")
