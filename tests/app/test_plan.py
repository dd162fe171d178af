"""The editor's plan: written once by build, edited by hand, and the issue rendered from it."""

from __future__ import annotations

import hashlib
import re
import tomllib
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from digest.app.context import Context
from digest.cli import main
from digest.web.archive import web_version
from tests.helpers.desk import build


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def known_section(plan: str) -> str:
    return plan[plan.index("[known]"):]


def top_titles(text: str) -> list[str]:
    return re.findall(r"^\* (.+)$", text.split("Top News\n--------", 1)[1], flags=re.MULTILINE)


def test_first_build_writes_the_plan_of_what_the_rules_chose(desk: Path, runner):
    result = build(runner)
    path = desk / "issues" / "1" / "plan.toml"
    assert "plan      issues/1/plan.toml (new: edit it and build again)" in result.output
    text = path.read_text(encoding="utf-8")
    plan = tomllib.loads(text)
    # Subject, preheader and date follow the lead until the editor sets them: written commented out.
    assert "subject" not in plan and "preheader" not in plan and "date" not in plan
    assert '# subject = "Science & Cooperation Weekly: Harbour Reopens After Storm"' in text
    assert '# preheader = "The harbour reopened on Thursday after three days of storm damage repairs."' in text
    assert plan["intro"] == ""
    assert plan["lead"] == {"source": "pages/a-harbour.txt", "title": "Harbour Reopens After Storm", "url": "",
                            "words": 120}
    assert [(t["source"], t["title"], t["url"]) for t in plan["top"]] == [
        ("pages/a-harbour.txt", "Ferry Timetable Changes", ""),
        ("pages/b-council.txt", "Council Approves New Library", ""),
        ("pages/c-feed.rss", "Night Market Returns", "https://news.example.com/market"),
        ("pages/c-feed.rss", "School Choir Wins Prize", "https://news.example.com/choir"),
    ]
    assert plan["top"][2]["summary"] == "Stalls are back on Fridays."
    # Built again, the plan is what renders, and nothing is written over it.
    before = path.read_bytes()
    again = build(runner)
    assert "plan      issues/1/plan.toml (rendered from it)" in again.output
    assert path.read_bytes() == before


EDITED = '''subject = "Harbour Weekly: the storm is over"
preheader = "Plus a new library and the night market"
date = 2026-12-04
intro = """
Welcome back. *Big week* -- see [our map](https://example.com/map).

Second paragraph, **strong**.
"""

[lead]
source = "pages/a-harbour.txt"
title = "Harbour Reopens After Storm"

[[top]]
source = "pages/c-feed.rss"
title = "School Choir Wins Prize"
summary = "The choir won the regional contest."
url = "https://news.example.com/choir"

[[top]]
source = "pages/b-council.txt"
title = "Library approved"
summary = "Opens in 2027."
url = "https://example.com/library"

[[top]]
source = "pages/c-feed.rss"
title = "Night Market Returns"
summary = "Stalls are back on Fridays."
url = "https://news.example.com/market"

'''


def test_every_field_of_the_plan_shows_in_html_text_preview_and_archive(desk: Path, runner):
    build(runner)
    folder = desk / "issues" / "1"
    path = folder / "plan.toml"
    path.write_text(EDITED + known_section(path.read_text()), encoding="utf-8")
    result = build(runner, "--top", "1")
    assert "--top ignored: the plan decides" in result.stderr
    text = (folder / "issue.txt").read_text(encoding="utf-8")
    html = (folder / "issue.html").read_text(encoding="utf-8")
    assert text.startswith(
        "SCIENCE & COOPERATION WEEKLY · Issue 1 · 4 December 2026\n\n"
        "Welcome back. _Big week_ -- see our map (https://example.com/map).\n\n"
        "Second paragraph, *strong*.\n\n"
        "LOCAL\nHarbour Reopens After Storm\n===========================\n")
    # reordered, one deleted, one retitled with a new summary and URL
    assert top_titles(text) == ["School Choir Wins Prize", "Library approved", "Night Market Returns"]
    assert "* Library approved\n  Opens in 2027.\n  https://example.com/library\n\n" in text
    assert "Ferry Timetable Changes" not in text and "Ferry Timetable Changes" not in html
    assert "<title>Harbour Weekly: the storm is over</title>" in html
    assert "Plus a new library and the night market" in html
    assert "Issue 1 · 4 December 2026" in html
    assert re.search(r'<p[^>]*>Welcome back\. <em>Big week</em> -- see <a href="https://example.com/map"'
                     r'[^>]*>our map</a>\.</p>', html)
    assert re.search(r"<strong>strong</strong>", html)
    assert re.search(r'<a href="https://example.com/library"[^>]*>Library approved</a>', html)
    assert html.index("Welcome back") < html.index("<h1") < html.index("School Choir") < html.index("Library approved")
    message = message_from_bytes((folder / "preview.eml").read_bytes(), policy=default)
    assert message["Subject"] == "Harbour Weekly: the storm is over"
    assert message["Date"] == "Fri, 04 Dec 2026 00:00:00 +0000"
    assert "Welcome back. _Big week_" in message.get_body(("plain",)).get_content()
    assert "<em>Big week</em>" in message.get_body(("html",)).get_content()
    with Context(desk) as ctx:
        assert "<em>Big week</em>" in web_version(ctx, 1)


def test_swapping_the_lead_with_a_headline_and_an_own_excerpt(desk: Path, runner):
    build(runner)
    path = desk / "issues" / "1" / "plan.toml"
    plan = path.read_text()
    plan = plan.replace('[lead]\nsource = "pages/a-harbour.txt"\ntitle = "Harbour Reopens After Storm"',
                        '[lead]\nsource = "pages/b-council.txt"\ntitle = "Council Approves New Library"\n'
                        'headline = "A library for the square"\nexcerpt = """\nFirst line of ours.\n\nSecond.\n"""')
    path.write_text(plan)
    build(runner)
    folder = desk / "issues" / "1"
    text = (folder / "issue.txt").read_text()
    html = (folder / "issue.html").read_text()
    assert "POLITICS\nA library for the square\n========================\n" in text
    assert "\nFirst line of ours.\n\nSecond.\n\n" in text
    assert re.search(r"<h1[^>]*>A library for the square</h1>", html)
    assert "The council voted" not in text.split("Top News")[0]
    # The title names the article: without an excerpt of its own, the article's text is shown.
    path.write_text(plan.replace('excerpt = """\nFirst line of ours.\n\nSecond.\n"""', ""))
    build(runner)
    assert "The council voted to build a new library" in (folder / "issue.txt").read_text()


def test_same_content_and_plan_give_byte_identical_output(desk: Path, runner):
    build(runner)
    folder = desk / "issues" / "1"
    first = snapshot(folder)
    build(runner)
    assert snapshot(folder) == first
    path = folder / "plan.toml"
    original = path.read_text()
    path.write_text(original.replace('intro = """\n"""', 'intro = """\nA note.\n"""'))
    build(runner)
    assert snapshot(folder)["issue.html"] != first["issue.html"]
    path.write_text(original)
    build(runner)
    assert snapshot(folder) == first


def test_new_articles_are_listed_not_added_and_a_vanished_source_is_reported(desk: Path, runner):
    build(runner)
    folder = desk / "issues" / "1"
    first = snapshot(folder)
    (desk / "pages" / "d-late.txt").write_text(
        "Late Story About Bridges\n\nSource: Desk | 2026-11-27 08:00:00\n\nThe bridge opens.\n")
    result = build(runner)
    assert "new since the plan: 1 article(s), not in the issue" in result.output
    assert "Late Story About Bridges (pages/d-late.txt)" in result.output
    assert snapshot(folder) == first  # listed, not added: the issue is what it was
    (desk / "pages" / "c-feed.rss").unlink()
    gone = build(runner)
    plan_lines = (folder / "plan.toml").read_text().splitlines()
    market = plan_lines.index('title = "Night Market Returns"') - 1  # the line of its [[top]] header
    assert (f"issues/1/plan.toml:{market}: the source of 'Night Market Returns' (pages/c-feed.rss) is gone; "
            "the entry stays as written") in gone.stderr
    assert top_titles((folder / "issue.txt").read_text())[2:] == ["Night Market Returns", "School Choir Wins Prize"]


def test_a_deleted_lead_source_is_a_one_line_error(desk: Path, runner):
    build(runner)
    folder = desk / "issues" / "1"
    first = snapshot(folder)
    (desk / "pages" / "a-harbour.txt").unlink()
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 2
    lead_line = (folder / "plan.toml").read_text().splitlines().index("[lead]") + 1
    assert result.stderr == (f"digest: error: issues/1/plan.toml:{lead_line}: the lead is not among the articles: "
                             "its source pages/a-harbour.txt is gone (sources now: pages/b-council.txt, "
                             "pages/c-feed.rss)\n")
    assert snapshot(folder) == first


BAD_BASE = '''subject = "S"
preheader = "P"
date = 2026-12-04
intro = """
[[top]] in an intro is text, not a table
"""

[lead]
source = "pages/a-harbour.txt"
title = "Harbour Reopens After Storm"

[[top]]
title = "One"

[[top]]
title = "Two"
summary = "x"
'''


@pytest.mark.parametrize(("old", "new", "line", "message"), [
    ('summary = "x"', 'summry = "x"', 17,
     "unknown key 'summry' in [[top]] entry 2 (known keys: source, title, summary, url)"),
    ('preheader = "P"', 'pre_header = "P"', 2, "unknown key 'pre_header' in the plan "
     "(known keys: subject, preheader, date, intro, lead, top, known)"),
    ('title = "One"', "title = 3", 13, "[[top]] entry 1 title must be a string"),
    ("date = 2026-12-04", 'date = "next friday"', 3, "the plan date must be a date like 2026-12-04"),
    ('title = "Harbour Reopens After Storm"', 'title = "No Such Story"', 8,
     "the lead is not among the articles: no article titled 'No Such Story' in pages/a-harbour.txt "
     "(articles there: Harbour Reopens After Storm); to show another title, set headline"),
    ('title = "Two"', 'title = "Two', 16, "Illegal character '\\n' (TOML)"),
    ('title = "One"', 'title = "One"\nurl = "javascript:alert(1)"', 14,
     "[[top]] entry 1 url must be an http(s) or mailto: address without spaces, not 'javascript:alert(1)'"),
    ('[lead]\n', '[lead]\nwords = "many"\n', 9, "[lead] words must be a whole number"),
    ('summary = "x"', "[top.extra]\nsummary = 1", None, None),
])
def test_a_plan_with_a_mistake_is_one_line_with_file_and_line(desk: Path, runner, old, new, line, message):
    build(runner)
    folder = desk / "issues" / "1"
    path = folder / "plan.toml"
    path.write_text(BAD_BASE)
    build(runner)
    first = snapshot(folder)
    path.write_text(BAD_BASE.replace(old, new, 1))
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    if line is not None:
        assert result.stderr == f"digest: error: issues/1/plan.toml:{line}: {message}\n"
    else:
        assert result.stderr.startswith("digest: error: issues/1/plan.toml:")
    assert snapshot(folder) == {**first, "plan.toml": snapshot(folder)["plan.toml"]}  # nothing else touched


def test_intro_markdown_is_a_safe_subset(desk: Path, runner):
    build(runner)
    folder = desk / "issues" / "1"
    path = folder / "plan.toml"
    hostile = ('intro = """\n[click](javascript:alert(1)) and [data](data:text/html;base64,PHNjcmlwdD4=)\n'
               '<script>alert(2)</script><img src=x onerror=alert(3)> <a href="https://evil.example">raw</a>\n'
               '[fine](https://example.com/ok "title") {{ subscriber.email }}\n"""')
    path.write_text(path.read_text().replace('intro = """\n"""', hostile))
    build(runner)
    html = (folder / "issue.html").read_text()
    intro = html[html.index("[click]"):html.index("<h1")]
    assert "javascript:" not in intro.replace("[click](javascript:alert(1))", "")
    assert "<script" not in html and "<img" not in intro and "data:text" not in intro.replace("(data:text", "")
    assert "&lt;script&gt;alert(2)&lt;/script&gt;&lt;img src=x onerror=alert(3)&gt;" in intro
    assert '&lt;a href="https://evil.example"&gt;raw&lt;/a&gt;' in intro or \
        "&lt;a href=&quot;https://evil.example&quot;&gt;raw&lt;/a&gt;" in intro
    assert re.search(r'<a href="https://example.com/ok"[^>]*>fine</a>', intro)
    assert "{{ subscriber.email }}" in intro and "reader@example.com" not in intro  # data, not a template
    text = " ".join((folder / "issue.txt").read_text().split())
    assert "[click](javascript:alert(1))" in text and "fine (https://example.com/ok)" in text
    message = message_from_bytes((folder / "preview.eml").read_bytes(), policy=default)
    assert "<script" not in message.get_body(("html",)).get_content()


def test_the_open_issue_ends_when_its_sending_begins(desk: Path, runner, recorder):
    from tests.conftest import point_smtp_at

    server, handler = recorder
    point_smtp_at(desk, server.port)
    build(runner)
    (desk / "pages" / "d-late.txt").write_text("Late Story\n\nSource: Desk | 2026-11-27 08:00:00\n\nText.\n")
    assert "Issue 1:" in build(runner).output
    sent = runner.invoke(main, ["send", "--list", "subscribers/example.csv"])
    assert sent.exit_code == 0, sent.output + sent.stderr
    after = build(runner)
    assert "Issue 2:" in after.output and "issues/2/plan.toml (new" in after.output
    assert tomllib.loads((desk / "issues" / "2" / "plan.toml").read_text())["lead"]["title"] == "Late Story"


def test_editing_an_issue_that_went_out_says_so(desk: Path, runner, recorder):
    from tests.conftest import point_smtp_at

    server, _ = recorder
    point_smtp_at(desk, server.port)
    build(runner)
    assert runner.invoke(main, ["send", "--list", "subscribers/example.csv"]).exit_code == 0
    assert build(runner, "--issue", "1").stderr == ""  # the same plan: the same bytes, nothing to say
    path = desk / "issues" / "1" / "plan.toml"
    path.write_text(path.read_text().replace('intro = """\n"""', 'intro = """\nA late correction.\n"""'))
    edited = build(runner, "--issue", "1")
    assert "issue 1 has already gone out (to some lists at least): readers have the earlier version" in edited.stderr
    assert "A late correction." in (desk / "issues" / "1" / "issue.txt").read_text()
