"""Shared set-up for the benchmarks: the sample issue rendered once, padded to a realistic size."""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.collect import collect  # noqa: E402
from digest.core.model import Issue, Rendered  # noqa: E402
from digest.core.settings import Settings  # noqa: E402
from digest.curate import CurateOptions, curate  # noqa: E402
from digest.render import render_issue  # noqa: E402


def issue_sample(target_kb: int = 40) -> tuple[Issue, Rendered]:
    """The sample issue rendered once, lengthened until HTML + text are about target_kb."""
    [page] = collect([ROOT / "pages"]).articles
    # The sample's body, repeated, gives the excerpt enough to take.
    articles = [dataclasses.replace(page, paragraphs=page.paragraphs * 20)]
    words = 120
    while True:
        issue = dataclasses.replace(curate(articles, CurateOptions(excerpt_words=words)).issue, number=1)
        rendered = render_issue(issue, Settings())
        if len(rendered.html) + len(rendered.text) >= target_kb * 1024 * 0.9 or words > 5000:
            return issue, rendered
        words = int(words * 1.2)


def rendered_sample(target_kb: int = 40) -> Rendered:
    """Only the rendered form of `issue_sample`."""
    return issue_sample(target_kb)[1]


def machine() -> str:
    """One line about where the figures were measured."""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


@dataclasses.dataclass(frozen=True)
class Row:
    """One benchmark figure: ours against a baseline measured in the same run."""

    name: str
    ours: float
    baseline: float | None
    unit: str
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if not self.baseline or not self.ours:
            return None
        return self.ours / self.baseline if self.higher_is_better else self.baseline / self.ours


def run_script(measure: Callable[[], list[Row]]) -> None:
    """What `python bench/X.py` does: print the machine and that script's rows."""
    print(f"machine: {machine()}")
    print_table(measure())


def _figure(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def print_table(rows: list[Row]) -> None:
    """One table: figure, ours, baseline, ratio (how many times better ours is)."""
    width = max(len(r.name) for r in rows) + 2
    print(f"{'figure':<{width}}{'ours':>12}{'baseline':>12}{'ratio':>9}  unit")
    for r in rows:
        base = f"{_figure(r.baseline):>12}" if r.baseline is not None else f"{'—':>12}"
        ratio = f"{r.ratio:>8.2f}x" if r.ratio is not None else f"{'—':>9}"
        print(f"{r.name:<{width}}{_figure(r.ours):>12}{base}{ratio}  {r.unit}")
