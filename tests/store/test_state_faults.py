"""The workspace database on a full disk or a read-only folder: a clear error before sending, nothing lost.

These mount a tiny tmpfs or a read-only bind mount over `.digest/` (root only: CI runs as root).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from digest.cli import main
from tests.conftest import point_smtp_at
from tests.helpers.mounts import needs_mount, state_on

# Mounting needs root. CI runs as root: there a failed mount fails these tests instead of skipping them.
pytestmark = needs_mount


def _send(workspace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digest", "send", "--list", "subscribers/big.csv"],
                          cwd=workspace, capture_output=True, text=True, timeout=120)


def _setup(workspace: Path, runner, port: int) -> list[str]:
    point_smtp_at(workspace, port)
    emails = [f"disk{i:05d}@example.com" for i in range(3000)]
    (workspace / "subscribers" / "big.csv").write_text("email,name\n" + "".join(f"{e},D\n" for e in emails))
    assert runner.invoke(main, ["build"]).exit_code == 0
    return emails


def test_full_disk_is_a_clear_error_before_sending(workspace: Path, runner, recorder):
    server, handler = recorder
    emails = _setup(workspace, runner, server.port)
    with state_on(workspace / ".digest", "size=16m") as folder:
        with (folder / "filler").open("wb", buffering=0) as filler:  # fill the disk to the last block
            try:
                while True:
                    filler.write(b"\0" * 4096)
            except OSError:
                pass
        result = _send(workspace)
        assert result.returncode == 2, result.stdout + result.stderr
        [line] = result.stderr.strip().splitlines()
        assert "state.sqlite3" in line and "full" in line, line
        assert "Traceback" not in result.stderr
        assert handler.received == []  # nothing sent that is not journaled
        (folder / "filler").unlink()
        again = _send(workspace)  # room again: the same command finishes the job
        assert again.returncode == 0, again.stderr
    assert sorted(r.rcpt_tos[0] for r in handler.received) == emails


def test_read_only_state_folder_is_a_clear_error(workspace: Path, runner, recorder):
    server, handler = recorder
    _setup(workspace, runner, server.port)
    folder = workspace / ".digest"
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)
        result = _send(workspace)
        # Reading still works on a read-only folder: status and list checks only read.
        status = subprocess.run([sys.executable, "-m", "digest", "status"], cwd=workspace, capture_output=True,
                                text=True, timeout=60)
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "state.sqlite3" in line and ("read" in line.lower() or "open" in line.lower()), line
    assert status.returncode == 0 and "Issue 1: not sent to any list yet" in status.stdout, status.stderr
    assert handler.received == []


def test_disk_filling_mid_send_stops_cleanly_and_resume_finishes(workspace: Path, runner, recorder):
    from collections import Counter

    from digest.app.context import Context

    server, handler = recorder
    emails = _setup(workspace, runner, server.port)
    with state_on(workspace / ".digest", "size=4m") as folder:
        result = _send(workspace)  # the journal outgrows 4 MB part-way
        assert result.returncode == 2, result.stdout + result.stderr
        assert "disk is full" in result.stderr.strip().splitlines()[-1]
        assert "Traceback" not in result.stderr
        with Context(workspace) as ctx:
            journaled_sent = {row.email for row in ctx.store.journal(1) if row.status == "sent"}
        delivered = {r.rcpt_tos[0] for r in handler.received}
        assert journaled_sent <= delivered  # "sent" in the journal means the server said 250
        assert len(delivered - journaled_sent) <= 8  # only what was in flight on the 8 connections
        subprocess.run(["mount", "-o", "remount,size=32m", str(folder)], check=True)
        again = _send(workspace)
        assert again.returncode == 0, again.stderr
    counts = Counter(r.rcpt_tos[0] for r in handler.received)
    assert set(counts) == set(emails)
    assert sum(n - 1 for n in counts.values()) <= 8
