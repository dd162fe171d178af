"""`make bench`: run every benchmark in bench/ and print one table (ours, baseline, ratio)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _sample import machine, print_table  # noqa: E402

SCRIPTS = ["compose", "build", "send", "subscribers", "ledger", "fetch", "bounces"]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readability", type=Path, default=None,
                        help="a folder of Readability test pages for bench/extract.py (skipped without it)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    rows = []
    for name in SCRIPTS:
        start = time.perf_counter()
        print(f"running bench/{name}.py …", flush=True)
        rows.extend(load(name).measure())
        print(f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    print("running bench/extract.py …", flush=True)
    rows.extend(load("extract").measure(args.readability))
    print()
    print_table(rows)
    print("ratio: how many times better ours is (faster, or less memory), measured in this same run")


if __name__ == "__main__":
    main()
