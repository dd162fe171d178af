"""Campaigns under real conditions: several `digest send` processes at once, kill -9, audiences, unknown outcomes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from digest.app.context import Context
from digest.cli import main
from tests.conftest import point_smtp_at, write_list
from tests.servers import SilentAfterDataHandler, SlowHandler, ThreadedSMTP

SEND = [sys.executable, "-m", "digest", "send"]


def _sent_this_run(output: str) -> int:
    match = re.search(r"│ sent\s+│ (\d+)", output)
    assert match, output
    return int(match.group(1))


def _smtp(root: Path, port: int, *, timeout: float = 10, data_timeout: float | None = None) -> None:
    with (root / "digest.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = {timeout}\n')
        if data_timeout is not None:
            f.write(f"data_timeout = {data_timeout}\n")


@pytest.mark.parametrize("senders", [2, 4])
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sends_started_together_reach_everyone_exactly_once(workspace: Path, runner, request, backend, senders):
    if backend == "postgresql":
        request.getfixturevalue("pg_workspace")
    n = 1500
    emails = write_list(workspace / "subscribers" / "list.csv", n)
    handler = SlowHandler(delay=0.004)
    with ThreadedSMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        processes = [subprocess.Popen([*SEND, "--list", "subscribers/list.csv", "--concurrency", "4"], cwd=workspace,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(senders)]
        outputs = [p.communicate(timeout=240) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, out + err
    delivered = Counter(r.rcpt_tos[0] for r in handler.received)
    assert set(delivered) == set(emails), [out + err for out, err in outputs]
    assert max(delivered.values()) == 1  # nobody twice
    shares = [_sent_this_run(out) for out, _ in outputs]
    assert sum(shares) == n and sum(1 for s in shares if s) >= 2  # they shared the work
    status = runner.invoke(main, ["status"])
    assert f"sent {n}" in status.output and f"{senders} run(s)" in status.output


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_killed_worker_on_another_host_is_taken_over_after_its_lease(workspace: Path, runner, request, backend):
    if backend == "postgresql":
        request.getfixturevalue("pg_workspace")
    n, concurrency = 600, 4
    emails = write_list(workspace / "subscribers" / "list.csv", n)
    handler = SlowHandler(delay=0.01)
    command = [*SEND, "--list", "subscribers/list.csv", "--concurrency", str(concurrency), "--lease", "5"]
    with ThreadedSMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        # The victim says it runs on another machine: its leases cannot be reaped early, they must run out.
        victim = subprocess.Popen(command, cwd=workspace, env={**os.environ, "DIGEST_HOSTNAME": "other-host"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(handler.received) < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        survivor = subprocess.Popen(command, cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        out, err = survivor.communicate(timeout=240)
    assert survivor.returncode == 0, out + err
    delivered = Counter(r.rcpt_tos[0] for r in handler.received)
    assert set(delivered) == set(emails)
    assert sum(c - 1 for c in delivered.values()) <= concurrency  # at most the victim's messages in flight


def test_a_worker_joins_without_reading_the_lists(pg_workspace: Path, runner):
    workspace = pg_workspace
    n = 800
    emails = write_list(workspace / "subscribers" / "list.csv", n)
    handler = SlowHandler(delay=0.004)
    with ThreadedSMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        worker = subprocess.Popen([*SEND, "--list", "subscribers/list.csv", "--worker"], cwd=workspace,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # the worker starts first and waits for the campaign
        main_send = subprocess.run([*SEND, "--list", "subscribers/list.csv"], cwd=workspace, capture_output=True,
                                   text=True, timeout=240)
        w_out, w_err = worker.communicate(timeout=240)
    assert main_send.returncode == 0 and worker.returncode == 0, main_send.stderr + w_err
    assert Counter(r.rcpt_tos[0] for r in handler.received) == Counter(emails)
    assert _sent_this_run(w_out) > 0


def test_a_worker_alone_says_there_is_no_campaign(pg_workspace: Path, runner):
    assert runner.invoke(main, ["build"]).exit_code == 0
    result = runner.invoke(main, ["send", "--list", "subscribers/example.csv", "--worker", "--lease", "5"])
    assert result.exit_code == 3
    assert "no campaign of issue 1" in result.stderr and "without --worker" in result.stderr


def test_each_audience_is_its_own_campaign(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    wrong = write_list(workspace / "subscribers" / "wrong.csv", 5, prefix="wrong")
    (workspace / "subscribers" / "right.csv").write_text(f"email,name\nright1@example.com,R\n{wrong[3]},Both\n")
    assert runner.invoke(main, ["build"]).exit_code == 0
    first = runner.invoke(main, ["send", "--list", "subscribers/wrong.csv", "--limit", "1"])
    assert first.exit_code == 3  # wrong.csv is not done
    handler.received.clear()
    second = runner.invoke(main, ["send", "--list", "subscribers/right.csv"])
    assert second.exit_code == 0, second.output + second.stderr
    assert sorted(r.rcpt_tos[0] for r in handler.received) == sorted(["right1@example.com", wrong[3]])
    # wrong.csv's campaign: the person on both lists was sent once, through right.csv
    handler.received.clear()
    third = runner.invoke(main, ["send", "--list", "subscribers/wrong.csv"])
    assert third.exit_code == 0
    assert sorted(r.rcpt_tos[0] for r in handler.received) == sorted(set(wrong[1:]) - {wrong[3]})
    status = runner.invoke(main, ["status"])
    assert "subscribers/wrong.csv: pending 0, sent 5" in status.output
    assert "subscribers/right.csv: pending 0, sent 2" in status.output
    assert "1 of the sent went out through another campaign" in status.output


def test_a_slow_reply_to_the_final_dot_is_waited_for(workspace: Path, runner):
    handler = SlowHandler(delay=7)
    with ThreadedSMTP(handler) as server:
        _smtp(workspace, server.port, timeout=5)  # commands: 5 s; the final dot: data_timeout (600 s)
        assert runner.invoke(main, ["build"]).exit_code == 0
        result = runner.invoke(main, ["send", "--list", "subscribers/example.csv", "--max-attempts", "3"])
    assert result.exit_code == 0, result.output + result.stderr
    assert Counter(r.rcpt_tos[0] for r in handler.received) == Counter(
        ["ada@example.com", "grace@example.org", "linus@example.com"])


def test_no_reply_after_the_data_is_an_unknown_outcome_sent_at_most_twice(workspace: Path, runner):
    handler = SilentAfterDataHandler()
    with ThreadedSMTP(handler) as server:
        _smtp(workspace, server.port, timeout=5, data_timeout=1)
        assert runner.invoke(main, ["build"]).exit_code == 0
        first = subprocess.run([*SEND, "--list", "subscribers/example.csv"], cwd=workspace, capture_output=True,
                               text=True, timeout=120)
        again = subprocess.run([*SEND, "--list", "subscribers/example.csv"], cwd=workspace, capture_output=True,
                               text=True, timeout=120)
    assert first.returncode == 3 and again.returncode == 3
    copies = Counter(r.rcpt_tos[0] for r in handler.received)
    assert set(copies) == {"ada@example.com", "grace@example.org", "linus@example.com"}
    assert max(copies.values()) <= 2
    status = runner.invoke(main, ["status"])
    assert status.exit_code == 0 and "unknown 3" in status.output
    assert status.output.count("unknown  ") == 3 and "no reply after the message was sent" in status.output
    assert runner.invoke(main, ["status", "--check"]).exit_code == 3


def test_a_closed_stdout_does_not_stop_the_send(workspace: Path, runner):
    n = 300
    emails = write_list(workspace / "subscribers" / "list.csv", n)
    handler = SlowHandler(delay=0.002)
    with ThreadedSMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        shell = f"{sys.executable} -m digest send --list subscribers/list.csv --concurrency 2 | head -1"
        done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], cwd=workspace, capture_output=True,
                              text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Sending issue 1") and "Broken pipe" not in done.stderr
    assert "Traceback" not in done.stderr
    assert Counter(r.rcpt_tos[0] for r in handler.received) == Counter(emails)
    with Context(workspace) as ctx:
        assert {row.status for row in ctx.store.journal(1)} == {"sent"}


def test_dry_run_counts_what_a_send_would_send(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    (workspace / "subscribers" / "more.csv").write_text("email,name\nada@example.com,Again\nnew@example.net,New\n")
    assert runner.invoke(main, ["build"]).exit_code == 0
    assert runner.invoke(main, ["subscribers", "unsubscribe", "grace@example.org"]).exit_code == 0
    assert runner.invoke(main, ["send", "--list", "subscribers/example.csv", "--limit", "1"]).exit_code == 3
    dry = runner.invoke(main, ["send", "--list", "subscribers/example.csv", "--list", "subscribers/more.csv",
                               "--dry-run"])
    assert dry.exit_code == 0, dry.stderr
    assert ("Dry run: 2 message(s) would be sent" in dry.output and "1 already sent this issue, 1 suppressed, "
            "1 duplicate(s)" in dry.output), dry.output
    handler.received.clear()
    real = runner.invoke(main, ["send", "--list", "subscribers/example.csv", "--list", "subscribers/more.csv"])
    assert real.exit_code == 0 and len(handler.received) == 2


def test_a_list_that_cannot_be_decoded_names_the_line_and_byte_and_keeps_what_was_journaled(
        workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    rows = [f"reader{i:05d}@example.com,Reader {i}\n" for i in range(5000)]
    head = "email,name\n" + "".join(rows[:4000])
    bad = head.encode() + b"bad\xff@example.com,Broken\n" + "".join(rows[4000:]).encode()
    (workspace / "subscribers" / "big.csv").write_bytes(bad)
    assert runner.invoke(main, ["build"]).exit_code == 0
    result = runner.invoke(main, ["send", "--list", "subscribers/big.csv"])
    assert result.exit_code == 2
    line = result.stderr.strip().splitlines()[-1]
    assert f"subscribers/big.csv:4002: not valid utf-8 text at byte {len(head.encode()) + 3} (line 4002)" in line
    # How many were sent before the reader's error stopped the run depends on the machine's load;
    # what was journaled does not: every row read before the bad line (lists are decoded line by line).
    with Context(workspace) as ctx:
        journaled = {row.email: row.status for row in ctx.store.journal(1)}
    assert set(journaled) == {row.split(",")[0] for row in rows[:4000]}
    sent = {r.rcpt_tos[0] for r in handler.received}
    assert sent == {email for email, status in journaled.items() if status == "sent"} and len(sent) <= 4000
    # The rows journaled before the bad line stay with this campaign only: another list's send ignores them.
    handler.received.clear()
    other = runner.invoke(main, ["send", "--list", "subscribers/example.csv"])
    assert other.exit_code == 0 and len(handler.received) == 3
