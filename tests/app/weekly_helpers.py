"""Helpers for the weekly-cycle tests: page dumps and feeds of a harbour town's weeks, a workspace, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

DIGEST = [sys.executable, "-m", "digest"]

LOREM = ("The council met on Tuesday evening and heard from residents, traders and the harbour master. "
         "Members agreed that the change will be reviewed after three months, and that the results will be "
         "published in full. Residents who want to comment can write to the council before the end of the month.")


def page_dump(title: str, top: list[str], *, when: datetime) -> str:
    """A page dump in the sample's dialect: breadcrumb, title, Source line, body, editor, Top News."""
    lines = ["position: Harbour > News > Article", "", title, "",
             f"Source: Harbour Daily | {when:%Y-%m-%d %H:%M:%S} | Author: Harbour Daily", "",
             "By Kari Nordmann", "", f"{title}. {LOREM}", "", LOREM, "", "Editor: Ola Nordmann", "", "Top News", ""]
    for item in top:
        lines += [item, "", f"Reported this week: {item.lower()}, as residents and traders heard on Tuesday.", ""]
    return "\n".join(lines)


def feed(entries: list[tuple[str, datetime]]) -> str:
    """An RSS 2.0 feed, newest entry first, each with its own link and date."""
    items = "".join(
        f"<item><title>{title}</title><link>https://news.example.org/{title.lower().replace(' ', '-')}</link>"
        f"<description>{title}: {LOREM[:200]}</description><pubDate>{format_datetime(when)}</pubDate></item>"
        for title, when in entries)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Town feed</title>'
            f"<link>https://news.example.org/</link><description>Town news</description>{items}</channel></rss>")


def digest(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the digest command in its own process, in the workspace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])  # the checkout's code, whatever the venv says
    done = subprocess.run([*DIGEST, *args], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"digest {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def new_workspace(tmp: Path) -> Path:
    """A workspace made by `digest init`, with two readers on its list."""
    root = tmp / "harbour"
    subprocess.run([*DIGEST, "init", str(root), "--name", "Harbour Weekly"], check=True, capture_output=True,
                   timeout=120)
    (root / "subscribers" / "list.csv").write_text("email,name,tags\nana@example.org,Ana,\nbo@example.org,Bo,\n")
    return root


def stories(root: Path, number: int) -> list[str]:
    """The lead's and the Top News' titles of a built issue."""
    issue = json.loads((root / "issues" / str(number) / "issue.json").read_text())
    return [issue["lead"]["title"], *(item["title"] for item in issue["top_news"])]


def now() -> datetime:
    """Now, in UTC (feed dates)."""
    return datetime.now(UTC)


def days_ago(n: float) -> datetime:
    """A moment n days ago."""
    return now() - timedelta(days=n)


def later() -> None:
    """Let the clock move past the last run's cut-off (first sightings are compared with it)."""
    time.sleep(0.05)
