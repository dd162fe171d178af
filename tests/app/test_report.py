"""`digest report` over a workspace with several sent issues: outcomes, unsubscribes by kind, clicks per story."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from digest.cli import main
from tests.helpers.report_ws import make_report_workspace


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_report_counts_each_outcome_where_the_store_recorded_it(workspace: Path, runner, backend, request):
    if backend == "postgresql":
        request.getfixturevalue("pg_workspace")
    make_report_workspace(workspace, runner)
    result = runner.invoke(main, ["report", "--json"])
    assert result.exit_code == 0, result.output + result.stderr
    data = json.loads(result.output)
    one, two, three = data["issues"]
    assert (one["sent"], one["delivered"], one["hard_bounces"], one["soft_bounces"]) == (12, 10, 1, 1)
    assert (two["complaints"], two["unsub_link"], two["unsub_mail"]) == (1, 1, 0)
    assert (three["unsub_mail"], three["unsub_link"]) == (1, 0)
    assert [x["human"] for x in one["links"]] == [5, 2, 1] and all(x["machine"] == 1 for x in one["links"])
    assert one["links"][0]["title"] == "Harbour Reopens After Storm"
    assert one["click_rate"] == round(8 / 10, 4)
    top = [(x["title"], x["human"]) for x in data["top_stories"][:2]]
    assert top == [("Bridge Repairs Finished", 6), ("Harbour Reopens After Storm", 5)]
    tables = runner.invoke(main, ["report"])
    assert tables.exit_code == 0 and "Bridge Repairs Finished" in tables.output
    one_issue = json.loads(runner.invoke(main, ["report", "2", "--json"]).output)
    assert [i["issue"] for i in one_issue["issues"]] == [2]
    missing = runner.invoke(main, ["report", "9"])
    assert missing.exit_code != 0 and "issue 9 has not been sent" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_report_html_is_one_page_that_asks_nothing_of_the_network(workspace: Path, runner):
    make_report_workspace(workspace, runner)
    out = workspace / "report.html"
    result = runner.invoke(main, ["report", "--html", str(out)])
    assert result.exit_code == 0, result.output + result.stderr
    page = out.read_text()
    assert page.count("<svg") == 3 and page.count("<table") == 4
    assert "<script" not in page.lower()
    assert "<i>more</i>" not in page and "5 < 7" not in page  # a source's title is text, escaped
    for attribute in ('src="http', "src='http", "@import", "url(http", 'href="http'):
        assert attribute not in page, attribute


def test_the_preview_server_shows_the_same_page_latest_issue_first(workspace: Path, runner):
    from starlette.testclient import TestClient

    from digest.app.context import Context
    from digest.web.preview import create_preview_app

    make_report_workspace(workspace, runner)
    out = workspace / "report.html"
    assert runner.invoke(main, ["report", "--html", str(out)]).exit_code == 0
    app = create_preview_app(Context(workspace), [workspace / "pages"], watch=False)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = client.get("/report")
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    # The same page but for pygal's random chart ids.
    ids = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.sub(ids, "ID", page.text) == re.sub(ids, "ID", out.read_text())
    assert page.text.index("Issue 3: clicks per link") < page.text.index("List growth")


def test_titles_urls_and_names_from_outside_are_text_on_the_page():
    from digest.app.report import IssueReport, LinkReport, Report
    from digest.store.reports import IssueOutcome
    from digest.web.report_page import report_page

    link = LinkReport(1, 'https://a.example/"><script>alert(1)</script>',
                      "</title><script>alert(2)</script><img src=x onerror=alert(3)>", 2, 0, 0)
    found = Report((IssueReport(IssueOutcome(1, "", 3, 3, 0, 0, 0, 0, 0, 0, 0), "S<b>", (link,)),), (link,),
                   {"clicks": True})
    page = report_page(found, newsletter="N<i>")
    assert "<script" not in page.lower() and "<img" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;/title&gt;&lt;script&gt;alert(2)" in page


def test_a_title_cannot_drive_the_terminal_or_rich_markup():
    from rich.console import Console

    from digest.app.report import IssueReport, LinkReport
    from digest.cli.report import _links
    from digest.store.reports import IssueOutcome

    link = LinkReport(1, "https://a.example/", "\x1b[2J[bold red]Wiped[/bold red]\x07", 1, 0, 0)
    console = Console(record=True, width=100, force_terminal=False)
    console.print(_links(IssueReport(IssueOutcome(1, "", 1, 1, 0, 0, 0, 0, 0, 0, 0), "", (link,))))
    text = console.export_text()
    assert "\x1b" not in text and "\x07" not in text
    assert "[bold red]Wiped[/bold red]" in text  # shown as written, not obeyed
