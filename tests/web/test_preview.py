"""`digest preview`: builds, shows errors in place, sends tests, and reloads live in a real Chromium."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from click.testing import CliRunner
from starlette.testclient import TestClient

from digest.app.context import Context
from digest.cli import main
from digest.web.preview import create_preview_app
from tests.conftest import needs_tool, point_smtp_at
from tests.helpers.web import json_status
from tests.web_helpers import ThreadedUvicorn

LOCAL = "http://127.0.0.1"  # the apps answer to loopback names only

LEAD = "China, Central Asian Countries Share High-quality Development"


def test_preview_views_and_status(workspace: Path):
    app = create_preview_app(Context(workspace), [workspace / "pages"], watch=False)
    with TestClient(app, base_url=LOCAL) as client:
        status = client.get("/status").json()
        assert status["error"] is None and 0 < status["html_bytes"] < status["clip_bytes"]
        assert LEAD in status["subject"]
        email = client.get("/email").text
        assert LEAD in email and "prefers-color-scheme: dark" in email
        dark = client.get("/email?dark=1").text
        assert "prefers-color-scheme" not in dark and "@media all" in dark
        assert "Top News\n--------" in client.get("/part/text").text
        headers = client.get("/part/headers").text
        assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in headers and "<html" not in headers
        assert "Content-Transfer-Encoding: quoted-printable" in client.get("/part/raw").text
        assert 'id="email"' in client.get("/").text
    # a preview reserves no issue number
    assert not (workspace / "issues").exists()
    assert "Issue 1:" in CliRunner().invoke(main, ["build"]).output


def test_build_error_is_shown_in_place_and_the_server_keeps_running(workspace: Path):
    app = create_preview_app(Context(workspace), [workspace / "pages"], watch=False)
    broken = workspace / "templates" / "digest.txt.j2"
    with TestClient(app, base_url=LOCAL) as client:
        broken.parent.mkdir(exist_ok=True)
        broken.write_text("fine\n{% for %}\n")
        client.portal.call(app.state.rebuild)
        status = client.get("/status").json()
        assert status["error"].startswith("templates/digest.txt.j2:2: TemplateSyntaxError")
        assert "templates/digest.txt.j2:2" in client.get("/email").text
        broken.unlink()
        client.portal.call(app.state.rebuild)
        assert client.get("/status").json()["error"] is None
        assert LEAD in client.get("/email").text


def test_send_test_form_uses_the_send_path(workspace: Path, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    app = create_preview_app(Context(workspace), [workspace / "pages"], watch=False)
    with TestClient(app, base_url=LOCAL) as client:
        token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text).group(1)
        page = {"Origin": LOCAL, "X-Digest-CSRF": token, "Content-Type": "application/x-www-form-urlencoded"}
        result = client.post("/send-test", content=b"address=editor%40example.net", headers=page)
        assert result.status_code == 200 and result.json()["ok"], result.text
        bad = client.post("/send-test", content=b"address=not-an-address", headers=page)
        assert bad.status_code == 400 and "test address" in bad.json()["message"]
    assert [r.rcpt_tos for r in handler.received] == [["editor@example.net"]]


@needs_tool("chromium", "apt-get install chromium")
def test_chromium_sees_the_email_narrows_and_reloads_live(workspace: Path, runner):
    from playwright.sync_api import expect, sync_playwright

    from digest.render.screenshots import CHROMIUM_ARGS, find_chromium

    assert runner.invoke(main, ["templates", "init"]).exit_code == 0
    app = create_preview_app(Context(workspace), [workspace / "pages"], watch=True)
    with ThreadedUvicorn(app) as web, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(web.url + "/")
            frame = page.frame_locator("#email")
            expect(frame.locator("h1")).to_have_text(LEAD, timeout=15000)
            page.click("button[data-view=mobile]")
            expect(page.locator("#email")).to_have_css("width", "375px", timeout=5000)
            expect(frame.locator("h1")).to_be_visible()
            page.screenshot(path=str(workspace / "preview-mobile.png"))
            # Edit a template: the page shows the change by itself, no reload by us.
            footer = workspace / "templates" / "partials" / "footer.mjml.j2"
            footer.write_text(footer.read_text().replace("{{ newsletter.reason }}", "Live edit works"))
            expect(frame.locator("text=Live edit works")).to_be_visible(timeout=20000)
            expect(page.locator("#email")).to_have_css("width", "375px")  # the chosen view is kept
        finally:
            browser.close()


def _poll(check, limit: float) -> bool:
    """Poll until `check()` holds or `limit` seconds pass (a deadline for waiting, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _wait_for(check, what: str) -> None:
    assert _poll(check, 30), f"preview never showed {what}"


def _until_watching(web: ThreadedUvicorn, config: Path) -> None:
    """The watcher starts after the first build: edit in place until a rebuild shows it is on."""
    for probe in range(1, 16):
        seen = json_status(web.url)["version"]
        with config.open("a", encoding="utf-8") as f:
            f.write(f"# probe {probe}\n")
        if _poll(lambda seen=seen: json_status(web.url)["version"] > seen, 2):
            return
    raise AssertionError("the preview never rebuilt after an in-place edit")


def _rename_save(path: Path, old: str, new: str) -> None:
    """What sed -i and most editors do: write a new file beside it and rename it over the old one."""
    before = path.stat().st_ino
    subprocess.run(["sed", "-i", f"s/{old}/{new}/", str(path)], check=True)
    assert path.stat().st_ino != before  # a new inode: the old one is gone


def test_preview_keeps_watching_after_rename_saves(workspace: Path):
    config = workspace / "digest.toml"
    page = workspace / "pages" / "stdaily-china-central-asia.txt"
    # A source named as a file is watched like digest.toml: through its folder.
    app = create_preview_app(Context(workspace), [page], watch=True)
    with ThreadedUvicorn(app) as web:
        _wait_for(lambda: json_status(web.url)["version"] >= 1, "the first build")
        _until_watching(web, config)
        for name in ("Renamed Once", "Renamed Twice", "Renamed Thrice"):
            _rename_save(config, "^name = .*", f'name = "{name}"')
            _wait_for(lambda name=name: json_status(web.url)["subject"].startswith(f"{name}: "),
                      f"the edit to {name!r}")
        for old, new in (("Share High-quality", "Share Better"), ("Share Better", "Share Greener")):
            _rename_save(page, old, new)
            _wait_for(lambda new=new: new in json_status(web.url)["subject"], f"the page edit to {new!r}")
        assert json_status(web.url)["error"] is None
