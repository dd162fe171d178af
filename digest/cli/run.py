"""`digest run`: one command for cron and systemd timers: fetch, build, send the issue if it is new."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.build import report_build, report_fetch, split_sources
from digest.cli.output import printable, say
from digest.cli.send import _where, deliver
from digest.context import Context
from digest.deliver.sender import SendOptions
from digest.pipeline import audience_for, build_issue, resolve_lists
from digest.runner import AnotherRunAtWork, already_sent, fetch_configured_sources, run_lock, run_lock_name
from digest.scheduling import parse_send_time

__all__ = ["run"]


@click.command("run")
@click.argument("sources", nargs=-1)
@click.option("--list", "lists", multiple=True, required=True, type=click.Path(path_type=Path),
              help="A subscriber list (CSV); repeat for several.")
@click.option("--tag", "tags", multiple=True, help="Only subscribers with this tag (repeatable: any of them).")
@click.option("--where", "where", multiple=True, help="Only subscribers whose attribute KEY equals VALUE.")
@click.option("--at", "at", metavar='"YYYY-MM-DD HH:MM" | HH:MM',
              help="Send at this local time of [newsletter] timezone (HH:MM: today); build now, wait until then.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64),
              help="SMTP connections used at once.")
@click.option("--rate", type=click.FloatRange(0.1, None), help="At most this many messages per second.")
@click.option("--max-attempts", default=5, show_default=True, type=click.IntRange(1, 50),
              help="Tries per recipient in this run for temporary (4xx) failures.")
@click.pass_obj
def run(ctx: Context, sources: tuple[str, ...], lists: tuple[Path, ...], tags: tuple[str, ...],
        where: tuple[str, ...], at: str | None, concurrency: int, rate: float | None, max_attempts: int) -> None:
    """Fetch, build and send the issue to the lists if it is new: safe to run from cron as often as you like.

    SOURCES as for `digest build` (default: pages/ and the [[sources]] of digest.toml, fetched first).

    Run twice, the second sends nothing; run twice at once (here or on another host
    sharing the database), the second exits at once saying another is at work.
    Exit status: 0 when sent or nothing to do, 3 when the send is incomplete, 2 for bad input.
    """
    when = parse_send_time(at, ctx.settings.newsletter.timezone) if at else None
    pairs = _where(where)
    lists = tuple(resolve_lists(ctx, lists))  # as send does: a NAME, or a path from here or the workspace
    audience = audience_for(ctx, list(lists), tags=tags, where=pairs)
    try:
        with run_lock(ctx, run_lock_name(audience)) as lease:
            paths, web = split_sources(ctx, sources)
            if web:
                lease.doing("fetching")
            fetched = fetch_configured_sources(ctx, web)
            lease.doing("building")
            result = build_issue(ctx, paths, fetched=fetched)
            report_fetch(result)
            report_build(result)
            number = result.issue.number
            if already_sent(ctx, number, audience):
                say(f"Issue {number} was already sent to {printable(audience.describe())}; nothing to do.")
                return
            lease.doing(f"waiting to send issue {number} at {when.describe()}" if when else f"sending issue {number}")
            options = SendOptions(concurrency=concurrency, rate=rate, max_attempts=max_attempts)
            deliver(ctx, result.folder, list(lists), options=options, tags=tags, where=pairs, at=when)
    except AnotherRunAtWork as busy:
        say(f"Another digest run for {printable(audience.describe())} is at work ({printable(busy.describe())}); "
            "this one exits.", err=True)
