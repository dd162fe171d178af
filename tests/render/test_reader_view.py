"""The email as a reader sees it in Chromium: contrast, links that look like links, aligned edges."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.cli import main
from tests.browser_checks import left_edges, text_contrast
from tests.conftest import FIXTURES, SAMPLE, needs_tool

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


def look(browser, url: str, width: int, scheme: str = "light") -> dict:
    """Open the page at a width and colour scheme: its texts, the lead's left edges, its scroll width."""
    page = browser.new_page(viewport={"width": width, "height": 900}, is_mobile=width < 480, color_scheme=scheme)
    try:
        page.goto(url)
        return {"texts": text_contrast(page), "edges": left_edges(page),
                "scroll_width": page.evaluate("document.documentElement.scrollWidth")}
    finally:
        page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [600, 375])
def test_all_text_has_contrast_and_every_link_is_recognisable(browser, issue_html, width, scheme):
    seen = look(browser, issue_html, width, scheme)["texts"]
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
    view = look(browser, issue_html, width)
    edges, scroll_width = view["edges"], view["scroll_width"]
    assert all(edge is not None for edge in edges.values()), edges
    print(f"{width}px: left edges {edges}")
    for part in ("title", "image", "button"):
        assert abs(edges[part] - edges["text"]) <= 1, (part, edges)
    assert scroll_width <= width


@pytest.fixture
def web_version_html(workspace: Path, runner) -> str:
    """The static web version of a sent issue whose lead and one Top News article are page dumps."""
    import asyncio
    import threading

    from digest.app.context import Context
    from digest.app.send import send_to_lists
    from digest.deliver.sender import SendOptions
    from digest.deliver.transport import MemoryTransport

    second = SAMPLE.read_text(encoding="utf-8")
    (workspace / "pages" / "second.txt").write_text(
        second.replace("China, Central Asian Countries Share High-quality Development", "A Second Page Dump")
              .replace("2023-05-18", "2023-05-17"), encoding="utf-8")
    shutil.copy(FIXTURES / "feed.rss", workspace / "pages" / "feed.rss")
    assert runner.invoke(main, ["build", "--lead", "Central Asian"]).exit_code == 0
    sending = send_to_lists(Context(workspace), workspace / "issues" / "1",
                            [workspace / "subscribers" / "example.csv"], options=SendOptions(),
                            on_problem=print, transport=MemoryTransport())
    # Playwright's sync API keeps an event loop running in this thread: send from another one.
    worker = threading.Thread(target=asyncio.run, args=(sending,))
    worker.start()
    worker.join()
    assert runner.invoke(main, ["archive", "--out", "site"]).exit_code == 0
    page = workspace / "site" / "1" / "index.html"
    assert 'id="article-1"' in page.read_text()
    return page.resolve().as_uri()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [600, 375])
def test_web_version_has_contrast_recognisable_links_and_aligned_edges(browser, web_version_html, width, scheme):
    view = look(browser, web_version_html, width, scheme)
    seen, edges = view["texts"], view["edges"]
    assert [t["text"] for t in seen if t["ratio"] < 4.5] == []
    assert [t["text"] for t in seen if t["link"] and not (t["underlined"] or t["button"])] == []
    assert any(t["text"].startswith("A Second Page Dump") and t["link"] for t in seen)  # Top News → its anchor
    assert abs(edges["title"] - edges["text"]) <= 1, edges
    assert view["scroll_width"] <= width
