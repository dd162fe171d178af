"""The walking skeleton end to end: build the sample, send it over real SMTP."""

from __future__ import annotations

import json
import re
from pathlib import Path

from digest.cli import main
from tests.conftest import point_smtp_at

LEAD = "China, Central Asian Countries Share High-quality Development"
TOP = [
    "Revived China-Japan-ROK Summit a 'Golden Opportunity'",
    "Scooping a Treasure Chest Full of Lunar History, China's Lunar Mission Hailed by Int'l Scientific Community",
]


def _unescape(html: str) -> str:
    import html as h

    return h.unescape(html)


def test_build_writes_html_text_and_json(workspace: Path, runner):
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0, result.output
    folder = workspace / "issues" / "1"
    html = (folder / "issue.html").read_text(encoding="utf-8")
    text = (folder / "issue.txt").read_text(encoding="utf-8")
    data = json.loads((folder / "issue.json").read_text(encoding="utf-8"))
    plain_html = _unescape(html)
    for title in [LEAD, *TOP]:
        assert title in plain_html
        assert title.split(",")[0] in text
    assert LEAD in text
    assert re.search(r'<td[^>]+style="[^"]+"', html), "CSS was not inlined"
    assert "@media" in html
    assert data["number"] == 1 and data["lead"]["title"] == LEAD
    assert [t["title"] for t in data["top_news"]] == TOP
    assert "issues/1/issue.html" in result.output


def test_rebuilding_the_same_content_keeps_the_number(workspace: Path, runner):
    assert runner.invoke(main, ["build"]).exit_code == 0
    again = runner.invoke(main, ["build"])
    assert again.exit_code == 0 and "Issue 1:" in again.output
    assert not (workspace / "issues" / "2").exists()


def test_send_delivers_one_message_per_subscriber(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    assert runner.invoke(main, ["build"]).exit_code == 0
    result = runner.invoke(main, ["send", "issues/1", "--list", "subscribers/example.csv"])
    assert result.exit_code == 0, result.output + result.stderr
    rows = (workspace / "subscribers" / "example.csv").read_text().splitlines()[1:]
    expected = {row.split(",")[0] for row in rows}
    assert len(handler.received) == len(rows) == 3
    assert {r.rcpt_tos[0] for r in handler.received} == expected
    for received in handler.received:
        message = received.message
        assert message.get_content_type() == "multipart/alternative"
        assert message["To"].addresses[0].addr_spec == received.rcpt_tos[0]
        assert LEAD in message["Subject"]
        assert LEAD in message.get_body(("plain",)).get_content()
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_second_send_sends_nothing_again(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    runner.invoke(main, ["build"])
    assert runner.invoke(main, ["send", "--list", "subscribers/example.csv"]).exit_code == 0
    again = runner.invoke(main, ["send", "--list", "subscribers/example.csv"])
    assert again.exit_code == 0
    assert "3 already sent" in again.output
    assert len(handler.received) == 3


def test_send_without_smtp_section_fills_the_embedded_maildir(workspace: Path, runner):
    import mailbox

    runner.invoke(main, ["build"])
    result = runner.invoke(main, ["send", "--list", "subscribers/example.csv"])
    assert result.exit_code == 0, result.output
    box = mailbox.Maildir(workspace / "outbox", create=False)
    recipients = sorted(m["Delivered-To"] for m in box)
    assert recipients == ["ada@example.com", "grace@example.org", "linus@example.com"]
