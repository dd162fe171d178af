"""Kill -9 a send at random moments, resume each time: everyone covered, duplicates bounded.

`make test` runs 3 rounds; `make soak` runs 20 (SOAK_KILL_ROUNDS).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from digest.cli import main
from tests.conftest import point_smtp_at
from tests.servers import RecordingHandler, ThreadedSMTP

ROUNDS = int(os.environ.get("SOAK_KILL_ROUNDS", "3"))
CONCURRENCY = 4


def test_repeated_sigkill_and_resume(workspace: Path, runner):
    n = 400 * ROUNDS
    emails = [f"kill{i:06d}@example.com" for i in range(n)]
    (workspace / "subscribers" / "kill.csv").write_text("email,name\n" + "".join(f"{e},K\n" for e in emails))
    handler = RecordingHandler()
    rng = random.Random(ROUNDS)
    command = [sys.executable, "-m", "digest", "send", "--list", "subscribers/kill.csv",
               "--concurrency", str(CONCURRENCY)]
    with ThreadedSMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        kills = 0
        for _ in range(ROUNDS):
            process = subprocess.Popen(command, cwd=workspace, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.2, 1.2))  # anywhere: start-up, journaling, mid-send, the end
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(30)
            db = sqlite3.connect(workspace / ".digest" / "state.sqlite3")
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            db.close()
        final = subprocess.run(command, cwd=workspace, capture_output=True, timeout=300)
        assert final.returncode == 0, final.stderr.decode()
    delivered = Counter(r.rcpt_tos[0] for r in handler.received)
    assert set(delivered) == set(emails)
    duplicates = sum(count - 1 for count in delivered.values())
    print(f"\nkill rounds: {ROUNDS} rounds, {kills} kills, {n} recipients, {duplicates} duplicates "
          f"(bound {kills * CONCURRENCY})")
    assert kills > 0
    assert duplicates <= kills * CONCURRENCY
