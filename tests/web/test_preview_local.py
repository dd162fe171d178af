"""`digest preview` is a local tool: loopback only, and the email it shows cannot script the page around it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from digest.cli import main
from tests.conftest import needs_tool
from tests.helpers.web import running
from tests.web_helpers import free_port

# A hostile email: it tries to read the page's session token (which sends test mail) and to mark its passage.
SCRIPT = ("<mj-raw><script>document.title = 'RAN';"
          "try { parent.document.title = 'PWNED ' + parent.document.querySelector('meta[name=csrf-token]').content;"
          " } catch (e) {}</script></mj-raw>")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "example.com"])
def test_preview_refuses_to_listen_beyond_loopback(workspace: Path, host: str):
    port = free_port()
    try:
        result = subprocess.run([sys.executable, "-m", "digest", "preview", "--host", host, "--port", str(port)],
                                cwd=workspace, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"digest preview --host {host} served") from None
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"digest: error: digest preview listens on loopback only, not "
                                                   f"{host}:"), lines
    assert f"ssh -L {port}:127.0.0.1:{port}" in lines[0]
    assert result.stdout == ""


@needs_tool("chromium", "apt-get install chromium")
def test_the_previewed_email_cannot_script_the_preview_page(workspace: Path, runner):
    from playwright.sync_api import expect, sync_playwright

    from digest.render.screenshots import CHROMIUM_ARGS, find_chromium

    assert runner.invoke(main, ["templates", "init"]).exit_code == 0
    template = workspace / "templates" / "digest.mjml.j2"
    template.write_text(template.read_text().replace("</mj-head>", f"{SCRIPT}</mj-head>", 1))
    with running(workspace, "preview") as preview, sync_playwright() as playwright:
        status, email = preview.request("GET", "/email")
        assert status == 200 and "<script>document.title = 'RAN'" in email  # the build kept it: a real test
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{preview.port}/")
            expect(page.frame_locator("#email").locator("h1")).to_be_visible(timeout=30_000)
            page.wait_for_timeout(500)
            assert not page.title().startswith("PWNED"), page.title()
            frame = page.frame_locator("#email").locator("html")
            assert frame.evaluate("() => document.title") != "RAN"
            # Opened on its own, /email is sandboxed too (its Content-Security-Policy).
            page.goto(f"http://127.0.0.1:{preview.port}/email")
            page.wait_for_timeout(500)
            assert page.title() != "RAN"
        finally:
            browser.close()
