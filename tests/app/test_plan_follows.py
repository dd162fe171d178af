"""The plan leads, the rest follows: subject, preheader and date follow the lead and the day unless set."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from email import message_from_bytes
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.app.weekly_helpers import days_ago, digest, new_workspace, page_dump


def _two_pages(root: Path) -> None:
    (root / "pages" / "a.txt").write_text(page_dump("Harbour Council Approves New Ferry Timetable", [],
                                                    when=days_ago(400)))
    (root / "pages" / "b.txt").write_text(page_dump("Ferry Operator Adds Night Sailings", [], when=days_ago(401)))


def _built(root: Path) -> tuple[dict, str]:
    issue = json.loads((root / "issues" / "1" / "issue.json").read_text())
    eml = message_from_bytes((root / "issues" / "1" / "preview.eml").read_bytes())
    return issue, str(eml["Subject"])


def _swap_lead(plan: Path, source: str, title: str) -> None:
    text = plan.read_text()
    head, rest = text.split("[lead]\n", 1)
    lead, tail = rest.split("\n\n", 1)
    plan.write_text(f'{head}[lead]\nsource = "{source}"\ntitle = "{title}"\nurl = ""\nwords = 120\n\n{tail}')


def test_swapping_the_lead_moves_subject_and_preheader_and_the_date_is_the_day_made(tmp_path: Path) -> None:
    root = new_workspace(tmp_path)
    _two_pages(root)
    digest(root, "build")
    issue, subject = _built(root)
    assert subject == "Harbour Weekly: Harbour Council Approves New Ferry Timetable"
    # The issue is dated the day it is made (in [newsletter] timezone), not its newest article's day.
    settings = tomllib.loads((root / "digest.toml").read_text())
    zone = ZoneInfo(settings["newsletter"].get("timezone", "UTC"))
    assert issue["date"] == datetime.now(zone).date().isoformat()
    assert str(days_ago(400).year) not in (root / "issues" / "1" / "issue.txt").read_text().split("\n")[0]

    _swap_lead(root / "issues" / "1" / "plan.toml", "pages/b.txt", "Ferry Operator Adds Night Sailings")
    digest(root, "build")
    issue, subject = _built(root)
    assert subject == "Harbour Weekly: Ferry Operator Adds Night Sailings"
    assert issue["preheader"].startswith("Ferry Operator Adds Night Sailings.")


def test_a_subject_set_by_hand_stays_through_lead_swaps_and_rebuilds(tmp_path: Path) -> None:
    root = new_workspace(tmp_path)
    _two_pages(root)
    digest(root, "build")
    plan = root / "issues" / "1" / "plan.toml"
    text = plan.read_text()
    assert '# subject = "Harbour Weekly: Harbour Council Approves New Ferry Timetable"' in text
    plan.write_text(text.replace('# subject = "Harbour Weekly: Harbour Council Approves New Ferry Timetable"',
                                 'subject = "Our pick of the week"').replace("# date = ", "date = "))
    fixed_day = tomllib.loads(plan.read_text())["date"].isoformat()
    _swap_lead(plan, "pages/b.txt", "Ferry Operator Adds Night Sailings")
    for _ in range(2):  # an override survives a rebuild
        digest(root, "build")
        issue, subject = _built(root)
        assert subject == "Our pick of the week"
        assert issue["date"] == fixed_day
        assert issue["preheader"].startswith("Ferry Operator Adds Night Sailings.")  # not set: it follows
    assert 'subject = "Our pick of the week"' in plan.read_text()  # the plan is never rewritten


def test_the_archive_index_the_issue_page_the_feed_and_the_email_agree_on_the_date(tmp_path: Path) -> None:
    from digest.app.context import Context
    from digest.render.reading import format_date
    from digest.web.archive import atom_feed, index_page, sent_issues, web_version

    root = new_workspace(tmp_path)
    _two_pages(root)
    digest(root, "run", "--list", "list")
    issue, _ = _built(root)
    day = issue["date"]
    shown = format_date(datetime.fromisoformat(day))
    with Context(root) as ctx:
        archived = sent_issues(ctx)
        assert [a.day for a in archived] == [day]
        assert day in index_page(ctx.settings, archived)
        assert f"<published>{day}T00:00:00" in atom_feed(ctx.settings, archived)
        assert shown in web_version(ctx, 1)
    assert shown in (root / "issues" / "1" / "issue.html").read_text()
    sent = next((root / "outbox" / "new").iterdir()).read_bytes().decode("utf-8", "replace")
    assert shown in sent.replace("=\n", "")


def test_send_at_dates_the_issue_the_day_it_goes_out(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import time
    from datetime import timedelta

    from tests.app.weekly_helpers import DIGEST

    root = new_workspace(tmp_path)
    _two_pages(root)
    digest(root, "build")
    settings = tomllib.loads((root / "digest.toml").read_text())
    zone = ZoneInfo(settings["newsletter"].get("timezone", "UTC"))
    day = datetime.now(zone).date() + timedelta(days=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    waiting = subprocess.Popen([*DIGEST, "send", "--list", "list", "--at", f"{day} 07:00"], cwd=root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while _built(root)[0]["date"] != day.isoformat():
            assert waiting.poll() is None, waiting.communicate()
            assert time.monotonic() < deadline, "the issue was not dated the day it goes out"
            time.sleep(0.2)
    finally:
        waiting.send_signal(signal.SIGINT)
        waiting.communicate(timeout=60)
    assert not (root / "outbox" / "new").exists() or not list((root / "outbox" / "new").iterdir())
