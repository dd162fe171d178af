"""Plans made from hostile sources: the plan a build writes is one the next build reads."""

from __future__ import annotations

import random
import string
from pathlib import Path

from digest.cli import main
from digest.curate.planfile import MAX_PLAN_BYTES


def _hostile_feed(items: int, link_bytes: int) -> str:
    rng = random.Random(12)
    entries = []
    for n in range(items):
        words = " ".join("".join(rng.choices(string.ascii_lowercase, k=6)) for _ in range(60))
        entries.append(f"<item><title>Item {n} title words here</title>"
                       f"<link>https://evil.example/{n}/{'A' * link_bytes}</link>"
                       f"<pubDate>Thu, 18 May 2023 10:00:00 GMT</pubDate><description>{words}</description></item>")
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>Evil feed</title>'
            f"<link>https://evil.example/</link><description>x</description>{''.join(entries)}</channel></rss>")


def test_a_feed_of_long_links_makes_a_plan_the_next_build_reads(workspace: Path, runner):
    feed = workspace / "feed" / "evil.xml"
    feed.parent.mkdir()
    feed.write_text(_hostile_feed(600, 2000), encoding="utf-8")
    first = runner.invoke(main, ["build", "feed"])
    assert first.exit_code == 0, first.stderr
    [plan] = (workspace / "issues").glob("*/plan.toml")
    assert plan.stat().st_size < MAX_PLAN_BYTES / 4, plan.stat().st_size
    again = runner.invoke(main, ["build", "feed"])
    assert again.exit_code == 0, again.stderr
    assert "new since the plan" not in again.output + again.stderr
    # One more article in the feed: the plan's [known] tells it apart from the 600 it knew.
    feed.write_text(_hostile_feed(601, 2000), encoding="utf-8")
    third = runner.invoke(main, ["build", "feed"])
    assert third.exit_code == 0, third.stderr
    assert "new since the plan: 1 article(s)" in third.output + third.stderr
    assert "Item 600 title words here" in third.output + third.stderr
    assert "Item 599 title words here" not in third.output + third.stderr


def test_a_plan_too_large_to_read_is_never_written(tmp_path: Path):
    import pytest

    from digest.core.errors import PlanError
    from digest.curate.planfile import parse_plan

    text = 'subject = "S"\n[lead]\ntitle = "T"\n' + "# filler\n" * (MAX_PLAN_BYTES // 9 + 1)
    # parse_plan checks the text a build is about to write, as read_plan checks a file: same limit.
    with pytest.raises(PlanError, match="larger than 1024 KB"):
        parse_plan(text, path=str(tmp_path / "plan.toml"))


def test_a_source_file_with_any_name_builds_and_rebuilds_from_its_plan(workspace: Path, runner):
    odd = workspace / "odd"
    odd.mkdir()
    name = "a\x1bb\tc  d\u202eé\nnew line .txt"  # ESC, a tab, two spaces, bidi, a newline, a trailing space
    (odd / name).write_bytes((workspace / "pages" / "stdaily-china-central-asia.txt").read_bytes())
    first = runner.invoke(main, ["build", "odd"])
    assert first.exit_code == 0, first.stderr
    [plan] = (workspace / "issues").glob("*/plan.toml")
    assert "\x1b" not in plan.read_text() and "\\u001b" in plan.read_text()  # escaped in the file
    again = runner.invoke(main, ["build", "odd"])
    assert again.exit_code == 0, again.stderr  # the plan names the file it was made from
    assert "\x1b" not in again.output + again.stderr
