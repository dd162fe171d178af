"""The reader's side in Chromium: subscribe from the archive, manage lists, download data, erase; axe-core.

Each page is checked with axe-core (tests/fixtures/axe, MPL-2.0) light and dark, at 375 and 1280 px:
no serious or critical violation. Run with -s to see the summary table docs/web.md quotes.
"""

from __future__ import annotations

import json
import re
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

from digest.app.context import Context
from digest.cli import main
from digest.compose import sign_manage_token
from digest.web.server import create_app
from tests.conftest import needs_tool
from tests.web_helpers import ThreadedUvicorn

AXE = Path(__file__).parent.parent / "fixtures" / "axe" / "axe.min.js"
READER = "grace@example.org"
VIEWS = [(scheme, width) for scheme in ("light", "dark") for width in (375, 1280)]
AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
                                 target: String(v.nodes[0].target)}));
}"""


def _axe(page: Any, url: str) -> dict[str, list[dict[str, Any]]]:
    """axe-core's violations of one page in each view: 'light 375' → [violations]."""
    found = {}
    for scheme, width in VIEWS:
        page.set_viewport_size({"width": width, "height": 900})
        page.emulate_media(color_scheme=scheme)
        page.goto(url)
        page.add_script_tag(path=str(AXE))
        found[f"{scheme} {width}"] = page.evaluate(AXE_RUN)
    return found


def _serious(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [f"{view}: {v['id']} ({v['impact']}) at {v['target']}" for view, found in results.items()
            for v in found if v["impact"] in ("serious", "critical")]


def _summary(name: str, results: dict[str, list[dict[str, Any]]]) -> str:
    worst = ("serious", "critical")
    counts = {view: f"{sum(v['impact'] in worst for v in found)} serious/critical"
                    + "".join(f"; {v['id']} ({v['impact']})" for v in found if v["impact"] not in worst)
              for view, found in results.items()}
    return f"| {name} | " + " | ".join(counts[f"{s} {w}"] for s, w in VIEWS) + " |"


def _mails(outbox: Path) -> list[Any]:
    return [message_from_bytes(p.read_bytes(), policy=default) for p in sorted((outbox / "new").iterdir())]


def _files_naming(root: Path, address: str) -> list[str]:
    needle = address.encode()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and "outbox" not in p.relative_to(root).parts and needle in p.read_bytes().lower())


@needs_tool("chromium", "apt-get install chromium")
def test_reader_pages_in_chromium(workspace: Path, runner):
    from playwright.sync_api import expect, sync_playwright

    from digest.render.screenshots import CHROMIUM_ARGS, find_chromium

    with (workspace / "digest.toml").open("a", encoding="utf-8") as f:
        f.write("")  # the repository's settings as they are; the description is set below
    text = (workspace / "digest.toml").read_text()
    (workspace / "digest.toml").write_text(text.replace("[newsletter]\n", '[newsletter]\ndescription = "Science '
                                                        'news from Central Asia, every week."\n', 1))
    (workspace / "subscribers" / "monthly.csv").write_text("email,name\ngrace@example.org,Grace Hopper\n")
    assert runner.invoke(main, ["build"]).exit_code == 0
    assert runner.invoke(main, ["send", "--list", "example"]).exit_code == 0
    old_list = (workspace / "subscribers" / "example.csv").read_bytes()
    ctx = Context(workspace)
    token = sign_manage_token(ctx.secret, email=READER)
    summary = ["| page | light 375 | light 1280 | dark 375 | dark 1280 |", "|---|---|---|---|---|"]
    serious: list[str] = []
    with ThreadedUvicorn(create_app(ctx)) as web, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        try:
            # bypass_csp: the pages allow no script at all, and axe is one.
            page = browser.new_context(bypass_csp=True, accept_downloads=True).new_page()
            for name, path in (("archive index", "/archive/"), ("issue page", "/archive/1"),
                               ("manage page", f"/manage/{token}"), ("erase confirmation", f"/manage/{token}/erase")):
                results = _axe(page, web.url + path)
                summary.append(_summary(name, results))
                serious += [f"{name} {line}" for line in _serious(results)]

            # The home page: branding, the issue, the feed link; subscribe from it, end to end.
            page.emulate_media(color_scheme="light")
            page.goto(web.url + "/archive/")
            expect(page.locator("header")).to_contain_text("Science news from Central Asia")
            assert page.locator('link[rel="alternate"][type="application/atom+xml"]').count() == 1
            page.click("text=Issue 1:")
            assert page.locator('meta[property="og:title"]').get_attribute("content")
            assert page.locator('link[rel="canonical"]').get_attribute("href") == "https://news.example.com/archive/1"
            page.fill("#dg-email", "new.reader@example.net")
            page.click("button:has-text('Subscribe')")
            expect(page.locator("h1")).to_have_text("Check your inbox")
            [confirm] = [m for m in _mails(workspace / "outbox") if "new.reader@example.net" in str(m["To"])
                         ] or [None]
            for _ in range(100):
                if confirm is not None:
                    break
                page.wait_for_timeout(100)  # the confirmation mail goes out after the answer
                found = [m for m in _mails(workspace / "outbox") if "new.reader@example.net" in str(m["To"])]
                confirm = found[0] if found else None
            assert confirm is not None
            link = re.search(r"https://news\.example\.com(/confirm/[^\s\"<]+)", confirm.get_body(("plain",))
                             .get_content()).group(1)
            page.goto(web.url + link)
            page.click("button:has-text('Yes, subscribe me')")
            expect(page.locator("h1")).to_have_text("You are subscribed")
            assert any(m.email == "new.reader@example.net" for m in ctx.store.members("example"))

            # The manage page: untick one list and save; data; erase.
            [mail] = [m for m in _mails(workspace / "outbox") if READER in str(m["To"])]
            manage = re.search(r'href="https://news\.example\.com(/manage/[^"]+)"',
                               mail.get_body(("html",)).get_content()).group(1)
            page.goto(web.url + manage)
            expect(page.locator("main")).to_contain_text("g***@e***.org")
            page.uncheck("input[value=example]")
            page.click("button:has-text('Save my choice')")
            expect(page.locator("[role=status]")).to_contain_text("saved")
            assert ctx.store.is_suppressed(READER, list_name="example")
            assert not ctx.store.is_suppressed(READER, list_name="monthly")
            with page.expect_download() as download:
                page.click("text=Download what we store about you")
            data = json.loads(Path(download.value.path()).read_text())
            assert data["email"] == READER and data["lists"] == {"example": False, "monthly": True}
            page.click("text=Erase everything we store about you")
            page.click("button:has-text('Yes, erase my data')")
            expect(page.locator("h1")).to_have_text("Your data is erased")
        finally:
            browser.close()
    ctx.close()
    print("\n".join(["", *summary]))  # the table docs/web.md quotes
    assert serious == [], serious
    assert _files_naming(workspace, READER) == []
    (workspace / "subscribers" / "example.csv").write_bytes(old_list)  # an old copy of the list
    (workspace / "pages" / "next.txt").write_text("Next Story\n\nSource: Wire | 2026-11-27\n\nNews again.\n")
    assert runner.invoke(main, ["build"]).exit_code == 0
    sent = runner.invoke(main, ["send", "--list", "example"])
    assert "1 row(s) of the lists skipped: erased on request" in sent.output, sent.output
    assert sum(READER in str(m["To"]) for m in _mails(workspace / "outbox")) == 1


@needs_tool("chromium", "apt-get install chromium")
def test_the_static_archive_gives_the_same_pages(workspace: Path, runner):
    from playwright.sync_api import sync_playwright

    from digest.render.screenshots import CHROMIUM_ARGS, find_chromium

    assert runner.invoke(main, ["build"]).exit_code == 0
    assert runner.invoke(main, ["send", "--list", "example"]).exit_code == 0
    result = runner.invoke(main, ["archive", "--out", "site"])
    assert result.exit_code == 0, result.stderr
    site = workspace / "site"
    assert {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()} == {
        "index.html", "1/index.html", "feed.xml", "sitemap.xml"}
    served = create_app(Context(workspace))
    from starlette.testclient import TestClient

    client = TestClient(served, base_url="http://127.0.0.1")
    for path, file in (("/archive/", "index.html"), ("/archive/1", "1/index.html")):
        live = client.get(path).text
        static = (site / file).read_text()
        # The same page but for where its links point (relative in the static copy; the form posts to base_url).
        normal = re.compile(r'(href|action)="[^"]*"')
        assert normal.sub("", live) == normal.sub("", static), path
    serious: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(bypass_csp=True).new_page()
            for file in ("index.html", "1/index.html"):
                serious += [f"{file} {line}" for line in _serious(_axe(page, (site / file).as_uri()))]
            page.goto((site / "index.html").as_uri())
            page.click("text=Issue 1:")
            assert page.url.endswith("/site/1/") or page.url.endswith("/site/1/index.html")
        finally:
            browser.close()
    assert serious == [], serious
