"""Shared set-up for the benchmarks: the sample issue rendered once, padded to a realistic size."""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.collect import collect  # noqa: E402
from digest.config import Settings  # noqa: E402
from digest.curate import CurateOptions, curate  # noqa: E402
from digest.model import Rendered  # noqa: E402
from digest.render import render_issue  # noqa: E402


def rendered_sample(target_kb: int = 40) -> Rendered:
    """The sample issue rendered once; the excerpt is lengthened until the HTML is about target_kb."""
    articles = collect([ROOT / "pages"]).articles
    words = 120
    while True:
        issue = dataclasses.replace(curate(articles, CurateOptions(excerpt_words=words)).issue, number=1)
        lead = issue.lead
        if len(render_issue(issue, Settings()).html) >= target_kb * 1024 or words > 5000:
            break
        # Repeat the body so the excerpt has more to take.
        lead = dataclasses.replace(lead, paragraphs=lead.paragraphs * 4)
        articles = [lead]
        words *= 2
    return render_issue(issue, Settings())


def machine() -> str:
    """One line about where the figures were measured."""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
