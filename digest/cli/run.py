"""`digest run`: one command for cron and systemd timers: fetch, build, send the issue if it is new."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.app.context import Context
from digest.app.run import RunLease
from digest.app.schedule import SendTime, describe_wait, duration, parse_send_time, waiter_alive
from digest.cli.build import as_date, date_option, period_from, report_build, report_fetch, split_sources
from digest.cli.output import printable, say, warn
from digest.cli.send import _where, deliver, warn_stale_plan
from digest.core.errors import DeliveryError, IssueError, NothingNewError
from digest.curate import CurateOptions
from digest.deliver.sender import SendOptions
from digest.store import Audience
from digest.store.schedules import Schedule

if TYPE_CHECKING:
    from digest.app.build import BuildResult

__all__ = ["run"]


@click.command("run")
@click.argument("sources", nargs=-1)
@click.option("--list", "lists", multiple=True, required=True, type=click.Path(path_type=Path),
              help="A subscriber list: a CSV file, or a NAME (subscribers/NAME.csv and the confirmed signups of NAME); "
                   "repeat for several.")
@click.option("--tag", "tags", multiple=True, help="Only subscribers with this tag (repeatable: any of them).")
@click.option("--where", "where", multiple=True, help="Only subscribers whose attribute KEY equals VALUE.")
@click.option("--at", "at", metavar='"YYYY-MM-DD HH:MM" | HH:MM | "Fri HH:MM"',
              help="Send at this local time of [newsletter] timezone (HH:MM: today; \"Fri HH:MM\": today, which "
                   "must be a Friday); build now, wait until then.")
@click.option("--week", help="A new issue holds only articles of this ISO week, e.g. 2026-W48 (default: what is new "
                             "since the last issue sent).")
@click.option("--since", type=date_option, help="A new issue holds only articles published on or after this date.")
@click.option("--until", type=date_option, help="A new issue holds only articles published on or before this date.")
@click.option("--resume", is_flag=True,
              help="Only pick up a send already scheduled or begun for the lists (at boot, after a reboot); "
                   "build nothing new.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64),
              help="SMTP connections used at once.")
@click.option("--rate", type=click.FloatRange(0.1, None), help="At most this many messages per second.")
@click.option("--max-attempts", default=5, show_default=True, type=click.IntRange(1, 50),
              help="Tries per recipient in this run for temporary (4xx) failures.")
@click.pass_obj
def run(ctx: Context, sources: tuple[str, ...], lists: tuple[Path, ...], tags: tuple[str, ...],
        where: tuple[str, ...], at: str | None, week: str | None, since: object, until: object, resume: bool,
        concurrency: int, rate: float | None, max_attempts: int) -> None:
    """Fetch, build and send the issue to the lists if it is new: safe to run from cron as often as you like.

    SOURCES as for `digest build` (default: pages/ and the [[sources]] of digest.toml, fetched first).

    The issue sent is the latest one, rendered from its plan, until it has gone to
    these lists; only then does a run build a new issue by the rules. A send
    scheduled by an earlier run that was stopped (a reboot) is picked up first.
    Run twice, the second sends nothing; run twice at once (here or on another host
    sharing the database), the second exits at once saying another is at work.
    A new issue holds only what is new since the last issue sent (as `digest build`);
    when nothing is new, a run builds and sends nothing and says so.
    Exit status: 0 when sent, nothing new, nothing to do, or another run is at work; 3 when
    the send is incomplete or needs you (a missed or cancelled schedule); 2 for bad input.
    """
    from digest.app.audiences import audience_for, resolve_lists
    from digest.app.run import AnotherRunAtWork, RunLockLost, run_lock, run_lock_name

    pairs = _where(where)
    paths = resolve_lists(ctx, lists)  # names and paths as `digest send` reads them
    audience = audience_for(ctx, paths, tags=tags, where=pairs)
    when = parse_send_time(at, ctx.settings.newsletter.timezone, shift_gap=True) if at else None
    if when is not None and when.note:
        warn(when.note)
    options = SendOptions(concurrency=concurrency, rate=rate, max_attempts=max_attempts)
    start, end = period_from(week, as_date(since), as_date(until))
    period = CurateOptions(since=start, until=end)
    try:
        with run_lock(ctx, run_lock_name(audience)) as lease:
            _work(_Run(ctx, lease, paths, tags, pairs, options), sources, when=when, resume=resume, period=period)
    except AnotherRunAtWork as busy:
        say(f"Another digest run for {printable(audience.describe())} is at work ({printable(busy.describe())}); "
            "this one exits.", err=True)
    except RunLockLost as lost:
        say(f"This digest run was paused longer than its lease and another run took over "
            f"({printable(lost.describe())}); this one stops.", err=True)


@dataclass
class _Run:
    """A run holding its lock: the workspace, the lease, the audience as given, how to send."""

    ctx: Context
    lease: RunLease
    paths: list[Path]
    tags: tuple[str, ...]
    pairs: list[tuple[str, str]]
    options: SendOptions

    def send(self, folder: Path, *, at: SendTime | None = None) -> None:
        """Send the issue folder to the audience (waiting for `at`); stop if another run took the lock."""
        deliver(self.ctx, folder, self.paths, options=self.options, tags=self.tags, where=self.pairs, at=at,
                halt=self.lease.lost)
        self.lease.check()  # stopped because another run took over: it says so and exits 0


def _work(run: _Run, sources: tuple[str, ...], *, when: SendTime | None, resume: bool, period: CurateOptions) -> None:
    """What a run does once it holds the lock (see digest.app.run for which issue it sends)."""
    from digest.app.audiences import audience_for
    from digest.app.build import build_issue
    from digest.app.run import fetch_configured_sources, issue_to_render, pending_schedule

    ctx, lease = run.ctx, run.lease
    audience = audience_for(ctx, run.paths, tags=run.tags, where=run.pairs)
    who = printable(audience.describe())
    pending = pending_schedule(ctx, audience)
    if pending is not None:
        _take_over(run, pending, audience, when)
        return
    if resume:
        _resume(ctx, lease, run.paths, run.tags, run.pairs, run.options)
        return
    planned = issue_to_render(ctx, audience)
    if planned is not None and (period.since or period.until):
        warn(f"--since/--until/--week ignored: issue {planned.name} has not gone to {who} yet and is sent from its "
             f"plan ({printable(planned / 'plan.toml')})")
    behind = _stragglers_of_latest(ctx, audience) if planned is None else None
    web_paths, web = split_sources(ctx, sources)
    if web:
        lease.doing("fetching")
    fetched = fetch_configured_sources(ctx, web)
    lease.doing("building")
    # The latest issue went to these lists (or was abandoned for them): new content is a new issue.
    day = when.local_day if when is not None else None
    try:
        result = build_issue(ctx, web_paths, fetched=fetched, plan_folder=planned, new_issue=planned is None,
                             options=period, issue_day=day)
    except NothingNewError as nothing:
        late = issue_to_render(ctx, audience) if planned is None else None
        if late is not None:
            # Another run (for other lists) made a new issue after this one looked: it goes to these lists too.
            say(f"Issue {late.name} was made by another run meanwhile and has not gone to {who}: sending it.")
            result = build_issue(ctx, web_paths, fetched=fetched, plan_folder=late, options=period, issue_day=day)
            _send_built(run, result, audience, when=when, behind=None)
            return
        if behind is not None:  # "run again to finish" holds: the deferred of the latest are tried again
            say(f"Nothing new; issue {behind[0]} went to {who}, {behind[1]} recipient(s) still deferred or unknown: "
                "trying the deferred again.")
            lease.doing(f"finishing the send of issue {behind[0]}")
            run.send(ctx.workspace.issues / str(behind[0]))
            return
        say(f"{printable(nothing.message).capitalize()}; nothing sent to {who}.")
        return
    _send_built(run, result, audience, when=when, behind=behind)


def _send_built(run: _Run, result: BuildResult, audience: Audience, *, when: SendTime | None,
                behind: tuple[int, int] | None) -> None:
    """Report the build, then send its issue to the audience unless it went there already."""
    from digest.app.run import campaign_done

    ctx, lease = run.ctx, run.lease
    who = printable(audience.describe())
    report_fetch(result)
    report_build(result)
    number = result.issue.number
    done = campaign_done(ctx, number, audience)
    if done == "sent" and behind is not None and behind[0] == number:
        # No new issue: "run again to finish" holds, the deferred are tried again (at once, --at or not).
        say(f"Issue {number} went to {who}; {behind[1]} recipient(s) still deferred or unknown: trying the "
            "deferred again.")
        lease.doing(f"finishing the send of issue {number}")
        run.send(result.folder)
        return
    if behind is not None:
        lists = " ".join(f"--list {name}" for name in audience.lists)
        warn(f"issue {behind[0]}: {behind[1]} recipient(s) of {who} still deferred or "
             f"unknown after its send; this run goes on to issue {number} (digest status {behind[0]} lists them; "
             f"digest send issues/{behind[0]} {printable(lists)} tries the deferred again, with --retry-unknown "
             "the unknown too)")
    if done is not None:
        say(f"Issue {number} was already sent to {who}; nothing to do." if done == "sent" else
            f"The campaign of issue {number} to {who} was abandoned; nothing to do.")
        return
    lease.doing(f"waiting to send issue {number} at {when.describe()}" if when else f"sending issue {number}")
    run.send(result.folder, at=when)


def _take_over(run: _Run, pending: Schedule, audience: Audience, when: SendTime | None) -> None:
    """A send scheduled by an earlier run or send: waited for by it, taken over, or too late to send alone."""
    from digest.app.run import MAX_LATE

    now = time.time()
    who = printable(audience.describe())
    folder = run.ctx.workspace.issues / str(pending.issue)
    if waiter_alive(pending, now):
        say(f"Issue {pending.issue} to {who} is scheduled for {describe_wait(pending, now=now)} and a sender "
            "is waiting for it; nothing to do.")
        return
    if now - pending.send_at > MAX_LATE:
        lists = " ".join(f"--list {name}" for name in audience.lists)
        raise DeliveryError(
            f"issue {pending.issue} was to go to {audience.describe()} at {pending.local_time} "
            f"{pending.timezone} and never went (no sender was waiting then: a reboot?); it is "
            f"{duration(now - pending.send_at)} late, so digest run does not send it by itself: send it now "
            f"(digest send {folder} {lists}) or skip it (digest send {folder} {lists} --abandon); "
            "then digest run goes on")
    say(f"Issue {pending.issue} to {who} was scheduled for {describe_wait(pending, now=now)} by an earlier "
        "run or send that nobody waits for now: this run takes it over.")
    if when is not None and abs(when.at - pending.send_at) > 60:
        warn(f"--at {when.describe()} ignored: the recorded time holds (digest send {folder} --at … moves it)")
    run.lease.doing(f"waiting to send issue {pending.issue} at {pending.local_time} {pending.timezone}")
    warn_stale_plan(folder)
    run.send(folder)


def _stragglers_of_latest(ctx: Context, audience: Audience) -> tuple[int, int] | None:
    """(issue, how many) when the latest issue went to the audience but left recipients deferred or unknown."""
    from digest.app.issue_folder import latest_issue
    from digest.app.run import stragglers

    try:
        folder = latest_issue(ctx.workspace.issues)
    except IssueError:
        return None
    number = int(folder.name)
    left = stragglers(ctx, number, audience)
    return (number, left) if left else None


def _resume(ctx: Context, lease: RunLease, paths: list[Path], tags: tuple[str, ...], pairs: list[tuple[str, str]],
            options: SendOptions) -> None:
    """--resume: finish the latest issue's send to the audience when it has begun; never build."""
    from digest.app.audiences import audience_for
    from digest.app.run import campaign_done

    audience = audience_for(ctx, paths, tags=tags, where=pairs)
    numbered = [p for p in ctx.workspace.issues.glob("*") if p.is_dir() and p.name.isdigit()]
    folder = max(numbered, key=lambda p: int(p.name)) if numbered else None
    campaign = ctx.store.find_campaign(int(folder.name), audience.key) if folder is not None else None
    if folder is None or campaign is None or campaign_done(ctx, campaign.issue, audience) is not None or \
            not (campaign.complete or ctx.store.campaign_status(campaign, now=time.time()).total):
        say(f"Nothing scheduled or begun for {printable(audience.describe())}; nothing to do "
            "(--resume builds nothing).")
        return
    lease.doing(f"finishing the send of issue {campaign.issue}")
    deliver(ctx, folder, paths, options=options, tags=tags, where=pairs, halt=lease.lost)
    lease.check()  # stopped because another run took over: it says so and exits 0
