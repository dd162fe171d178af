"""The weekly cycle's edges, found by an attack pass: recurring columns, corrections, future dates, proofs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.app.weekly_helpers import days_ago, digest, feed, later, new_workspace, now, page_dump, stories


def _column(title: str, url: str, when: object, about: str = "the ferry, the library and the rail line") -> str:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Letters</title><link>https://paper.example/'
            f"</link><description>x</description><item><title>{title}</title><link>{url}</link><description>"
            f"This week our readers write to us about {about}.</description><pubDate>{when}</pubDate>"
            "</item></channel></rss>")


def test_a_recurring_column_with_a_new_url_goes_out_every_week(tmp_path: Path) -> None:
    from email.utils import format_datetime

    root = new_workspace(tmp_path)
    (root / "pages" / "lead.txt").write_text(page_dump("Harbour Council Approves New Ferry Timetable", [],
                                                       when=days_ago(1)))
    (root / "pages" / "letters.rss").write_text(_column("Letters to the Editor", "https://paper.example/letters/1",
                                                        format_datetime(days_ago(1))))
    digest(root, "run", "--list", "list")
    assert "Letters to the Editor" in stories(root, 1)
    later()
    (root / "pages" / "lead2.txt").write_text(page_dump("Ferry Operator Adds Night Sailings", [], when=now()))
    (root / "pages" / "letters.rss").write_text(_column("Letters to the Editor", "https://paper.example/letters/2",
                                                        format_datetime(now()), about="the new playground"))
    digest(root, "run", "--list", "list")
    assert "Letters to the Editor" in stories(root, 2)


def test_the_same_story_at_another_url_of_its_site_is_not_sent_again(tmp_path: Path) -> None:
    from email.utils import format_datetime

    root = new_workspace(tmp_path)
    (root / "pages" / "lead.txt").write_text(page_dump("Harbour Council Approves New Ferry Timetable", [],
                                                       when=days_ago(1)))
    (root / "pages" / "town.rss").write_text(_column("Library Extends Weekend Opening Hours",
                                                     "https://paper.example/news/library-hours?utm_source=rss",
                                                     format_datetime(days_ago(1)), about="the library's hours"))
    digest(root, "run", "--list", "list")
    assert "Library Extends Weekend Opening Hours" in stories(root, 1)
    later()
    (root / "pages" / "lead2.txt").write_text(page_dump("Ferry Operator Adds Night Sailings", [], when=now()))
    # Re-dated, at its AMP address with another tracking parameter: the same story.
    (root / "pages" / "town.rss").write_text(_column("Library Extends Weekend Opening Hours",
                                                     "https://paper.example/news/library-hours/amp?CMP=rss",
                                                     format_datetime(now()), about="the library's hours"))
    digest(root, "run", "--list", "list")
    assert "Library Extends Weekend Opening Hours" not in stories(root, 2)


def test_a_correction_after_sending_keeps_what_went_out_as_sent(tmp_path: Path) -> None:
    root = new_workspace(tmp_path)
    (root / "pages" / "w1.txt").write_text(page_dump("Harbour Council Approves New Ferry Timetable",
                                                     ["Coastal Rail Line Reopens After Storm Repairs"],
                                                     when=days_ago(1)))
    digest(root, "run", "--list", "list")
    plan = root / "issues" / "1" / "plan.toml"
    text = plan.read_text()
    plan.write_text(text[:text.index("\n[[top]]\n")] + "\n\n" + text[text.index("# Every article"):])  # item removed
    digest(root, "build", "--issue", "1")
    assert "Coastal Rail Line Reopens After Storm Repairs" not in stories(root, 1)
    later()
    (root / "pages" / "w2.txt").write_text(page_dump("Ferry Operator Adds Night Sailings",
                                                     ["Coastal Rail Line Reopens After Storm Repairs"], when=now()))
    digest(root, "run", "--list", "list")
    assert "Coastal Rail Line Reopens After Storm Repairs" not in stories(root, 2)  # readers had it


def test_a_future_dated_entry_deleted_from_a_plan_does_not_come_back(tmp_path: Path) -> None:
    root = new_workspace(tmp_path)
    future = now() + timedelta(days=40)
    (root / "pages" / "town.rss").write_text(feed([("Festival Programme Published Early", future),
                                                   ("Lighthouse Keepers Reunite For Anniversary", days_ago(1))]))
    digest(root, "build")
    plan = root / "issues" / "1" / "plan.toml"
    assert "Festival Programme Published Early" in stories(root, 1)
    text = plan.read_text()
    head, rest = text.split("[lead]\n", 1)
    lead, tail = rest.split("\n\n", 1)
    plan.write_text(f'{head}[lead]\nsource = "pages/town.rss"\ntitle = "Lighthouse Keepers Reunite For '
                    f'Anniversary"\nurl = ""\nwords = 120\n\n' + "\n\n".join(
                        b for b in tail.split("\n\n") if "Festival Programme" not in b))
    digest(root, "run", "--list", "list")
    assert "Festival Programme Published Early" not in stories(root, 1)
    later()
    (root / "pages" / "town.rss").write_text(feed([("Festival Programme Published Early", future),
                                                   ("Bridge Repairs Finish Ahead Of Schedule", now()),
                                                   ("Lighthouse Keepers Reunite For Anniversary", days_ago(1))]))
    digest(root, "run", "--list", "list")
    assert stories(root, 2) == ["Bridge Repairs Finish Ahead Of Schedule"]


def test_a_list_named_testers_is_readers_not_a_proof(tmp_path: Path) -> None:
    from digest.app.planning import is_proof_list

    assert is_proof_list("proof") and is_proof_list("subscribers/proofs.csv") and is_proof_list("test-team")
    assert not is_proof_list("testers") and not is_proof_list("subscribers/proofreaders.csv")
    root = new_workspace(tmp_path)
    (root / "subscribers" / "testers.csv").write_text("email,name\ncarla@example.org,Carla\n")
    (root / "pages" / "w1.txt").write_text(page_dump("Harbour Council Approves New Ferry Timetable", [],
                                                     when=days_ago(1)))
    digest(root, "run", "--list", "testers")
    later()
    (root / "pages" / "w2.txt").write_text(page_dump("Ferry Operator Adds Night Sailings", [], when=now()))
    digest(root, "run", "--list", "testers")
    assert stories(root, 2) == ["Ferry Operator Adds Night Sailings"]


def test_two_runs_for_two_lists_a_moment_apart_both_lists_get_the_new_issue(tmp_path: Path) -> None:
    import os
    import subprocess
    import time

    from tests.app.weekly_helpers import DIGEST

    root = new_workspace(tmp_path)
    (root / "subscribers" / "members.csv").write_text("email,name\ncat@example.org,Cat\n")
    (root / "pages" / "w1.txt").write_text(page_dump("Harbour Council Approves New Ferry Timetable", [],
                                                     when=days_ago(1)))
    digest(root, "run", "--list", "list")
    digest(root, "run", "--list", "members")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    for week, delay in enumerate((0.3, 0.6, 0.9), start=2):
        later()
        (root / "pages" / f"w{week}.txt").write_text(page_dump(f"Week {week} Ferry Operator Adds Night Sailings",
                                                               [], when=now()))
        members = subprocess.Popen([*DIGEST, "run", "--list", "members"], cwd=root, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        listed = digest(root, "run", "--list", "list", check=False)
        members.communicate(timeout=300)
        assert listed.returncode == 0, listed.stderr
        got = {}
        for message in (root / "outbox" / "new").iterdir():
            text = message.read_text(errors="replace")
            if f"Week {week} Ferry" in text:
                for reader in ("ana@example.org", "bo@example.org", "cat@example.org"):
                    got[reader] = got.get(reader, 0) + (f"To: {reader}" in text or f"<{reader}>" in text)
        assert all(got.get(r) for r in ("ana@example.org", "bo@example.org", "cat@example.org")), (week, got)
