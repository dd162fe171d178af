"""The weekly cycle, with real processes: each issue carries only what is new, and nothing twice."""

from __future__ import annotations

from pathlib import Path

from tests.app.weekly_helpers import days_ago, digest, feed, later, new_workspace, now, page_dump, stories

WEEK1_TOP = ["Coastal Rail Line Reopens After Storm Repairs", "Harbour Swimming Club Celebrates 50 Years",
             "Library Extends Weekend Opening Hours On Saturdays"]
WEEK1_FEED = [("Lighthouse Keepers Reunite For Anniversary", days_ago(2)),
              ("Market Square Gets New Benches And Trees", days_ago(3)),
              ("School Choir Wins Regional Competition Again", days_ago(4))]
WEEK2_TOP = ["Coastal Rail Line Reopens After Storm Repairs", "Fishing Fleet Lands Record Winter Catch",
             "New Playground Opens In The Old Town"]


def _week1(root: Path) -> None:
    (root / "pages" / "week1.txt").write_text(page_dump("Harbour Council Approves New Ferry Timetable", WEEK1_TOP,
                                                        when=days_ago(1)))
    (root / "pages" / "town.rss").write_text(feed(WEEK1_FEED))


def _week2(root: Path) -> list[str]:
    """Week 2's files beside week 1's (the editor never empties pages/); returns the new feed titles."""
    later()
    (root / "pages" / "week2.txt").write_text(page_dump("Ferry Operator Adds Night Sailings", WEEK2_TOP, when=now()))
    fresh = [("Harbour Festival Dates Announced For Summer", now()), ("Bridge Repairs Finish Ahead Of Schedule", now())]
    (root / "pages" / "town.rss").write_text(feed(fresh + WEEK1_FEED))
    return [title for title, _ in fresh]


def test_the_second_issue_carries_only_what_is_new_and_a_third_run_sends_nothing(tmp_path: Path) -> None:
    root = new_workspace(tmp_path)
    _week1(root)
    digest(root, "run", "--list", "list")
    first = stories(root, 1)
    assert first[0] == "Harbour Council Approves New Ferry Timetable"
    assert "Coastal Rail Line Reopens After Storm Repairs" in first

    new_feed = _week2(root)
    second_run = digest(root, "run", "--list", "list")
    second = stories(root, 2)
    assert second[0] == "Ferry Operator Adds Night Sailings"
    assert not set(second) & set(first), f"issue 2 repeats issue 1: {set(second) & set(first)}"
    for title in [*new_feed, "Fishing Fleet Lands Record Winter Catch", "New Playground Opens In The Old Town"]:
        assert title in second
    assert "Skipped 1 already sent in issue 1" in second_run.stdout
    assert "left out" in second_run.stdout  # week 1's page and feed entries, seen before issue 1's cut-off
    assert len(list((root / "outbox" / "new").iterdir())) == 4  # two readers, two issues

    later()
    third = digest(root, "run", "--list", "list")
    assert third.returncode == 0
    assert "Nothing new since issue 2" in third.stdout
    assert not (root / "issues" / "3").exists()
    assert len(list((root / "outbox" / "new").iterdir())) == 4

    built = digest(root, "build", check=False)
    assert built.returncode == 4, built.stderr
    assert "Nothing new since issue 2" in built.stderr and "error" not in built.stderr
    assert not (root / "issues" / "3").exists()


def test_a_story_deleted_from_the_plan_stays_out_and_a_pinned_one_is_kept(tmp_path: Path) -> None:
    root = new_workspace(tmp_path)
    _week1(root)
    digest(root, "build")
    plan = root / "issues" / "1" / "plan.toml"
    text = plan.read_text()
    block = text[text.index("[[top]]"):]
    deleted = next(b for b in block.split("\n\n") if "Library Extends Weekend Opening Hours" in b)
    plan.write_text(text.replace(deleted + "\n\n", ""))
    digest(root, "run", "--list", "list")
    assert "Library Extends Weekend Opening Hours On Saturdays" not in stories(root, 1)

    _week2(root)
    digest(root, "build")
    assert "Library Extends Weekend Opening Hours On Saturdays" not in stories(root, 2)
    assert "Harbour Swimming Club Celebrates 50 Years" not in stories(root, 2)
    plan2 = root / "issues" / "2" / "plan.toml"
    plan2.write_text(plan2.read_text().replace(
        "\n[[top]]", '\n[[top]]\nsource = "pages/week1.txt"\ntitle = "Harbour Swimming Club Celebrates 50 Years"\n'
        'summary = "Fifty years on, the club is still in the water."\nurl = ""\n\n[[top]]', 1))
    digest(root, "run", "--list", "list")
    assert "Harbour Swimming Club Celebrates 50 Years" in stories(root, 2)


def test_a_proof_does_not_count_as_sent(tmp_path: Path) -> None:
    root = new_workspace(tmp_path)
    _week1(root)
    (root / "subscribers" / "proof.csv").write_text("email,name\neditor@example.org,Ed\n")
    digest(root, "build")
    digest(root, "send", "--list", "proof")
    later()
    digest(root, "build")
    assert stories(root, 1)[0] == "Harbour Council Approves New Ferry Timetable"  # still the open issue
    assert not (root / "issues" / "2").exists()


def test_since_chooses_by_hand_and_nothing_twice_still_holds(tmp_path: Path) -> None:
    root = new_workspace(tmp_path)
    _week1(root)
    digest(root, "run", "--list", "list")
    later()
    built = digest(root, "build", "--since", days_ago(30).date().isoformat(), check=False)
    # Every story of the period went out in issue 1: nothing twice holds even when the window is chosen by hand.
    assert built.returncode == 4
    assert "already sent" in built.stderr
