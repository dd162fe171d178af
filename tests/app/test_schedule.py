"""Scheduled sending: local times in the newsletter's zone, an injectable clock, real processes and signals."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.app.context import Context
from digest.app.schedule import SendTime, parse_send_time
from digest.app.send import send, send_request
from digest.cli import main
from digest.core.errors import ConfigError
from digest.deliver.sender import SendOptions
from tests.conftest import LIST, point_smtp_at
from tests.helpers.commands import start_digest, wait_for_line
from tests.helpers.settings import in_seconds


def test_local_times_are_read_in_the_newsletter_zone():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp()
    oslo = parse_send_time("2026-12-04 07:00", "Europe/Oslo", now=now)
    assert oslo.at == datetime(2026, 12, 4, 6, 0, tzinfo=UTC).timestamp()
    assert oslo.describe() == "2026-12-04 07:00 Europe/Oslo"
    summer = parse_send_time("2027-07-02T07:00", "Europe/Oslo", now=now)
    assert summer.at == datetime(2027, 7, 2, 5, 0, tzinfo=UTC).timestamp()
    today = parse_send_time("07:30", "America/New_York", now=now)  # 07:00 in New York on 1 December
    assert today.at == datetime(2026, 12, 1, 12, 30, tzinfo=UTC).timestamp() and today.local == "2026-12-01 07:30"
    with pytest.raises(ConfigError, match="no such time in Europe/Oslo"):
        parse_send_time("2027-03-28 02:30", "Europe/Oslo", now=now)  # the clocks jump from 02:00 to 03:00
    with pytest.raises(ConfigError, match='expected a local time like "2026-12-04 07:00"'):
        parse_send_time("next friday", "UTC", now=now)
    with pytest.raises(ConfigError, match="more than a year ahead"):
        parse_send_time("2062-12-04 07:00", "UTC", now=now)


def test_a_past_time_is_refused_unless_a_timer_fired_a_few_minutes_late():
    # Friday 28 November 2025, 09:12 in Oslo (08:12 UTC).
    now = datetime(2025, 11, 28, 8, 12, tzinfo=UTC).timestamp()
    with pytest.raises(ConfigError) as today:
        parse_send_time("07:00", "Europe/Oslo", now=now)
    assert str(today.value) == ("--at '07:00': 07:00 has passed today in Europe/Oslo (it is 09:12 there now); "
                                'for tomorrow give the date: --at "2025-11-29 07:00"')
    with pytest.raises(ConfigError) as dated:
        parse_send_time("2025-11-27 07:00", "Europe/Oslo", now=now)
    assert str(dated.value) == "--at '2025-11-27 07:00' is in the past: it is 2025-11-28 09:12 in Europe/Oslo now"
    late = parse_send_time("09:05", "Europe/Oslo", now=now)  # the timer fired 7 minutes late: sent at once
    assert late.at == now - 7 * 60 and late.local == "2025-11-28 09:05" and late.note == ""
    assert parse_send_time("09:30", "Europe/Oslo", now=now).at == now + 18 * 60


def test_a_timer_a_few_minutes_late_across_midnight_sends_at_once_not_tomorrow():
    # 00:03 in Oslo on Saturday 29 November 2025: `--at 23:58` was due 5 minutes ago, yesterday.
    now = datetime(2025, 11, 28, 23, 3, tzinfo=UTC).timestamp()
    late = parse_send_time("23:58", "Europe/Oslo", now=now)
    assert late.at == now - 5 * 60 and late.local == "2025-11-28 23:58"
    # Longer ago than the grace: it is today's time, as before (a day ahead would be refused by a dated --at).
    assert parse_send_time("23:40", "Europe/Oslo", now=now).local == "2025-11-29 23:40"


def test_a_weekday_in_at_refuses_a_timer_catching_up_days_later():
    """systemd's Persistent=true starts a missed Friday run at the next boot: on Tuesday it must not send."""
    friday = datetime(2025, 11, 28, 5, 0, tzinfo=UTC).timestamp()  # Friday 06:00 in Oslo
    assert parse_send_time("Fri 07:00", "Europe/Oslo", now=friday).local == "2025-11-28 07:00"
    assert parse_send_time("friday 07:00", "Europe/Oslo", now=friday).local == "2025-11-28 07:00"
    tuesday = datetime(2025, 12, 2, 5, 30, tzinfo=UTC).timestamp()  # Tuesday 06:30 in Oslo, before 07:00
    with pytest.raises(ConfigError) as refused:
        parse_send_time("Fri 07:00", "Europe/Oslo", now=tuesday)
    assert str(refused.value) == (
        "--at 'Fri 07:00': it is Tuesday 2025-12-02 06:30 in Europe/Oslo, not Friday: a run started on another day "
        "(a timer catching up after the machine was off) does not send days late; send now without --at, or let "
        "next Friday's run send it")
    just_after_midnight = datetime(2025, 11, 28, 23, 3, tzinfo=UTC).timestamp()  # Saturday 00:03 in Oslo
    assert parse_send_time("Fri 23:58", "Europe/Oslo", now=just_after_midnight).local == "2025-11-28 23:58"
    with pytest.raises(ConfigError, match="expected a local time"):
        parse_send_time("Fri 2025-11-28 07:00", "Europe/Oslo", now=friday)


def test_daylight_saving_gaps_move_for_run_and_doubled_times_are_named():
    now = datetime(2027, 3, 27, 12, 0, tzinfo=UTC).timestamp()  # the Saturday before the clocks go forward
    with pytest.raises(ConfigError, match="no such time in Europe/Oslo"):
        parse_send_time("2027-03-28 02:30", "Europe/Oslo", now=now)  # `send --at`: refused, as before
    moved = parse_send_time("2027-03-28 02:30", "Europe/Oslo", now=now, shift_gap=True)  # `run --at`, every week
    assert moved.at == datetime(2027, 3, 28, 1, 0, tzinfo=UTC).timestamp()  # 03:00 CEST, right after the jump
    assert moved.local == "2027-03-28 03:00"
    assert moved.note == ("--at '2027-03-28 02:30': there is no 02:30 in Europe/Oslo on 2027-03-28 (the clocks go "
                          "forward); sending at 03:00, the first minute after the jump")
    autumn = datetime(2026, 10, 24, 12, 0, tzinfo=UTC).timestamp()  # the clocks go back on the 25th
    twice = parse_send_time("2026-10-25 02:30", "Europe/Oslo", now=autumn)
    assert twice.at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC).timestamp()  # the first 02:30, still summer time
    assert twice.note == ("--at '2026-10-25 02:30': 02:30 happens twice in Europe/Oslo on 2026-10-25 (the clocks "
                          "go back); sending at the first, 02:30 CEST")


def test_an_unknown_timezone_is_a_one_line_error(workspace: Path, runner):
    config = workspace / "digest.toml"
    config.write_text(config.read_text().replace('language = "en"', 'language = "en"\ntimezone = "Mars/Olympus"'))
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 2
    line = config.read_text().splitlines().index('timezone = "Mars/Olympus"') + 1
    assert result.stderr == (f"digest: error: digest.toml:{line}: [newsletter] timezone 'Mars/Olympus' is not a "
                             'known IANA time zone (for example "Europe/Oslo", "America/New_York", "UTC")\n')


async def _received_soon(handler, count: int, seconds: float = 0.5) -> int:
    await asyncio.sleep(seconds)
    return len(handler.received)


async def test_nothing_leaves_before_the_time_and_everything_after_a_restart_keeps_it(workspace: Path, runner,
                                                                                      recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    assert runner.invoke(main, ["build"]).exit_code == 0
    folder, lists = workspace / "issues" / "1", [workspace / LIST]
    now = [1_000_000.0]
    at = SendTime(1_000_000.0 + 3600, "1970-01-12 14:46", "UTC")

    def clock() -> float:
        return now[0]

    ctx = Context(workspace)
    stop = asyncio.Event()
    first = asyncio.create_task(send(send_request(ctx, folder, lists, options=SendOptions(), at=at), stop=stop,
                                     clock=clock, poll=0.02))
    assert await _received_soon(handler, 0) == 0
    waiting = ctx.store.scheduled_campaigns()
    assert [(s.issue, s.send_at, s.state) for s in waiting] == [(1, at.at, "scheduled")]
    assert waiting[0].waiting(clock())
    now[0] += 3000  # still 10 minutes early
    assert await _received_soon(handler, 0) == 0
    stop.set()  # the process stops (a reboot): the schedule stays
    assert (await first).state == "stopped"
    ctx.close()
    assert len(handler.received) == 0

    again = Context(workspace)  # started again, without --at: the recorded time holds
    second = asyncio.create_task(send(send_request(again, folder, lists, options=SendOptions()), clock=clock,
                                      poll=0.02))
    assert await _received_soon(handler, 0) == 0
    assert not second.done()
    now[0] = at.at + 1
    outcome = await asyncio.wait_for(second, 30)
    assert outcome.state == "sent" and outcome.report is not None and outcome.report.sent == 3
    assert len(handler.received) == 3
    assert again.store.schedule_of(outcome.schedule.campaign).state == "started"  # type: ignore[union-attr]
    assert again.store.scheduled_campaigns() == []
    again.close()


def test_a_scheduled_send_survives_sigterm_and_a_ctrl_c_cancels_it(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    assert runner.invoke(main, ["build"]).exit_code == 0
    # SIGTERM (a reboot, `systemctl stop`) while waiting: the schedule stays in the store.
    waiter = start_digest(workspace, "send", "--list", LIST, "--at", in_seconds(12))
    wait_for_line(waiter, "Waiting; Ctrl-C cancels the schedule")
    status = runner.invoke(main, ["status"])
    assert "Issue 1 → subscribers/example.csv: scheduled for " in status.output
    assert "a sender is waiting" in status.output
    waiter.send_signal(signal.SIGTERM)
    out, _ = waiter.communicate(timeout=30)
    assert waiter.returncode == 3 and "stays scheduled for" in out
    assert "no sender is waiting" in runner.invoke(main, ["status"]).output
    assert handler.received == []
    # Started again without --at, it waits for the recorded time, then sends.
    resumed = start_digest(workspace, "send", "--list", LIST)
    wait_for_line(resumed, "Waiting; Ctrl-C cancels the schedule")
    time.sleep(1)
    assert handler.received == []
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, out + err
    assert "sending." in out and len(handler.received) == 3
    # Ctrl-C while waiting cancels: nothing is sent, and the store says so.
    assert runner.invoke(main, ["build", "--new-issue"]).exit_code == 4  # nothing new: still issue 1
    (workspace / "subscribers" / "more.csv").write_text("email,name\nnew@example.net,New\n")
    cancelled = start_digest(workspace, "send", "--list", "subscribers/more.csv", "--at", in_seconds(30))
    wait_for_line(cancelled, "Waiting; Ctrl-C cancels the schedule")
    cancelled.send_signal(signal.SIGINT)
    out, _ = cancelled.communicate(timeout=30)
    assert cancelled.returncode == 3 and "is no longer scheduled; nothing was sent" in out
    assert "was cancelled; nothing sent" in runner.invoke(main, ["status"]).output
    assert len(handler.received) == 3


def test_at_cannot_be_combined_with_a_test_send(workspace: Path, runner):
    assert runner.invoke(main, ["build"]).exit_code == 0
    result = runner.invoke(main, ["send", "--test-to", "a@example.com", "--at", "07:00"])
    assert result.exit_code == 2 and "--at schedules a send" in result.stderr


def test_run_with_another_days_weekday_fails_visibly_and_builds_nothing(workspace: Path, runner):
    from digest.cli import main

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%a")  # the workspace's zone is UTC
    result = runner.invoke(main, ["run", "--list", "example", "--at", f"{tomorrow} 07:00"])
    assert result.exit_code == 2
    assert "does not send days late; send now without --at" in result.stderr
    assert not (workspace / "issues" / "1").exists()
