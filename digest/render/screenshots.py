"""Look at the built email in a real browser: headless Chromium via Playwright, at 600 and 375 px."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from digest.core.errors import ConfigError

__all__ = ["BrowserCheck", "find_chromium", "check_in_browser", "CHROMIUM_ARGS"]

# Headless as root, no background traffic: this machine's network is closed.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


@dataclass(frozen=True, slots=True)
class BrowserCheck:
    """What the browser saw: widths, visibility, dark-mode colours, screenshot files."""

    mobile_scroll_width: int
    desktop_scroll_width: int
    title_visible_on_mobile: bool
    light_background: str
    dark_background: str
    screenshots: tuple[Path, ...]


def find_chromium() -> str:
    """The Chromium executable: $DIGEST_CHROMIUM, else chromium on PATH (Debian's package)."""
    for candidate in (os.environ.get("DIGEST_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    raise ConfigError("--screenshots needs Chromium (Debian: apt-get install chromium) or DIGEST_CHROMIUM")


def check_in_browser(html_path: Path, *, out: Path) -> BrowserCheck:
    """Load the HTML at 600 px and 375 px, light and dark; save screenshots into `out`."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ConfigError("--screenshots needs Playwright: pip install 'digest-newsletter[browser]'") from None
    executable = find_chromium()
    url = html_path.resolve().as_uri()
    shots: list[Path] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                desktop = browser.new_page(viewport={"width": 600, "height": 900})
                desktop.goto(url)
                desktop_width = int(desktop.evaluate("document.documentElement.scrollWidth"))
                shots.append(out / "screenshot-desktop.png")
                desktop.screenshot(path=str(shots[-1]), full_page=True)
                light = str(desktop.evaluate("getComputedStyle(document.body).backgroundColor"))

                mobile = browser.new_page(viewport={"width": 375, "height": 800}, is_mobile=True)
                mobile.goto(url)
                mobile_width = int(mobile.evaluate("document.documentElement.scrollWidth"))
                title = mobile.locator("h1").first
                box = title.bounding_box()
                visible = title.is_visible() and box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
                shots.append(out / "screenshot-mobile.png")
                mobile.screenshot(path=str(shots[-1]), full_page=True)
                mobile.emulate_media(color_scheme="dark")
                dark = str(mobile.evaluate("getComputedStyle(document.body).backgroundColor"))
                shots.append(out / "screenshot-mobile-dark.png")
                mobile.screenshot(path=str(shots[-1]), full_page=True)
            finally:
                browser.close()
    except PlaywrightError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"Chromium failed: {first_line}", path=executable) from None
    return BrowserCheck(mobile_width, desktop_width, visible, light, dark, tuple(shots))
