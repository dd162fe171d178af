"""Where `digest send` spends its CPU: a cProfile of sending to smtp-sink, grouped by package.

Not part of `make bench` (profiling slows the run); run it to see what limits the send figure.
"""

from __future__ import annotations

import cProfile
import os
import pstats
from collections import defaultdict

os.environ.setdefault("BENCH_N", "5000")

import send as bench  # noqa: E402  (bench/send.py, after BENCH_N is set)
from _sample import machine  # noqa: E402


def group(filename: str, function: str) -> str:
    if filename == "~":  # a C function: name it by what it is
        if "sqlite3" in function:
            return "sqlite3 (journal writes and commits)"
        if "uvloop" in function or "run_until_complete" in function or "run_forever" in function:
            return "uvloop (event loop, socket I/O)"
        if "join" in function or "encode" in function or "decode" in function:
            return "bytes/str building"
    for marker, name in (("aiosmtplib", "aiosmtplib (protocol, replies)"), ("uvloop", "uvloop / sockets"),
                         ("email_validator", "email-validator (enqueue)"), ("digest/compose", "digest compose"),
                         ("digest/deliver", "digest deliver (queue, journal)"), ("sqlite3", "sqlite3"),
                         ("asyncio", "asyncio (tasks, wait_for)"), ("digest/", "digest other"),
                         ("csv", "csv"), ("json", "json")):
        if marker in filename:
            return name
    return "other (builtins, C calls)"


def main() -> None:
    issue, rendered = bench.issue_sample(40)
    port = bench.free_port()
    server = bench.start_server("smtp-sink" if os.path.exists(bench.SMTP_SINK) else "aiosmtpd", port)
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        rate = bench.ours(port, issue, rendered)
        profiler.disable()
    finally:
        server.terminate()
        server.wait(10)
    stats = pstats.Stats(profiler)
    by_group: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _, function), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_group[group(filename, function)] += tottime
        total += tottime
    print(f"machine: {machine()}")
    print(f"{bench.N} messages under cProfile: {rate:.0f} msg/s (profiling slows it); CPU by package:")
    for name, seconds in sorted(by_group.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<36}{seconds / total * 100:5.1f} %  ({seconds / bench.N * 1e6:6.1f} µs per message)")
    print("top functions by own time:")
    stats.sort_stats("tottime").print_stats(8)


if __name__ == "__main__":
    main()
