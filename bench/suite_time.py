"""Wall time of the whole test suite on 0 (no xdist), 2, 3, 4 … workers: which `make test -n` fits this machine.

    .venv/bin/python bench/suite_time.py 3 2 4      # one full run per worker count, in that order

Each run is `python -m pytest -q -n N` from the repository root with CI set (a missing peer
fails rather than skips, as in CI); the table gives its wall time, the load average when it
started (other work on the machine counts), and pytest's own summary.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(workers: int) -> tuple[float, float, str]:
    """One full run on `workers` processes: (wall seconds, load average at its start, pytest's last line)."""
    load = os.getloadavg()[0]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(workers)]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "CI": "1"})
    seconds = time.monotonic() - started
    lines = [line for line in done.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    return seconds, load, (lines[-1].strip("= ") if lines else done.stdout[-300:] + done.stderr[-300:])


def main() -> None:
    """Run the suite once per worker count given (default 3) and print one row per run."""
    counts = [int(a) for a in sys.argv[1:]] or [3]
    print(f"{'workers':>7}  {'wall':>8}  {'load':>5}  summary")
    for workers in counts:
        seconds, load, summary = run(workers)
        print(f"{workers:>7}  {seconds / 60:>6.2f} m  {load:>5.1f}  {summary}", flush=True)


if __name__ == "__main__":
    main()
