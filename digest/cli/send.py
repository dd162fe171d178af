"""`digest send` and `digest status`."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from digest import aio
from digest.cli import warn
from digest.config import Workspace
from digest.deliver.campaign import send_to_lists
from digest.deliver.journal import Journal
from digest.deliver.sender import SendOptions, SendReport
from digest.errors import ConfigError, DeliveryError
from digest.pipeline import load_issue
from digest.state import State
from digest.subscribers import RowProblem

__all__ = ["send", "status", "latest_issue"]


def latest_issue(workspace: Workspace) -> Path:
    """The highest-numbered folder under issues/."""
    numbered = [p for p in workspace.issues.glob("*") if p.is_dir() and p.name.isdigit()]
    if not numbered:
        raise DeliveryError("no built issue in issues/; run digest build first")
    return max(numbered, key=lambda p: int(p.name))


def _where(values: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        key, sep, wanted = value.partition("=")
        if not sep or not key:
            raise ConfigError(f"--where {value!r}: expected KEY=VALUE")
        pairs.append((key.strip(), wanted))
    return pairs


class _Progress:
    """A rich progress bar on a terminal, a plain line every few seconds otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.total = 0
        self.last = 0.0
        self.bar: Any = None
        self.task: Any = None

    def start(self, target: str, counts: dict[str, int]) -> None:
        """Say where we send and how many are left; start the bar on a terminal."""
        self.total = sum(counts.values()) - counts["sent"]
        click.echo(f"Sending to {self.total} recipient(s) via {target} "
                   f"({counts['sent']} already sent for this issue)")
        if self.tty and self.total:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.completed}/{task.total}"), TimeRemainingColumn())
            self.task = self.bar.add_task("sending", total=self.total)
            self.bar.start()

    def update(self, report: SendReport) -> None:
        """Show progress: the bar, or a plain line every few seconds."""
        done = report.sent + report.failed
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=done, description=(
                f"sent {report.sent} · deferred {report.deferred} · failed {report.failed} · "
                f"{report.rate:.0f} msg/s"))
        elif time.monotonic() - self.last >= 5:
            self.last = time.monotonic()
            click.echo(f"  {done}/{self.total} done: sent {report.sent}, deferred {report.deferred}, "
                       f"failed {report.failed}, {report.rate:.0f} msg/s")

    def stop(self) -> None:
        """Close the bar."""
        if self.bar is not None:
            self.bar.stop()


@click.command()
@click.argument("issue_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--list", "lists", multiple=True, type=click.Path(path_type=Path),
              help="A subscriber list (CSV); repeat for several. A person on two lists gets one message.")
@click.option("--tag", "tags", multiple=True, help="Only subscribers with this tag (repeatable: any of them).")
@click.option("--where", "where", multiple=True, help="Only subscribers whose attribute KEY equals VALUE.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64),
              help="SMTP connections used at once.")
@click.option("--rate", type=click.FloatRange(0.1, None), help="At most this many messages per second.")
@click.option("--max-attempts", default=5, show_default=True, type=click.IntRange(1, 50),
              help="Tries per recipient in this run for temporary (4xx) failures.")
@click.option("--retry-failed", is_flag=True, help="Also try again recipients that failed permanently.")
@click.option("--limit", type=click.IntRange(1, None), help="Send at most this many messages in this run.")
@click.option("--dry-run", is_flag=True, help="Compose and check every message; send nothing.")
@click.option("--test-to", help="Send one message of the issue to this address, outside the journal.")
@click.pass_obj
def send(workspace: Workspace, issue_dir: Path | None, lists: tuple[Path, ...], tags: tuple[str, ...],
         where: tuple[str, ...], concurrency: int, rate: float | None, max_attempts: int,
         retry_failed: bool, limit: int | None, dry_run: bool, test_to: str | None) -> None:
    """Send the issue (default: the latest built) to the lists; safe to stop and run again."""
    folder = issue_dir or latest_issue(workspace)
    load_issue(folder)  # a clear error before anything else
    if test_to or dry_run:
        from digest.cli.sendtest import dry_run_lists, send_test

        if test_to:
            send_test(workspace, folder, test_to)
        else:
            dry_run_lists(workspace, folder, list(lists), tags, _where(where))
        return
    if not lists:
        raise ConfigError("give at least one --list FILE (or --test-to ADDRESS)")
    problems: list[RowProblem] = []

    def problem(p: RowProblem) -> None:
        """Report a left-out row as it is read."""
        problems.append(p)
        warn(f"left out {p}")

    options = SendOptions(concurrency=concurrency, rate=rate, max_attempts=max_attempts,
                          retry_failed=retry_failed, limit=limit)
    progress = _Progress()

    async def run() -> SendReport:
        """The send: a first Ctrl-C (or SIGTERM) stops cleanly, a second one stops at once."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def interrupt() -> None:
            if stop.is_set() and task is not None:
                task.cancel()  # in-flight messages stay pending in the journal: sent again on resume
            else:
                click.echo("\nStopping: finishing the messages in flight (Ctrl-C again to stop now)", err=True)
                stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, interrupt)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread (tests) or not supported here
        try:
            return await send_to_lists(workspace, folder, list(lists), options=options, on_problem=problem,
                                       tags=tags, where=_where(where), stop=stop,
                                       on_progress=progress.update, on_start=progress.start)
        finally:
            progress.stop()

    try:
        report = aio.run(run())
    except asyncio.CancelledError:
        click.echo("Stopped at once. The journal is intact: run the same command again to send the rest.",
                   err=True)
        sys.exit(3)
    _summary(report)
    if report.interrupted:
        click.echo("Stopped. Nothing is lost: run the same command again to send the rest.")
    counts = report.counts
    if counts.get("failed") or counts.get("deferred") or counts.get("pending"):
        sys.exit(3)


def _summary(report: SendReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("", "this run", "issue total", title="Send summary")
    for status in ("sent", "deferred", "failed"):
        table.add_row(status, str(getattr(report, status)), str(report.counts.get(status, 0)))
    table.add_row("pending", "", str(report.counts.get("pending", 0)))
    table.add_row("msg/s", f"{report.rate:.1f}", "")
    Console().print(table)


@click.command()
@click.argument("issue", required=False, type=int)
@click.pass_obj
def status(workspace: Workspace, issue: int | None) -> None:
    """Show counts by status, send rate and every failed recipient of an issue."""
    number = issue if issue is not None else int(latest_issue(workspace).name)
    with State(workspace.database) as state:
        journal = Journal(state, number)
        counts = journal.counts()
        click.echo(f"Issue {number}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        runs = state.db.execute(
            "SELECT COUNT(*), SUM(sent), SUM(seconds) FROM runs WHERE issue = ?", (number,)).fetchone()
        if runs and runs[0]:
            rate = (runs[1] or 0) / runs[2] if runs[2] else 0.0
            click.echo(f"  {runs[0]} run(s), {runs[1] or 0} sent in {runs[2] or 0:.1f} s ({rate:.0f} msg/s)")
        for email, code, reply in journal.failures():
            click.echo(f"  {email}: {code or '—'} {reply or ''}")
