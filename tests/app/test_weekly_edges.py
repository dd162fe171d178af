"""The weekly cycle's edges, found by an attack pass: recurring columns, corrections, future dates, proofs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.app.weekly_helpers import days_ago, digest, feed, later, new_workspace, now, page_dump, stories


def _column(title: str, url: str, when: object) -> str:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Letters</title><link>https://paper.example/'
            f"</link><description>x</description><item><title>{title}</title><link>{url}</link><description>"
            f"Readers write about the ferry, the library and the rail line.</description><pubDate>{when}</pubDate>"
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
                                                        format_datetime(now())))
    digest(root, "run", "--list", "list")
    assert "Letters to the Editor" in stories(root, 2)


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
