"""Untrusted text never reaches the terminal raw: SMTP replies, list cells, page text, paths."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import point_smtp_at
from tests.servers import RecordingHandler, ThreadedSMTP

# ESC (OSC title, CSI), BEL, the C1 CSI, and a right-to-left override.
HOSTILE = "\x1b]0;TITLE\x07 \x1b[2J \x9b31m \u202egnp.exe"
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def run(workspace: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "digest", *args], cwd=workspace, capture_output=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200"})
    return done.returncode, (done.stdout + done.stderr).decode("utf-8")


def assert_clean(output: str) -> None:
    found = RAW.findall(output.replace("\r\n", "\n"))
    assert not found, f"raw control characters reached the terminal: {found!r} in {output!r}"


class HostileReplies(RecordingHandler):
    """Refuses one recipient with a reply full of terminal escapes."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("grace"):
            return f"550 5.7.1 {HOSTILE} rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_smtp_replies_are_shown_escaped_in_status_and_errors(workspace: Path):
    with ThreadedSMTP(HostileReplies()) as server:
        point_smtp_at(workspace, server.port)
        assert run(workspace, "build")[0] == 0
        code, output = run(workspace, "send", "--list", "subscribers/example.csv")
        assert code == 3, output
        assert_clean(output)
        code, status = run(workspace, "status")
        assert_clean(status)
        assert "\\x1b]0;TITLE\\x07" in status and "\\u202egnp.exe" in status, status
        code, error = run(workspace, "send", "--test-to", "grace@example.org")
        assert code == 3 and "\\x1b]0;TITLE" in error, error
        assert_clean(error)


def test_list_cells_are_shown_escaped(workspace: Path):
    (workspace / "subscribers" / "evil.csv").write_text(
        "email,name,tags\n"
        f"ann@example.com,Ann,\x9b2J\n"
        f"bad\u202ex@example.com,B,\n"
        f"\"x{HOSTILE}@example.com\",C,\n", encoding="utf-8")
    for command in (["subscribers", "check", "subscribers/evil.csv"], ["subscribers", "stats"],
                    ["subscribers", "import", "subscribers/evil.csv", "--list", "clean"],
                    ["send", "--dry-run", "--list", "subscribers/evil.csv"]):
        if command[0] == "send":
            assert run(workspace, "build")[0] == 0
        _, output = run(workspace, *command)
        assert_clean(output)
        assert "\\" in output, (command, output)  # something was shown, escaped


def test_page_text_is_shown_escaped_in_collect_and_build(workspace: Path):
    page = workspace / "pages" / "evil.txt"
    page.write_text("Position: A > B\n\nEvil \x9bc [bold red]Title[/] [link=https://evil.example]x[/link] "
                    "\u202egnp.exe\n\nSource: Desk | 2026-11-20 10:00:00\n\nBody. Second sentence.\n",
                    encoding="utf-8")
    code, table = run(workspace, "collect", "pages/evil.txt")
    assert code == 0, table
    assert_clean(table)
    assert "[bold red]Title[/]" in table and "[link=https://evil.example]" in table  # shown, not obeyed
    code, as_json = run(workspace, "collect", "--json", "pages/evil.txt")
    assert_clean(as_json)
    [article] = json.loads(as_json)
    assert "\x9bc" in article["title"] and "\u202e" in article["title"]  # still the same data
    code, built = run(workspace, "build", "pages/evil.txt")
    assert code == 0, built
    assert_clean(built)


def test_paths_are_shown_escaped(tmp_path: Path):
    folder = tmp_path / "news\x1b]0;x\x07"
    code, output = run(tmp_path, "init", str(folder))
    assert code == 0, output
    assert_clean(output)
    code, output = run(folder, "templates", "init")
    assert code == 0, output
    assert_clean(output)
