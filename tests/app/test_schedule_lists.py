"""Scheduled sends name the campaign the send will use, can always be cancelled or abandoned, and show live waiters."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from digest.app.context import Context
from digest.cli import main
from digest.store import Audience
from tests.conftest import point_smtp_at
from tests.helpers.commands import start_digest, wait_for_line
from tests.helpers.settings import in_seconds


def test_a_list_name_schedules_the_campaign_the_send_uses(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    assert runner.invoke(main, ["build"]).exit_code == 0
    waiting = start_digest(workspace, "send", "--list", "example", "--at", in_seconds(8))
    wait_for_line(waiting, "Waiting; Ctrl-C cancels the schedule")
    status = runner.invoke(main, ["status"])
    assert "Issue 1 → subscribers/example.csv: scheduled for " in status.output, status.output
    # The same campaign, named by its path: cancelling it stops the waiting sender at its time.
    cancel = runner.invoke(main, ["send", "--list", "subscribers/example.csv", "--cancel"])
    assert cancel.exit_code == 0, cancel.output + cancel.stderr
    assert "Cancelled: issue 1 to subscribers/example.csv is no longer scheduled for " in cancel.output
    out, _ = waiting.communicate(timeout=60)
    assert waiting.returncode == 3 and "is no longer scheduled; nothing was sent" in out
    assert handler.received == []
    again = runner.invoke(main, ["send", "--list", "example", "--cancel"])
    assert again.exit_code == 2
    assert again.stderr == ("digest: error: no scheduled send of issue 1 to subscribers/example.csv to cancel\n")


def test_a_list_file_named_without_its_folder_gets_a_hint(workspace: Path, runner):
    assert runner.invoke(main, ["build"]).exit_code == 0
    for command in (["send", "--list", "example.csv"], ["run", "--list", "example.csv"]):
        result = runner.invoke(main, command)
        assert result.exit_code == 2
        assert result.stderr == ("digest: error: example.csv: no such list file; did you mean "
                                 "subscribers/example.csv (or just example)?\n")


def test_a_mistyped_list_is_refused_before_anything_is_scheduled(workspace: Path, runner):
    assert runner.invoke(main, ["build"]).exit_code == 0
    result = runner.invoke(main, ["send", "--list", "subscribers/typo.csv", "--at", in_seconds(3600)])
    assert result.exit_code == 2
    assert result.stderr == ("digest: error: subscribers/typo.csv: no such list file, and no signups for a list of "
                             "that name\n")
    with Context(workspace) as ctx:
        assert ctx.store.scheduled_campaigns() == [] and ctx.store.campaigns_of(1) == []


def test_a_campaign_whose_list_is_gone_can_be_abandoned(workspace: Path, runner):
    assert runner.invoke(main, ["build"]).exit_code == 0
    extra = workspace / "subscribers" / "more.csv"
    extra.write_text("email,name\nnew@example.net,New\n")
    waiting = start_digest(workspace, "send", "--list", "subscribers/more.csv", "--at", in_seconds(600))
    wait_for_line(waiting, "Waiting; Ctrl-C cancels the schedule")
    waiting.send_signal(signal.SIGTERM)
    waiting.communicate(timeout=30)
    extra.unlink()
    assert runner.invoke(main, ["status", "--check"]).exit_code == 3
    abandon = runner.invoke(main, ["send", "--list", "subscribers/more.csv", "--abandon"])
    assert abandon.exit_code == 0, abandon.output + abandon.stderr
    assert "Abandoned the campaign of issue 1 to subscribers/more.csv" in abandon.output
    status = runner.invoke(main, ["status", "--check"])
    assert status.exit_code == 0 and "scheduled for" not in status.output, status.output
    assert "Issue 1 → subscribers/more.csv (abandoned)" in status.output


def test_a_campaign_an_earlier_version_recorded_under_a_list_name_can_be_abandoned(workspace: Path, runner):
    assert runner.invoke(main, ["build"]).exit_code == 0
    with Context(workspace) as ctx:
        literal = Audience(("list",))
        campaign = ctx.store.open_campaign(1, literal.key, literal.describe())
        ctx.store.schedule_campaign(campaign.id, send_at=0, timezone="UTC", local_time="1970-01-01 00:00")
    abandon = runner.invoke(main, ["send", "--list", "list", "--abandon"])
    assert abandon.exit_code == 0, abandon.output + abandon.stderr
    assert "Abandoned the campaign of issue 1 to list" in abandon.output
    assert runner.invoke(main, ["status", "--check"]).exit_code == 0


def test_status_does_not_count_a_killed_waiter_as_waiting(workspace: Path, runner):
    assert runner.invoke(main, ["build"]).exit_code == 0
    waiting = start_digest(workspace, "send", "--list", "example", "--at", in_seconds(600))
    wait_for_line(waiting, "Waiting; Ctrl-C cancels the schedule")
    assert "a sender is waiting" in runner.invoke(main, ["status"]).output
    os.kill(waiting.pid, signal.SIGKILL)
    waiting.communicate(timeout=30)
    status = runner.invoke(main, ["status"])
    assert "no sender is waiting" in status.output and "a sender is waiting" not in status.output


def test_cancel_and_abandon_refuse_options_that_would_send(workspace: Path, runner):
    assert runner.invoke(main, ["build"]).exit_code == 0
    for flag in ("--cancel", "--abandon"):
        for extra in (["--at", in_seconds(600)], ["--dry-run"], ["--test-to", "editor@example.net"]):
            result = runner.invoke(main, ["send", "--list", "example", flag, *extra])
            assert result.exit_code == 2, (flag, extra, result.output)
            assert result.stderr == (f"digest: error: {flag} sends nothing; it cannot be combined with --at, "
                                     "--dry-run or --test-to\n")
    with Context(workspace) as ctx:
        assert ctx.store.scheduled_campaigns() == [] and ctx.store.campaigns_of(1) == []
