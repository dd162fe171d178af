"""Collect: page variants, encodings, HTML pages, feeds, folders, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.cli import main
from digest.collect import collect, read_source
from digest.collect.pagedump import parse_page
from digest.core.errors import SourceError
from tests.conftest import FIXTURES, SAMPLE


def test_html_page_article_without_boilerplate():
    [article] = read_source(FIXTURES / "article.html")
    assert article.kind == "html"
    assert article.title == "Solar farm opens in the desert"
    assert article.author == "Jane Roe"
    assert article.url == "https://news.example.com/2026/11/solar-farm"  # the canonical URL
    assert article.published is not None and article.published.isoformat() == "2026-11-24T09:30:00"
    assert article.image is not None and article.image.alt == "Rows of solar panels at dawn"
    assert len(article.paragraphs) == 3
    body = " ".join(article.paragraphs)
    for boilerplate in ("cookies", "Home", "Wind farm plans shelved", "Copyright"):
        assert boilerplate not in body


def test_rss_entries_are_clean_text():
    articles = read_source(FIXTURES / "feed.rss")
    assert [a.kind for a in articles] == ["feed", "feed"]
    first = articles[0]
    assert first.title == "Telescope Spots Water Vapour on a Distant Planet"
    assert first.author == "Mira Okafor" and first.source == "Example Science Desk"
    assert first.published is not None and first.published.isoformat() == "2026-11-24T14:00:00"
    summary = first.paragraphs[0]
    assert summary.startswith("Astronomers found water vapour & clouds")  # tags gone, entity decoded
    assert "<" not in summary and "alert" not in summary  # the script went with its content
    assert articles[1].title == "Revived China-Japan-ROK Summit a 'Golden Opportunity'"


def test_atom_entries_and_unsafe_links():
    articles = read_source(FIXTURES / "feed.atom")
    assert articles[0].title == "Battery Recycling Plant Opens & Hires 200"
    assert articles[0].paragraphs == ("The plant recovers lithium and cobalt from old cells.",)
    assert articles[0].url == "https://tech.example.org/2026/11/battery-plant"
    assert articles[1].url == ""  # javascript: links never reach the digest
    assert articles[1].published is None


def test_gb18030_file_is_detected_and_named(tmp_path: Path):
    text = SAMPLE.read_text(encoding="utf-8").replace("王晓夏", "王晓夏（编辑部）")
    path = tmp_path / "gb.txt"
    path.write_bytes(text.encode("gb18030"))
    warnings: list[str] = []
    [article] = read_source(path, warnings=warnings)
    assert article.editor == "王晓夏（编辑部）"
    assert len(warnings) == 1 and "gb18030" in warnings[0].lower() and str(path) in warnings[0]


def test_forced_encoding(tmp_path: Path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Café Opens Downtown\n\nThe café serves crêpes.\n".encode("latin-1"))
    [article] = read_source(path, encoding="latin-1")
    assert article.title == "Café Opens Downtown"


def test_utf8_bom_is_not_part_of_the_title(tmp_path: Path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + SAMPLE.read_bytes())
    [article] = read_source(path)
    assert article.breadcrumb[0] == "EnglishChannel"


def test_folder_source_is_sorted_and_lists_skipped_once(tmp_path: Path):
    folder = tmp_path / "week"
    folder.mkdir()
    (folder / "b.txt").write_text("Bee Story\n\nAbout bees.\n")
    (folder / "a.txt").write_text("Ant Story\n\nAbout ants.\n")
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    found = collect([folder])
    assert [a.title for a in found.articles] == ["Ant Story", "Bee Story"]
    assert found.skipped == [str(folder / "notes.docx")]


def test_truncated_feed_is_an_error(tmp_path: Path):
    path = tmp_path / "cut.xml"
    path.write_text((FIXTURES / "feed.rss").read_text()[:600])
    with pytest.raises(SourceError) as info:
        read_source(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_one_bad_file_does_not_abort_the_others_unless_strict(workspace: Path, runner):
    bad = workspace / "pages" / "zz-empty.txt"
    bad.write_bytes(b"")
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0, result.stderr
    assert f"{bad}" in result.stderr or "zz-empty.txt" in result.stderr
    strict = runner.invoke(main, ["build", "--strict"])
    assert strict.exit_code == 2
    assert "zz-empty.txt" in strict.stderr and "Traceback" not in strict.stderr


@pytest.mark.parametrize(
    "name, content, problem",
    [
        ("empty.txt", b"", "empty"),
        ("binary.bin.txt", b"\x00\x01\x02\x03" * 100, "binary"),
        ("cut.rss", b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title><item><title>A", "feed"),
    ],
)
def test_collect_cli_bad_files(workspace: Path, runner, name, content, problem):
    path = workspace / name
    path.write_bytes(content)
    result = runner.invoke(main, ["collect", str(path), "--json"])
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert name in line and problem in line.lower()
    assert "Traceback" not in result.stderr


def test_dangling_path_is_one_line(workspace: Path, runner):
    link = workspace / "gone.txt"
    link.symlink_to(workspace / "nowhere.txt")
    result = runner.invoke(main, ["collect", str(link)])
    assert result.exit_code == 2 and "gone.txt" in result.stderr


def test_collect_json_fields(workspace: Path, runner):
    result = runner.invoke(main, ["collect", "pages", str(FIXTURES / "feed.atom"), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.output)
    keys = {"origin", "kind", "title", "url", "source", "published", "author", "editor", "breadcrumb",
            "caption", "image", "paragraphs", "top_news"}
    assert all(keys <= set(obj) for obj in data)
    assert [obj["kind"] for obj in data] == ["page", "feed", "feed"]
    assert data[0]["top_news"][0] == {
        "title": "Revived China-Japan-ROK Summit a 'Golden Opportunity'",
        "summary": data[0]["top_news"][0]["summary"],
        "url": "",
    }


# -- properties -------------------------------------------------------------

_word = st.sampled_from("river stone market winter bridge signal garden copper harbour lantern".split())
_first = st.sampled_from("Many Some Local Most Every Several Quiet Bright".split())
_sentence = st.builds(lambda f, ws: " ".join([f, *ws]) + ".", _first, st.lists(_word, min_size=2, max_size=12))
_paragraph = st.builds(" ".join, st.lists(_sentence, min_size=1, max_size=3))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_parser_returns_an_article_or_our_error(text):
    try:
        article = parse_page(text, path="fuzz.txt")
    except SourceError as exc:
        assert "\n" not in str(exc)
    else:
        assert article.title


@settings(max_examples=100)
@given(st.lists(_paragraph, min_size=1, max_size=15, unique=True), st.booleans(), st.booleans())
def test_every_body_paragraph_appears_exactly_once(paragraphs, crlf, with_top_news):
    lines = ["Position: Home > World", "", "A Headline Here", "",
             "Source: Wire | 2026-11-24 10:00:00 | Author: Desk", ""]
    for p in paragraphs:
        lines += [p, ""]
    lines += ["Editor: Someone", ""]
    if with_top_news:
        lines += ["Top News", "", "Other Headline", "", "Other summary sentence.", ""]
    text = ("\r\n" if crlf else "\n").join(lines)
    article = parse_page(text, path="p.txt")
    for p in paragraphs:
        assert article.paragraphs.count(p) == 1
    assert len(article.paragraphs) == len(paragraphs)
