"""`digest status`: every campaign of an issue, its senders at work, and every recipient not sent and why."""

from __future__ import annotations

import sys
import time

import click

from digest.app.context import Context
from digest.app.issue_folder import latest_issue
from digest.app.schedule import describe_wait, waiter_alive
from digest.cli.output import printable, say
from digest.core.errors import StateError
from digest.store import CampaignStatus
from digest.store.schedules import Schedule

__all__ = ["status"]


@click.command()
@click.argument("issue", required=False, type=int)
@click.option("--check", is_flag=True, help="Exit 3 when some recipient is not sent (failed, deferred, unknown "
                                            "or pending), for scripts.")
@click.pass_obj
def status(ctx: Context, issue: int | None, check: bool) -> None:
    """Show scheduled sends and each campaign of an issue: counts, senders at work, every recipient not sent, why."""
    number = issue if issue is not None else int(latest_issue(ctx.workspace.issues).name)
    now = time.time()
    for waiting in ctx.store.scheduled_campaigns():
        if waiting.issue != number:
            say(f"Issue {waiting.issue} → {printable(waiting.audience)}: {_scheduled(waiting, now)}")
    campaigns = ctx.store.campaigns_of(number)
    if not campaigns:
        say(f"Issue {number}: not sent to any list yet")
        if check:
            sys.exit(3)
        return
    incomplete = False
    for campaign in campaigns:
        _reap(ctx, campaign.id, now)
        state = ctx.store.campaign_status(campaign, now=time.time())
        schedule = ctx.store.schedule_of(campaign.id)
        if schedule is not None and schedule.state in ("scheduled", "cancelled") and not state.total and \
                not campaign.closed:
            what = (_scheduled(schedule, now) if schedule.state == "scheduled" else
                    f"the send scheduled for {schedule.local_time} {schedule.timezone} was cancelled; nothing sent")
            say(f"Issue {campaign.issue} → {printable(campaign.audience)}: {what}")
            incomplete = True
            continue
        _print_campaign(state)
        if schedule is not None and schedule.state == "scheduled":
            say(f"  {_scheduled(schedule, now)}")
        for failure in ctx.store.failures(campaign.id):
            say(f"  {failure.status:8} {printable(failure.email)}: {failure.code or '—'} {printable(failure.reply)}")
        if not campaign.closed:  # an abandoned campaign is done with, whatever it holds
            incomplete = incomplete or bool(state.remaining or state.counts.get("failed") or not campaign.complete)
    if check and incomplete:
        sys.exit(3)


def _scheduled(schedule: Schedule, now: float) -> str:
    """`scheduled for 2026-12-04 07:00 Europe/Oslo (in 2 h); a sender is waiting`."""
    who = ("a sender is waiting" if waiter_alive(schedule, now)
           else "no sender is waiting: run the same send again, or let `digest run` start it")
    return f"scheduled for {describe_wait(schedule, now=now)}; {who}"


def _reap(ctx: Context, campaign_id: int, now: float) -> None:
    """Senders of this host that died (kill -9, a closed terminal) are not shown as at work."""
    from digest.deliver.leases import reap_dead_local_owners

    try:
        reap_dead_local_owners(ctx.store, campaign_id, now=now)
    except StateError:
        pass  # a read-only store: show it as it is


def _print_campaign(state: CampaignStatus) -> None:
    c = state.campaign
    counts = ", ".join(f"{k} {v}" for k, v in state.counts.items())
    label = ""
    if c.closed:
        label = " (from before campaigns; closed)" if c.audience_key == "before-campaigns" else " (abandoned)"
    say(f"Issue {c.issue} → {printable(c.audience)}{label}: {counts}")
    extra = []
    if state.sent_elsewhere:
        extra.append(f"{state.sent_elsewhere} of the sent went out through another campaign")
    if state.suppressed:
        extra.append(f"{state.suppressed} of those not sent are suppressed (never sent while they are)")
    if state.in_flight:
        extra.append(f"{state.in_flight} in flight")
    if state.workers:
        extra.append(f"{state.workers} sender(s) at work")
    if not c.complete and not c.closed:
        extra.append("lists not read to the end yet")
    if extra:
        say("  " + "; ".join(extra))
    if state.runs == 1 and state.run_seconds:
        rate = state.run_sent / state.run_seconds
        say(f"  1 run, {state.run_sent} sent in {state.run_seconds:.1f} s ({rate:.0f} msg/s)")
    elif state.runs:
        # Runs may overlap (workers, resumes): their times do not add up to a rate.
        say(f"  {state.runs} run(s), {state.run_sent} sent")
