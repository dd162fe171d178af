"""Secrets never leak; content cannot inject links, markup or headers; servers stay on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import AuthResult

from digest.collect import collect
from digest.core.model import Image, TopNewsItem
from digest.core.settings import Settings
from digest.curate import curate
from digest.deliver.mailbox import MaildirHandler, serve_smtp
from digest.render import render_issue
from tests.conftest import ROOT, point_smtp_at
from tests.servers import RecordingHandler, ThreadedSMTP

PASSWORD = "pw-Very-Secret-9f8e7d"
SECRET = "tok-Very-Secret-1a2b3c-0123456789-abcdefghij"


def _reject(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    return AuthResult(success=False, handled=False)


def test_secrets_never_appear_after_a_failing_send(workspace: Path, runner):
    env = {"DIGEST_SMTP_PASSWORD": PASSWORD, "DIGEST_SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    handler = RecordingHandler()
    with ThreadedSMTP(handler, authenticator=_reject, auth_require_tls=False) as server:
        point_smtp_at(workspace, server.port)
        with (workspace / "digest.toml").open("a") as f:
            f.write('username = "digest"\n')
        outputs = []
        for command in (["build"], ["send", "--list", "subscribers/example.csv"], ["status"],
                        ["send", "--test-to", "x@example.com"], ["subscribers", "export-suppressed"]):
            done = subprocess.run([sys.executable, "-m", "digest", *command], cwd=workspace, env=env,
                                  capture_output=True, text=True, timeout=60)
            outputs.append(done.stdout + done.stderr)
        send_output = outputs[1]
        assert "refused the login: 535" in send_output, send_output
        assert handler.received == []
    everything = "\n".join(outputs)
    for path in workspace.rglob("*"):
        if path.is_file():
            everything += path.read_bytes().decode("latin-1")
    assert PASSWORD not in everything
    assert SECRET not in everything


def test_content_links_are_http_https_or_mailto_only():
    article = collect([ROOT / "pages"]).articles[0]
    article = dataclasses.replace(
        article, url="javascript:alert(1)", image=Image("javascript:alert(2)", "x"),
        top_news=(TopNewsItem("A", "s", "data:text/html,<script>alert(3)</script>"),
                  TopNewsItem("B", "s", "vbscript:msgbox"), TopNewsItem("C", "s", "https://ok.example/c")))
    issue = dataclasses.replace(curate([article]).issue, number=1)
    html = render_issue(issue, Settings()).html
    hrefs = re.findall(r'\b(?:href|src)="([^"]*)"', html)
    assert "https://ok.example/c" in hrefs
    for value in hrefs:
        assert value == "" or re.match(r"^(https?:|mailto:|#|dgst)", value), value
    assert "javascript:" not in html and "vbscript:" not in html and "data:text" not in html


def _listening_addresses(port: int) -> set[str]:
    """Local addresses listening on `port`, from the kernel's table (/proc/net/tcp, tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_embedded_mailbox_listens_on_loopback_only(tmp_path: Path):
    async def listening() -> set[str]:
        async with serve_smtp(MaildirHandler(tmp_path / "outbox")) as port:
            return _listening_addresses(port)

    assert asyncio.run(listening()) == {"0100007F"}  # 127.0.0.1, and nothing else


def test_web_servers_default_to_loopback(runner):
    from digest.cli import main

    for command in ("serve", "preview"):
        assert "[default: 127.0.0.1]" in runner.invoke(main, [command, "--help"]).output


def test_feed_content_that_looks_like_a_url_or_path_is_never_fetched_or_opened(tmp_path: Path):
    import pytest

    from digest.collect.feed import parse_feed
    from digest.core.errors import SourceError

    secret_feed = tmp_path / "private.xml"
    secret_feed.write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>Private</title>'
                           "<item><title>Leaked entry</title></item></channel></rss>")
    for text in (str(secret_feed), f"file://{secret_feed}", "http://127.0.0.1:9/feed.xml", "/etc/passwd"):
        with pytest.raises(SourceError):  # parsed as the (bad) document it is, not followed
            parse_feed(text, path="evil.xml")
