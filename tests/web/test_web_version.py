"""The web version carries page-dump articles in full; the email's lead continues reading there."""

from __future__ import annotations

import asyncio
import html
import re
import shutil
from pathlib import Path

from starlette.testclient import TestClient

from digest.app.context import Context
from digest.app.send import send_to_lists
from digest.cli import main
from digest.deliver.sender import SendOptions
from digest.deliver.transport import MemoryTransport
from digest.web.server import create_app
from tests.conftest import FIXTURES, SAMPLE

VIEW = "https://news.example.com/archive/1"
LONG = [f"Paragraph {n} of the long story tells the reader one more thing about the harbour works." for n in
        range(1, 41)]


def long_page(title: str, date: str) -> str:
    """A page dump of 40 paragraphs."""
    body = "\n\n".join(LONG)
    return f"{title}\n\nSource: Harbour Weekly | {date} | Author: Desk\n\n{body}\n\nEditor: Someone\n"


def send(workspace: Path, runner) -> Context:
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0, result.stderr
    ws = Context(workspace)
    asyncio.run(send_to_lists(ws, workspace / "issues" / "1", [workspace / "subscribers" / "example.csv"],
                              options=SendOptions(), on_problem=print, transport=MemoryTransport()))
    return ws


def paragraphs(page: str) -> list[str]:
    return [html.unescape(p) for p in re.findall(r"<p[^>]*>\s*(.*?)\s*</p>", page, re.S)]


def test_long_page_dump_lead_continues_reading_in_the_web_version(workspace: Path, runner):
    (workspace / "pages" / "long.txt").write_text(long_page("Harbour Works Enter Their Final Year",
                                                            "2026-11-20 09:00:00"))
    ws = send(workspace, runner)
    email = (workspace / "issues" / "1" / "issue.html").read_text()
    shown = [p for p in paragraphs(email) if p.startswith("Paragraph ")]
    assert 0 < len(shown) < 40  # the excerpt
    assert re.search(rf'<a href="{VIEW}#continue"[^>]*>\s*Continue reading\s*</a>', email)
    text = (workspace / "issues" / "1" / "issue.txt").read_text()
    assert f"Continue reading: {VIEW}#continue" in text

    page = TestClient(create_app(ws), base_url="http://127.0.0.1").get("/archive/1").text
    assert [p for p in paragraphs(page) if p.startswith("Paragraph ")] == LONG  # all 40, in order
    continue_at = re.search(r'<p id="continue">\s*(.*?)\s*</p>', page, re.S)
    assert continue_at is not None and continue_at.group(1) == LONG[len(shown)]  # where the email stopped
    assert "Continue reading" not in page and "View in browser" not in page
    assert "/u/" not in page and "Reader" not in page  # not personalised, no token

    assert runner.invoke(main, ["archive", "--out", "site"]).exit_code == 0
    static = (workspace / "site" / "1" / "index.html").read_text()
    assert [p for p in paragraphs(static) if p.startswith("Paragraph ")] == LONG


def test_top_news_page_dumps_are_in_the_web_version_in_full(workspace: Path, runner):
    # The sample (2023) stays the lead with --lead; the long page becomes a Top News item.
    (workspace / "pages" / "long.txt").write_text(long_page("Harbour Works Enter Their Final Year",
                                                            "2023-05-01 09:00:00"))
    result = runner.invoke(main, ["build", "--lead", "Central Asian"])
    assert result.exit_code == 0, result.stderr
    email = (workspace / "issues" / "1" / "issue.html").read_text()
    assert re.search(rf'<a href="{VIEW}#article-1"[^>]*>Harbour Works Enter Their Final Year</a>', email)
    assert email.count(LONG[0]) == 1 and LONG[1] not in email  # its summary only
    ws = send(workspace, runner)
    page = TestClient(create_app(ws), base_url="http://127.0.0.1").get("/archive/1").text
    assert re.search(r'<a href="#article-1"[^>]*>Harbour Works Enter Their Final Year</a>', page)
    assert re.search(r'<h2 id="article-1">Harbour Works Enter Their Final Year</h2>', page)
    assert page.count(LONG[0]) == 2  # its Top News summary, and the article in full
    assert [p for p in paragraphs(page) if p.startswith("Paragraph ")] == LONG
    # The lead is a page dump too: in full, all 7 paragraphs of the sample.
    sample_first = "The China-Central Asia Summit is set to take place in Xi'an"
    assert sum(p.startswith(sample_first) for p in paragraphs(page)) == 1
    assert "China's poverty reduction and rural development experience" in html.unescape(page)


def test_an_article_with_its_own_url_keeps_linking_there(workspace: Path, runner):
    shutil.copy(FIXTURES / "article.html", workspace / "pages" / "article.html")
    ws = send(workspace, runner)
    email = (workspace / "issues" / "1" / "issue.html").read_text()
    assert re.search(r'<a href="https://news.example.com/2026/11/solar-farm"[^>]*>\s*Read more\s*</a>', email)
    assert "Continue reading" not in email and "#continue" not in email
    page = TestClient(create_app(ws), base_url="http://127.0.0.1").get("/archive/1").text
    assert "Read more" in page and 'id="continue"' not in page


def test_no_continue_reading_when_the_excerpt_is_the_whole_article(workspace: Path, runner):
    page = workspace / "pages" / SAMPLE.name
    page.write_text("Short Story\n\nSource: Wire | 2026-11-20\n\nOne paragraph only.\n")
    assert runner.invoke(main, ["build"]).exit_code == 0
    email = (workspace / "issues" / "1" / "issue.html").read_text()
    assert "Continue reading" not in email and "Read more" not in email
    assert "Continue reading" not in (workspace / "issues" / "1" / "issue.txt").read_text()


def test_a_broken_template_leaves_the_archive_up_and_archive_out_says_where(workspace: Path, runner):
    ws = send(workspace, runner)
    broken = workspace / "templates" / "partials" / "articles.mjml.j2"
    broken.parent.mkdir(parents=True)
    broken.write_text("{% for %}\n")
    response = TestClient(create_app(ws), base_url="http://127.0.0.1").get("/archive/1")
    assert response.status_code == 200 and "Continue reading" in response.text  # the email as it was sent
    result = runner.invoke(main, ["archive", "--out", "site"])
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert "templates/partials/articles.mjml.j2:1" in line and "Traceback" not in result.stderr
