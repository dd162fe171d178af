"""Slightly malformed feeds are read with a warning; boilerplate never reaches the reader.

Every fixture here was written for its case (tests/fixtures/cases/); the real pages and feeds
that showed the problems are in tests/collect/test_real_pages_and_feeds.py.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from digest.cli import main
from digest.collect import read_source
from digest.collect.boilerplate import clean_title, drop_trailers, drop_trailing_byline, split_caption
from digest.core.errors import SourceError
from tests.conftest import FIXTURES

CASES = FIXTURES / "cases"


def read(name: str) -> tuple[list, list[str]]:
    warnings: list[str] = []
    return read_source(CASES / name, warnings=warnings), warnings


# -- 1. lenient feeds ---------------------------------------------------------------------------


def test_feed_with_blank_lines_before_the_xml_declaration_is_read_as_it_is():
    [article], warnings = read("feed-leading-newline.rss")
    assert (article.title, article.source, article.url) == (
        "Ferry Timetable Changes in December", "Harbour Weekly", "https://harbour.example.com/ferry-timetable")
    assert article.published == datetime(2026, 11, 30, 8, 15)
    assert article.paragraphs == ("Two early crossings move half an hour later from 7 December.",)
    assert warnings == []  # nothing was lost, nothing to say


def test_feed_with_a_bare_ampersand_keeps_what_feedparser_recovers_and_says_why():
    articles, warnings = read("feed-bare-ampersand.rss")
    assert [(a.title, a.author, a.url, a.published) for a in articles] == [
        ("Museum Reopens After Restoration", "Ines Duarte",
         "https://arts.example.org/museum?utm_source=rss&utm_medium=feed", datetime(2026, 12, 1, 10, 0)),
        ("Poetry Prize Shortlist Announced", "",
         "https://arts.example.org/poetry?utm_source=rss&utm_medium=feed", datetime(2026, 11, 30, 16, 30)),
    ]
    assert articles[0].source == "Arts & Letters"
    assert articles[0].paragraphs == ("The east wing & its frescoes are open again after three years.",)
    # The line of the first bare '&' (the channel title), the parser's reason, what was kept.
    assert warnings == [f"{CASES / 'feed-bare-ampersand.rss'}:4: malformed feed (not well-formed (invalid token)); "
                        "kept the 2 entries feedparser recovered"]


def test_a_cut_off_feed_is_still_refused_in_one_line():
    with pytest.raises(SourceError) as info:
        read("feed-cut-off.rss")
    message = str(info.value)
    assert message.startswith(f"{CASES / 'feed-cut-off.rss'}:7: feed is cut off: no closing </rss>")
    assert "\n" not in message


def test_collect_prints_no_empty_table_before_an_error(workspace: Path, runner):
    bad = workspace / "cut.rss"
    bad.write_bytes((CASES / "feed-cut-off.rss").read_bytes())
    result = runner.invoke(main, ["collect", str(bad)])
    assert result.exit_code == 2
    assert result.stdout == ""  # no table with no rows
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("digest: error: ") and "cut.rss:7: feed is cut off" in line


def test_collect_reads_the_malformed_feed_and_warns(workspace: Path, runner):
    result = runner.invoke(main, ["collect", str(CASES / "feed-bare-ampersand.rss"), "--json"])
    assert result.exit_code == 0, result.stderr
    assert "Museum Reopens After Restoration" in result.stdout
    assert result.stderr.startswith("digest: warning: ") and "malformed feed" in result.stderr


# -- 3. boilerplate --------------------------------------------------------------------------------


def test_site_name_and_date_after_the_title_are_dropped():
    [article], warnings = read("site-title.html")
    assert article.title == "Harbour wall repairs begin after winter storms"
    assert article.source == "Harbour Weekly"
    assert article.author == "Pia Holm"
    assert article.published == datetime(2025, 12, 3, 7, 45)
    # The copyright and citation trailers are gone; the article itself is whole.
    assert article.paragraphs == (
        "Work on the north harbour wall began on Thursday, three weeks after storms tore a twenty-metre "
        "gap in the stone.",
        "The council expects the repairs to take until March and has closed the promenade above the wall "
        "until then.",
        "Fishing boats will moor at the south quay while divers inspect the foundations for further damage.",
    )
    assert warnings == []


@pytest.mark.parametrize("title, names, expected", [
    ("Berlin confronts Germany's colonial past with new initiative | DW | 19.01.2020", ["DW.COM", "dw.com"],
     "Berlin confronts Germany's colonial past with new initiative"),
    ("Covid-19 – a year on - The Guardian", ["The Guardian", "theguardian.com"], "Covid-19 – a year on"),
    ("Reuters | Oil prices rise", ["Reuters"], "Oil prices rise"),
    ("Markets · January 19, 2020", [], "Markets"),
    ("Phys.org - Neanderthal tools", ["phys.org"], "Neanderthal tools"),
    ("Apples | Oranges", ["Fruit Daily"], "Apples | Oranges"),  # not the site: kept
    ("Harbour Weekly", ["Harbour Weekly"], "Harbour Weekly"),  # never the whole title
    ("Brexit - what next?", ["bbc.co.uk"], "Brexit - what next?"),
])
def test_title_suffixes(title, names, expected):
    assert clean_title(title, names) == expected


def test_caption_only_page_falls_back_to_its_description_with_a_warning():
    [article], warnings = read("caption-only.html")
    assert article.title == "Mayor and council agree on the new ferry budget"
    assert article.paragraphs == (
        "After two months of talks the mayor and the council agreed to fund three new electric ferries, "
        "with the first due in service by the summer of 2028.",
    )
    assert article.caption == "Council members vote on the ferry budget at City Hall on Tuesday evening."
    assert article.caption_credit == "Tribune Staff"
    assert article.image is not None and article.image.alt == article.caption
    assert (article.author, article.published) == ("Joel Park", datetime(2025, 12, 2, 18, 0))
    assert warnings == [f"{CASES / 'caption-only.html'}: only a photo caption found in the page; "
                        "using its description instead"]


def test_caption_only_page_without_a_description_is_an_error(tmp_path: Path):
    page = tmp_path / "c.html"
    text = (CASES / "caption-only.html").read_text()
    page.write_text("\n".join(line for line in text.splitlines() if "description" not in line))
    with pytest.raises(SourceError, match="only a photo caption"):
        read_source(page)


@pytest.mark.parametrize("paragraph, expected", [
    ("Tsai Ing-wen speaks in Taipei. Photo: AP", ("Tsai Ing-wen speaks in Taipei.", "AP")),
    ("The summit opens. (Photograph: Reuters)", ("The summit opens.", "Reuters")),
    ("A view of the crater. Image credit: NASA/JPL", ("A view of the crater.", "NASA/JPL")),
    ("He said the photo: was great and more.", None),
    ("The photo shows the mayor.", None),
])
def test_captions(paragraph, expected):
    assert split_caption(paragraph) == expected


def test_trailers_go_only_from_the_end():
    body = ["© 2019 is when it began.", "Text.", "© 2019 Science X Network", "Nature 574, 16-17 (2019)",
            "doi: 10.1038/d41586-019-02790-3"]
    assert drop_trailers(body) == ("© 2019 is when it began.", "Text.")
    assert drop_trailers(["© 2019 Science X Network"]) == ("© 2019 Science X Network",)  # never empty


def test_feed_summary_byline_equal_to_the_author_is_dropped():
    articles, warnings = read("feed-byline.rss")
    assert [(a.author, a.paragraphs) for a in articles] == [
        ("Ana Lima", ("The new release caches type information between runs.",)),
        # "as told by Rui Sato." is a sentence of the summary, and "By Tom Berg" is the author's.
        ("Tom Berg", ("A conversation about patience, users and grammars, as told by Rui Sato.",)),
        # A byline that names someone else than the item's author is information: kept.
        ("Build Notes Staff", ("Why remote caches miss more often than you think. By Mei Ito",)),
    ]
    assert warnings == []
    assert drop_trailing_byline("By Ana Lima", "Ana Lima") == "By Ana Lima"  # never empty


def test_meta_line_does_not_repeat_the_source(workspace: Path, runner):
    page = workspace / "pages" / "stdaily-china-central-asia.txt"
    # Without its byline ("By\u00a0WANG Xiaoxia") the page's only author is its publisher.
    page.write_text("\n".join(line for line in page.read_text().splitlines() if line.split()[:1] != ["By"]))
    assert runner.invoke(main, ["build"]).exit_code == 0
    text = (workspace / "issues" / "1" / "issue.txt").read_text()
    assert "Science and Technology Daily · 18 May 2023\n" in text
    assert "18 May 2023 · Science and Technology Daily" not in text
    html = (workspace / "issues" / "1" / "issue.html").read_text()
    assert "Science and Technology Daily · 18 May 2023 · Science and Technology Daily" not in html
