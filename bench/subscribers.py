"""Peak memory of checking a subscriber list: streaming (digest) vs loading it whole (baseline).

Each measurement runs in a fresh child process; its peak RSS comes from wait4().
Set BENCH_ROWS to a comma-separated list of sizes (default 10000,1000000).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _sample import ROOT, machine

SIZES = [int(n) for n in os.environ.get("BENCH_ROWS", "10000,1000000").split(",")]

OURS = """
import sys
from pathlib import Path
from digest.subscribers import read_list
from digest.subscribers.dedupe import SeenAddresses
valid = dupes = bad = 0
def problem(_):
    global bad
    bad += 1
with SeenAddresses() as seen:
    for sub in read_list(Path(sys.argv[1]), on_problem=problem):
        if seen.add(sub.key, sub.line) is None:
            valid += 1
        else:
            dupes += 1
print(valid, dupes, bad)
"""

NAIVE = """
import csv, sys
from digest.subscribers import check_address
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
seen, valid, dupes, bad = set(), [], 0, 0
for row in rows:
    try:
        email = check_address(row["email"])
    except ValueError:
        bad += 1
        continue
    if email.lower() in seen:
        dupes += 1
    else:
        seen.add(email.lower())
        valid.append(row)
print(len(valid), dupes, bad)
"""


def generate(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("email,name,tags,city\n")
        for i in range(rows):
            # One row in a hundred repeats an earlier address; one in a thousand is invalid.
            n = i - 1 if i % 100 == 99 else i
            email = f"reader{n}@example.com" if i % 1000 != 500 else f"broken{i}.example.com"
            f.write(f"{email},Reader Number {i},news;weekly,City {i % 50}\n")


def peak_rss(code: str, path: Path) -> tuple[float, float, str]:
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, cwd=ROOT)
    assert process.stdout is not None
    output = process.stdout.read().decode().strip()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"child failed: {status}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start, output  # ru_maxrss is in KiB on Linux


def main() -> None:
    print(f"machine: {machine()}")
    print(f"{'subscribers check, peak RSS (MiB)':<36}{'ours':>10}{'baseline':>10}{'ratio':>8}{'ours s':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in SIZES:
            path = Path(tmp) / f"list-{rows}.csv"
            generate(path, rows)
            ours, seconds, counts = peak_rss(OURS, path)
            naive, _, naive_counts = peak_rss(NAIVE, path)
            assert counts == naive_counts, (counts, naive_counts)
            label = f"{rows:,} rows ({path.stat().st_size / 2**20:.0f} MiB file)"
            print(f"{label:<36}{ours:>10.1f}{naive:>10.1f}{naive / ours:>7.1f}x{seconds:>9.1f}")
    print("(ours: read_list streaming + on-disk dedupe; baseline: csv.DictReader into a list + a set)")


if __name__ == "__main__":
    main()
