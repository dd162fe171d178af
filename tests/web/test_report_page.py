"""`digest report --html` in Chromium: no request leaves the page, axe-core finds nothing serious, light and dark."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.cli import main
from tests.conftest import FIXTURES, needs_tool
from tests.helpers.report_ws import make_report_workspace

pytestmark = needs_tool("chromium", "apt-get install chromium")

AXE = FIXTURES / "axe-core" / "axe.min.js"
DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "img" / "report.png"


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    from digest.render.screenshots import CHROMIUM_ARGS, find_chromium

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _serious(page) -> list[str]:  # type: ignore[no-untyped-def]
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in result["violations"]
            if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_report_page_renders_offline_and_passes_axe(workspace: Path, runner, browser, scheme: str):
    from concurrent.futures import ThreadPoolExecutor

    out = workspace / "report.html"

    def make() -> int:
        # Away from Playwright's event loop: building and sending run their own.
        make_report_workspace(workspace, runner)
        return runner.invoke(main, ["report", "--html", str(out)]).exit_code

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(make).result() == 0
    context = browser.new_context(viewport={"width": 1100, "height": 900}, color_scheme=scheme)
    requests: list[str] = []

    def refuse(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url != out.resolve().as_uri():
            requests.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", refuse)
    page = context.new_page()
    page.goto(out.resolve().as_uri())
    page.wait_for_load_state("load")
    assert requests == []  # nothing but the page itself: no font, no script, no image fetched
    assert page.locator("svg").count() == 3 and page.locator("table").count() == 4
    assert page.get_by_role("img", name="Bar chart: clicks per story").is_visible()
    assert "Bridge Repairs Finished" in page.locator("table").nth(3).inner_text()
    assert _serious(page) == []
    if scheme == "light" and os.environ.get("DIGEST_DOCS_SCREENSHOT"):  # the docs' picture, made on request
        page.screenshot(path=str(DOCS_IMAGE), full_page=True)
    context.close()
