"""`digest build` on the sample: median whole-process time, a per-stage split, and Node mjml for reference.

The reference is the MJML compile alone with Node's `mjml` (the original
implementation) on the same MJML source, when it is installed: on PATH, or in
bench/node_modules (`npm install --prefix bench mjml`). Without it the
comparison is skipped, not the measurement.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from _sample import ROOT, Row, run_script

from digest.collect import collect
from digest.core.settings import Settings
from digest.curate import curate
from digest.curate.plan import apply_plan, plan_from_curated
from digest.curate.planfile import parse_plan, plan_text
from digest.render import _context, _Slots, compile_mjml, inline_css
from digest.render.environment import make_environment

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
DIGEST = Path(sys.executable).parent / "digest"


def median_seconds(command: list[str], cwd: Path) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def stages() -> tuple[dict[str, float], str]:
    timings: dict[str, float] = {}
    start = time.perf_counter()
    articles = collect([ROOT / "pages"]).articles
    timings["collect"] = time.perf_counter() - start
    start = time.perf_counter()
    curated = curate(articles)
    issue = dataclasses.replace(curated.issue, number=1)
    timings["curate"] = time.perf_counter() - start
    text = plan_text(plan_from_curated(curated, articles, root=ROOT, words=120, today=date.today()), number=1,
                     newsletter="Digest")
    start = time.perf_counter()
    apply_plan(parse_plan(text, path="plan.toml"), articles, period=articles, root=ROOT)
    timings["plan (parse + apply)"] = time.perf_counter() - start
    start = time.perf_counter()
    env = make_environment(None)
    source = env.get_template("digest.mjml.j2").render(_context(issue, Settings(), _Slots(), "https://x"))
    timings["jinja"] = time.perf_counter() - start
    start = time.perf_counter()
    html = compile_mjml(source, "digest.mjml.j2")
    timings["mjml (mjml-python)"] = time.perf_counter() - start
    start = time.perf_counter()
    inline_css(html)
    timings["premailer"] = time.perf_counter() - start
    return timings, source


def node_mjml() -> str | None:
    local = Path(__file__).parent / "node_modules" / ".bin" / "mjml"
    return str(local) if local.exists() else shutil.which("mjml")


def measure() -> list[Row]:
    """Whole-process `digest build` (median) against Node mjml's compile alone when installed."""
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        workspace.mkdir()
        shutil.copytree(ROOT / "pages", workspace / "pages")
        shutil.copy(ROOT / "digest.toml", workspace / "digest.toml")
        subprocess.run([str(DIGEST), "build"], cwd=workspace, check=True, capture_output=True)  # warm caches
        ours = median_seconds([str(DIGEST), "build"], workspace)
        timings, source = stages()
        split = ", ".join(f"{name} {seconds * 1000:.1f} ms" for name, seconds in timings.items())
        print(f"  build in-process split: {split}")
        mjml = node_mjml()
        node = None
        if mjml is None:
            print("  Node mjml: not installed (npm install --prefix bench mjml); comparison skipped")
        else:
            mjml_file = Path(tmp) / "digest.mjml"
            mjml_file.write_text(source, encoding="utf-8")
            node = median_seconds([mjml, str(mjml_file), "-o", str(Path(tmp) / "out.html")], Path(tmp))
    return [Row("digest build, whole process (vs Node mjml compile only)", ours, node, "s, median",
                higher_is_better=False)]


if __name__ == "__main__":
    run_script(measure)
