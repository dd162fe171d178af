"""The workspace around the build: digest init's settings, lists named from another folder, the theme's
contrast, --encoding beside URLs."""

from __future__ import annotations

import shutil
from pathlib import Path

from digest.cli import main
from tests.conftest import ROOT


def test_init_mentions_web_sources_and_fetch_settings(tmp_path: Path, runner):
    assert runner.invoke(main, ["init", str(tmp_path / "news")]).exit_code == 0
    toml = (tmp_path / "news" / "digest.toml").read_text()
    assert "# [[sources]]" in toml and "# [fetch]" in toml and "HTTP_PROXY" in toml


def test_encoding_is_said_to_apply_to_files_only_when_urls_are_given(workspace: Path, runner):
    from tests.helpers.fetching import configure
    from tests.http_sites import Site, rss, static

    feed_bytes = rss("Web", [("A web story of the week", "https://example.org/w", "Tue, 24 Nov 2026 08:00:00 GMT")])
    with Site({"/feed.xml": static(feed_bytes)}) as site:
        configure(workspace)
        result = runner.invoke(main, ["collect", "--encoding", "utf-8", "pages/", site.url("/feed.xml")])
    assert result.exit_code == 0, result.output
    assert "--encoding utf-8 applies to files only" in result.stderr


def test_list_paths_are_read_from_the_workspace_when_not_found_from_here(workspace: Path, runner, tmp_path: Path,
                                                                        monkeypatch):
    assert runner.invoke(main, ["build"]).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    dry = runner.invoke(main, ["-C", str(workspace), "send", "--list", "subscribers/example.csv", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    sent = runner.invoke(main, ["-C", str(workspace), "send", "--list", "subscribers/example.csv"])
    assert sent.exit_code == 0, sent.output
    again = runner.invoke(main, ["-C", str(workspace), "run", "--list", "subscribers/example.csv"])
    assert again.exit_code == 0 and "Nothing new since issue 1" in again.stdout, again.output  # nothing sent


def test_a_brand_colour_white_cannot_be_read_on_is_a_build_warning(workspace: Path, runner):
    toml = workspace / "digest.toml"
    toml.write_text(toml.read_text().replace('brand_color = "#0b5cab"', 'brand_color = "#ffcc00"'))
    built = runner.invoke(main, ["build"])
    assert built.exit_code == 0, built.output
    assert "the button text (white) on brand_color: #ffffff on #ffcc00 has a contrast of 1.5:1" in built.stderr
    shutil.copy(ROOT / "digest.toml", toml)
    assert "contrast" not in runner.invoke(main, ["build"]).stderr
