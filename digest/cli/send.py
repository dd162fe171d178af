"""`digest send` and `digest status`: thin shells over `digest.pipeline` and the store."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from digest import aio
from digest.cli.output import print_rich, printable, say, stdout_closed, warn
from digest.context import Context
from digest.deliver.sender import SendOptions, SendReport
from digest.errors import ConfigError
from digest.issue_folder import latest_issue, load_issue
from digest.store import CampaignStatus
from digest.subscribers import RowProblem

__all__ = ["send", "status"]


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
        self.tty = sys.stdout.isatty()
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
              help="A subscriber list (CSV); repeat for several. A person on two lists gets one message.")
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
@click.pass_obj
def send(ctx: Context, issue_dir: Path | None, lists: tuple[Path, ...], tags: tuple[str, ...],
         where: tuple[str, ...], concurrency: int, rate: float | None, max_attempts: int, retry_failed: bool,
         retry_unknown: bool, limit: int | None, lease: float, worker: bool, dry_run: bool,
         test_to: str | None) -> None:
    """Send the issue (default: the latest built) to the lists; safe to stop, rerun, or run twice at once.

    A second `digest send` on the same issue and lists joins the first as another
    worker: both claim recipients from the journal, nobody gets two copies.
    """
    folder = issue_dir or latest_issue(ctx.workspace.issues)
    load_issue(folder)  # a clear error before anything else
    if test_to:
        from digest.deliver.testsend import send_one

        say(printable(aio.run(send_one(ctx, folder, test_to)).capitalize()))
        return
    if not lists:
        raise ConfigError("give at least one --list FILE (or --test-to ADDRESS)")
    if dry_run:
        _dry_run(ctx, folder, lists, tags, _where(where))
        return

    def problem(p: RowProblem) -> None:
        """Report a left-out row as it is read."""
        warn(f"left out {p}")

    options = SendOptions(concurrency=concurrency, rate=rate, max_attempts=max_attempts, retry_failed=retry_failed,
                          retry_unknown=retry_unknown, limit=limit, lease=lease, worker=worker)
    progress = _Progress()

    async def run() -> SendReport:
        """The send: a first Ctrl-C (or SIGTERM) stops cleanly, a second one stops at once."""
        from digest.pipeline import send_to_lists

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def interrupt() -> None:
            if stop.is_set() and task is not None:
                task.cancel()  # in-flight messages stay pending in the journal: sent again on resume
            else:
                say("\nStopping: finishing the messages in flight (Ctrl-C again to stop now)", err=True)
                stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, interrupt)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread (tests) or not supported here
        try:
            return await send_to_lists(ctx, folder, list(lists), options=options, on_problem=problem, tags=tags,
                                       where=_where(where), stop=stop, on_progress=progress.update,
                                       on_start=progress.start)
        finally:
            progress.stop()

    try:
        report = aio.run(run())
    except asyncio.CancelledError:
        say("Stopped at once. The journal is intact: run the same command again to send the rest.", err=True)
        sys.exit(3)
    _summary(report)
    audience = report.audience
    if audience is not None and audience.error is not None:
        # The list could not be read to the end: what was journaled stays with this campaign.
        raise audience.error
    if report.interrupted:
        say("Stopped. Nothing is lost: run the same command again to send the rest.")
    if report.status is not None and (report.status.remaining or report.counts.get("failed")
                                      or not report.status.campaign.complete):
        sys.exit(3)


def _dry_run(ctx: Context, folder: Path, lists: tuple[Path, ...], tags: tuple[str, ...],
             where: list[tuple[str, str]]) -> None:
    from digest.deliver.dryrun import dry_run

    for path in lists:
        if not path.is_file():
            raise ConfigError("no such list file", path=str(path))
    _, rendered = load_issue(folder)
    skeleton = ctx.skeleton(rendered, list_name="+".join(p.stem for p in lists))
    report = dry_run(ctx.store, skeleton, rendered.number, list(lists), tags=tags, where=where,
                     on_problem=lambda p: warn(f"left out {p}"),
                     on_bad_message=lambda s, why: warn(f"{s.origin}:{s.line}: {s.email}: {why}"))
    say(f"Dry run: {report.would_send} message(s) would be sent ({report.average_bytes} bytes on average, "
        f"{report.bad} with problems); left out: {report.already_sent} already sent this issue, "
        f"{report.suppressed} suppressed, {report.duplicates} duplicate(s). Nothing sent.")
    if report.bad:
        raise SystemExit(3)


def _summary(report: SendReport) -> None:
    from rich.table import Table

    table = Table("", "this run", "campaign total", title="Send summary")
    for state in ("sent", "deferred", "failed", "unknown"):
        table.add_row(state, str(getattr(report, state)), str(report.counts.get(state, 0)))
    table.add_row("pending", "", str(report.counts.get("pending", 0)))
    if report.status is not None:
        if report.status.suppressed:
            table.add_row("suppressed since", "", str(report.status.suppressed))
        if report.status.sent_elsewhere:
            table.add_row("sent by another campaign", "", str(report.status.sent_elsewhere))
    table.add_row("msg/s", f"{report.rate:.1f}", "")
    print_rich(table)
    if report.status is not None and not report.status.campaign.complete:
        say("The lists were not read to the end: run the same command again to journal and send the rest.")


@click.command()
@click.argument("issue", required=False, type=int)
@click.option("--check", is_flag=True, help="Exit 3 when some recipient is not sent (failed, deferred, unknown "
                                            "or pending), for scripts.")
@click.pass_obj
def status(ctx: Context, issue: int | None, check: bool) -> None:
    """Show each campaign of an issue: counts by status, senders at work, every recipient not sent and why."""
    number = issue if issue is not None else int(latest_issue(ctx.workspace.issues).name)
    campaigns = ctx.store.campaigns_of(number)
    if not campaigns:
        say(f"Issue {number}: not sent to any list yet")
        if check:
            sys.exit(3)
        return
    incomplete = False
    for campaign in campaigns:
        state = ctx.store.campaign_status(campaign, now=time.time())
        _print_campaign(state)
        for failure in ctx.store.failures(campaign.id):
            say(f"  {failure.status:8} {printable(failure.email)}: {failure.code or '—'} {printable(failure.reply)}")
        incomplete = incomplete or bool(state.remaining or state.counts.get("failed") or not campaign.complete)
    if check and incomplete:
        sys.exit(3)


def _print_campaign(state: CampaignStatus) -> None:
    c = state.campaign
    counts = ", ".join(f"{k} {v}" for k, v in state.counts.items())
    say(f"Issue {c.issue} → {printable(c.audience)}: {counts}")
    extra = []
    if state.sent_elsewhere:
        extra.append(f"{state.sent_elsewhere} of the sent went out through another campaign")
    if state.suppressed:
        extra.append(f"{state.suppressed} suppressed since journaled")
    if state.in_flight:
        extra.append(f"{state.in_flight} in flight")
    if state.workers:
        extra.append(f"{state.workers} sender(s) at work")
    if not c.complete:
        extra.append("lists not read to the end yet")
    if extra:
        say("  " + "; ".join(extra))
    if state.runs:
        rate = state.run_sent / state.run_seconds if state.run_seconds else 0.0
        say(f"  {state.runs} run(s), {state.run_sent} sent in {state.run_seconds:.1f} s ({rate:.0f} msg/s)")
