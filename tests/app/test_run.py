"""`digest run` for cron: twice in a row sends once; twice at once, one sends and one exits; on both stores."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from digest.cli import main
from tests.conftest import LIST, point_smtp_at
from tests.helpers.commands import start_digest, wait_for_line
from tests.helpers.settings import in_seconds

ADDRESSES = {"ada@example.com", "grace@example.org", "linus@example.com"}


def _recipients(handler) -> list[str]:
    return sorted(r.rcpt_tos[0] for r in handler.received)


def test_run_twice_in_a_row_sends_once(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    first = runner.invoke(main, ["run", "--list", LIST])
    assert first.exit_code == 0, first.output + first.stderr
    assert "Issue 1:" in first.output and "plan      issues/1/plan.toml (new" in first.output
    assert len(handler.received) == 3
    second = runner.invoke(main, ["run", "--list", LIST])
    assert second.exit_code == 0, second.output + second.stderr
    assert "Nothing new since issue 1" in second.output and "nothing sent" in second.output
    assert len(handler.received) == 3
    # New content next week: a new issue, sent once.
    (workspace / "pages" / "next.txt").write_text("Next Week's Story\n\nSource: Desk | 2026-12-01 08:00:00\n\nNews.\n")
    third = runner.invoke(main, ["run", "--list", LIST])
    assert third.exit_code == 0 and "Issue 2:" in third.output
    assert len(handler.received) == 6 and len(set(_recipients(handler))) == 3


def test_a_second_run_while_one_waits_exits_at_once(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    waiting = start_digest(workspace, "run", "--list", LIST, "--at", in_seconds(10))
    wait_for_line(waiting, "Waiting; Ctrl-C cancels the schedule")
    started = time.monotonic()
    second = start_digest(workspace, "run", "--list", LIST)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0 and out == ""
    assert err.startswith("Another digest run for subscribers/example.csv is at work (host ")
    assert "waiting to send issue 1 at " in err and err.endswith("this one exits.\n")
    assert time.monotonic() - started < 10  # at once, not after the first one's wait
    assert handler.received == []
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, out + err
    assert _recipients(handler) == sorted(ADDRESSES)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_runs_started_together_send_each_message_once(backend: str, request, runner, recorder):
    workspace = request.getfixturevalue("pg_workspace" if backend == "postgresql" else "workspace")
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    runs = [start_digest(workspace, "run", "--list", LIST) for _ in range(2)]
    results = [(run.communicate(timeout=120), run.returncode) for run in runs]
    assert [code for _, code in results] == [0, 0], results
    assert _recipients(handler) == sorted(ADDRESSES)  # one message each, whatever the interleaving
    outputs = [out + err for (out, err), _ in results]
    assert sum("Send summary" in o for o in outputs) == 1, outputs
    assert sum(("is at work" in o) or ("already sent" in o) for o in outputs) == 1, outputs


def test_a_killed_run_does_not_block_the_next_one(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    when = in_seconds(8)
    killed = start_digest(workspace, "run", "--list", LIST, "--at", when)
    wait_for_line(killed, "Waiting; Ctrl-C cancels the schedule")
    os.kill(killed.pid, signal.SIGKILL)
    killed.communicate(timeout=30)
    # The timer fires again (or the machine came back): the dead run's lock is no obstacle here.
    again = start_digest(workspace, "run", "--list", LIST, "--at", when)
    out, err = again.communicate(timeout=90)
    assert again.returncode == 0, out + err
    assert "Scheduled: issue 1" in out and _recipients(handler) == sorted(ADDRESSES)
