"""The campaign ledger: PostgreSQL against SQLite, workers side by side, streaming start, list checks.

Rows, each beside a baseline measured in the same run:
- one `digest send` to smtp-sink with the store in PostgreSQL, against SQLite (goal ≥ 0.85×);
- 1, 2 and 4 sender processes on one PostgreSQL campaign, against a server that waits 20 ms before
  answering each message, against one process (goal: 4 ≥ 3.2×);
- time to the first message and peak RSS of `digest send` on a 1,000,000-row list, against reading
  (and validating) the whole list first and holding it in memory (goals ≤ 5 s, ≤ 80 MB);
- `digest subscribers check` rows/s on that list, first run and cached, against email-validator
  (goals ≥ 50,000/s and ≥ 1,000,000/s).
BENCH_ROWS changes the big list's size; BENCH_N the number of messages of the rate rows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _sample import ROOT, Row, issue_sample, run_script

from digest.app.send import send_to_lists
from digest.core import aio
from digest.deliver.sender import SendOptions

sys.path.insert(0, str(ROOT))
from send import N, free_port, make_workspace, start_server  # noqa: E402

from tests.pg import PostgresServer  # noqa: E402
from tests.servers import RecordingHandler, ThreadedSMTP  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
DIGEST = [sys.executable, "-m", "digest"]


class TimedSink(RecordingHandler):
    """Counts messages and when each was answered; waits `delay` before each reply."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.times: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        if self.delay:
            await asyncio.sleep(self.delay)
        self.times.append(time.monotonic())
        return "250 OK"


def _rate(database_url: str, port: int, issue: Any, rendered: Any) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        ctx = make_workspace(Path(tmp), port, issue, rendered, database_url=database_url)
        start = time.perf_counter()
        report = aio.run(send_to_lists(ctx, ctx.workspace.issues / "1", [ctx.root / "subscribers" / "bench.csv"],
                                       options=SendOptions(concurrency=8), on_problem=print))
        seconds = time.perf_counter() - start
        ctx.close()
        assert report.counts["sent"] == N, report.counts
    return N / seconds


def postgres_vs_sqlite(pg: PostgresServer) -> list[Row]:
    issue, rendered = issue_sample(40)
    port = free_port()
    sink = start_server("smtp-sink" if Path("/usr/sbin/smtp-sink").exists() else "aiosmtpd", port)
    try:
        sqlite = _rate("", port, issue, rendered)
        postgres = _rate(pg.database(), port, issue, rendered)
    finally:
        sink.terminate()
        sink.wait(10)
    return [Row(f"send {N} × 41 KB → smtp-sink, PostgreSQL store (vs SQLite)", postgres, sqlite, "msg/s")]


def workers(pg: PostgresServer) -> list[Row]:
    issue, rendered = issue_sample(10)
    rates: dict[int, float] = {}
    for count in (1, 2, 4):
        sink = TimedSink(delay=0.02)
        with ThreadedSMTP(sink) as server, tempfile.TemporaryDirectory() as tmp:
            ctx = make_workspace(Path(tmp), server.port, issue, rendered, database_url=pg.database())
            ctx.close()
            command = [*DIGEST, "-C", tmp, "send", "--list", f"{tmp}/subscribers/bench.csv", "--concurrency", "4"]
            processes = [subprocess.Popen(command + (["--worker"] if i else []), stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE) for i in range(count)]
            for process in processes:
                _, err = process.communicate(timeout=900)
                assert process.returncode == 0, err.decode()
            assert len(sink.times) == N, len(sink.times)
            rates[count] = (N - 1) / (sink.times[-1] - sink.times[0])
    return [Row(f"{count} sender process(es) on PostgreSQL, 20 ms server (vs 1)", rates[count], rates[1], "msg/s")
            for count in (2, 4)]


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


HOLD_ALL = """
import sys, time
from pathlib import Path
from digest.subscribers import read_list
start = time.perf_counter()
rows = list(read_list(Path(sys.argv[1]), on_problem=lambda p: None))
print(time.perf_counter() - start, flush=True)
input()
"""


def streaming_start(big: Path) -> list[Row]:
    issue, rendered = issue_sample(40)
    sink = TimedSink()
    with ThreadedSMTP(sink) as server, tempfile.TemporaryDirectory() as tmp:
        ctx = make_workspace(Path(tmp), server.port, issue, rendered)
        ctx.close()
        started = time.monotonic()
        process = subprocess.Popen([*DIGEST, "-C", tmp, "send", "--list", str(big)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        while not sink.times and process.poll() is None and time.monotonic() - started < 120:
            time.sleep(0.005)
        first = sink.times[0] - started if sink.times else float("nan")
        time.sleep(25)  # long enough to read the whole list while sending
        rss = _peak_rss_mb(process.pid)
        process.send_signal(signal.SIGINT)
        process.wait(60)
    # Baseline: the whole list read and validated before anything is sent, held in memory.
    holder = subprocess.Popen([sys.executable, "-c", HOLD_ALL, str(big)], stdout=subprocess.PIPE,
                              stdin=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert holder.stdout is not None
    read_all = float(holder.stdout.readline())
    held = _peak_rss_mb(holder.pid)
    holder.communicate("\n", timeout=60)
    return [
        Row(f"time to first message, {ROWS:,}-row list (vs reading it all first)", first, read_all, "s",
            higher_is_better=False),
        Row(f"peak RSS while sending to a {ROWS:,}-row list (vs holding it)", rss, held, "MB",
            higher_is_better=False),
    ]


def list_checks(big: Path) -> list[Row]:
    from email_validator import validate_email

    from digest.store import open_store
    from digest.subscribers.checking import check_list

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / ".digest" / "state.sqlite3")
        start = time.perf_counter()
        first = check_list(big, store=store)
        first_rate = first.check.rows / (time.perf_counter() - start)
        start = time.perf_counter()
        cached = check_list(big, store=store)
        cached_rate = cached.check.rows / (time.perf_counter() - start)
        assert cached.cached
        store.close()
    sample = [f"reader{i}@example{i % 50}.com" for i in range(20_000)]
    start = time.perf_counter()
    for address in sample:
        validate_email(address, check_deliverability=False, allow_smtputf8=True)
    baseline = len(sample) / (time.perf_counter() - start)
    return [Row("subscribers check, first run (vs email-validator per row)", first_rate, baseline, "rows/s"),
            Row("subscribers check, unchanged file (vs email-validator per row)", cached_rate, baseline, "rows/s")]


def measure() -> list[Row]:
    """Every ledger figure, each against its baseline."""
    rows: list[Row] = []
    pg = PostgresServer().start()
    try:
        rows += postgres_vs_sqlite(pg)
        rows += workers(pg)
    finally:
        pg.stop()
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.csv"
        with big.open("w", encoding="utf-8") as f:
            f.write("email,name,tags\n")
            for i in range(ROWS):
                f.write(f"reader{i:07d}@example{i % 97}.com,Reader {i},news\n")
        print(f"  ledger: {ROWS:,}-row list, {big.stat().st_size / 1e6:.0f} MB", flush=True)
        rows += streaming_start(big)
        rows += list_checks(big)
    return rows


if __name__ == "__main__":
    threading.excepthook = lambda args: None  # the sink's thread may outlive a failed run quietly
    run_script(measure)
