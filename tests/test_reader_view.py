"""The email as a reader sees it in Chromium: contrast, links that look like links, aligned edges."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.cli import main
from tests.browser_checks import left_edges, text_contrast
from tests.conftest import FIXTURES, needs_tool

pytestmark = needs_tool("chromium", "apt-get install chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    from digest.render.screenshots import CHROMIUM_ARGS, find_chromium

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def issue_html(workspace: Path, runner) -> str:
    """An issue with every kind of link: an HTML lead with image and URL, feed items, the footer's."""
    for name in ("article.html", "feed.rss"):
        shutil.copy(FIXTURES / name, workspace / "pages" / name)
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0, result.stderr
    return (workspace / "issues" / "1" / "issue.html").resolve().as_uri()


def open_page(browser, url: str, width: int, scheme: str = "light"):
    page = browser.new_page(viewport={"width": width, "height": 900}, is_mobile=width < 480, color_scheme=scheme)
    page.goto(url)
    return page


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [600, 375])
def test_all_text_has_contrast_and_every_link_is_recognisable(browser, issue_html, width, scheme):
    page = open_page(browser, issue_html, width, scheme)
    try:
        seen = text_contrast(page)
    finally:
        page.close()
    links = [t for t in seen if t["link"]]
    assert len(links) >= 6  # view in browser (2), Read more, two Top News headlines, unsubscribe
    low = [(t["text"], round(t["ratio"], 2), t["color"], t["background"]) for t in seen if t["ratio"] < 4.5]
    assert low == [], f"text under 4.5:1 in {scheme} mode"
    plain = [(t["text"], t["color"]) for t in links if not (t["underlined"] or t["button"])]
    assert plain == [], f"links that look like plain text in {scheme} mode"
    worst = min(t["ratio"] for t in seen)
    print(f"{scheme} {width}px: {len(seen)} texts, {len(links)} links, lowest contrast {worst:.2f}:1")


@pytest.mark.parametrize("width", [375, 600])
def test_lead_image_and_button_align_with_the_text(browser, issue_html, width):
    page = open_page(browser, issue_html, width)
    try:
        edges = left_edges(page)
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
    finally:
        page.close()
    assert all(edge is not None for edge in edges.values()), edges
    print(f"{width}px: left edges {edges}")
    for part in ("title", "image", "button"):
        assert abs(edges[part] - edges["text"]) <= 1, (part, edges)
    assert scroll_width <= width
