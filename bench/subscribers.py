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

from _sample import ROOT, Row, run_script

SIZES = [int(n) for n in os.environ.get("BENCH_ROWS", "10000,1000000").split(",")]

OURS = """
import sys
from pathlib import Path
from digest.subscribers import read_list
from digest.store.seen import SeenAddresses
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
print(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
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
print(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
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
    """Run `code` in a fresh interpreter; return its peak RSS (MiB), seconds and its counts line.

    The child reads its own VmHWM: ru_maxrss from wait4() would include the parent's
    memory from before exec().
    """
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=ROOT,
                          check=True)
    counts, peak_kib = done.stdout.strip().splitlines()[-2:]
    return int(peak_kib) / 1024, time.perf_counter() - start, counts


def measure() -> list[Row]:
    """Peak RSS of checking generated lists, streaming vs loading whole."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            path = Path(tmp) / f"list-{size}.csv"
            generate(path, size)
            ours, seconds, counts = peak_rss(OURS, path)
            naive, _, naive_counts = peak_rss(NAIVE, path)
            assert counts == naive_counts, (counts, naive_counts)
            print(f"  subscribers check {size:,} rows: {seconds:.1f} s, valid/duplicate/invalid {counts}")
            rows.append(Row(f"subscribers check {size:,} rows, peak RSS (vs load whole)", ours, naive, "MiB",
                            higher_is_better=False))
            path.unlink()
    return rows


if __name__ == "__main__":
    run_script(measure)
