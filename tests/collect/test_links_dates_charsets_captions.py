"""Real-world input at its edges: malformed links and dates, bad charsets, captions and trailers that are
article text, generic titles, page-dump oddities."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from digest.cli import main
from digest.collect import read_source
from digest.collect.boilerplate import drop_trailers, split_caption
from digest.collect.fetched import parse_fetched
from digest.collect.pagedump import parse_page
from digest.core.model import Article
from digest.curate import url_key
from digest.curate.dedupe import merge_duplicates

ITEM = ("<item><title>{title}</title><link>{link}</link><pubDate>{date}</pubDate>"
        "<description>{text}</description></item>")


def feed(*items: str) -> str:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Edge News</title>{"".join(items)}'
            "</channel></rss>")


def test_a_malformed_ipv6_link_in_a_feed_file_is_dropped_not_a_crash(workspace: Path, runner):
    (workspace / "pages" / "edge.xml").write_text(feed(
        ITEM.format(title="Malformed link story", link="http://[::1/x", date="Tue, 24 Nov 2026 08:00:00 GMT",
                    text="A summary."),
        ITEM.format(title="Another malformed link", link="http://[::1/x", date="Tue, 24 Nov 2026 08:00:00 GMT",
                    text="Another summary.")))
    built = runner.invoke(main, ["build"])
    assert built.exit_code == 0, built.output
    articles = read_source(workspace / "pages" / "edge.xml")
    assert [a.url for a in articles] == ["", ""]


@pytest.mark.parametrize("stamp", ["0000-00-00T00:00:00Z", "9999-12-31T23:59:59-12:00"])
def test_an_impossible_feed_date_leaves_the_entry_undated(tmp_path: Path, stamp: str):
    atom = (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><entry>'
            f'<title>Dated in no year</title><link href="https://example.org/a"/><updated>{stamp}</updated>'
            "<summary>Text.</summary></entry></feed>")
    path = tmp_path / "odd.atom"
    path.write_text(atom)
    [article] = read_source(path)
    assert article.title == "Dated in no year" and article.published is None


@pytest.mark.parametrize("label", ["undefined", "punycode", "idna"])
def test_a_charset_label_that_cannot_decode_falls_back_to_detection_with_a_warning(label: str):
    page = ("<!doctype html><html><head><title>Café opens on the harbour</title></head><body><article>"
            + "<p>The café on the harbour opened on Tuesday with a long queue of people waiting outside.</p>" * 4
            + "</article></body></html>").encode()
    warnings: list[str] = []
    [article] = parse_fetched(page, url="https://example.org/cafe", content_type=f"text/html; charset={label}",
                              warnings=warnings)
    assert article.title == "Café opens on the harbour"
    assert any(f"charset '{label}'" in w for w in warnings)


def test_a_forced_encoding_that_cannot_decode_is_one_line(workspace: Path, runner):
    result = runner.invoke(main, ["collect", "--encoding", "undefined", "pages/"])
    assert result.exit_code == 2 and "cannot decode the text as 'undefined'" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("paragraph", [
    "The central bank warned on housing and on credit: Moody's cut the outlook.",
    "He took a photo: Mike Smith smiled.",
    "The album's cover image: a black square that sold a million copies.",
])
def test_sentences_that_hold_photo_or_credit_are_not_captions(paragraph: str):
    assert split_caption(paragraph) is None


@pytest.mark.parametrize("paragraph, expected", [
    ("Council votes on the budget. Photo: Jane Doe/Reuters", ("Council votes on the budget.", "Jane Doe/Reuters")),
    ("Crowds in the square (Photo: AFP via Getty Images)", ("Crowds in the square", "AFP via Getty Images")),
    ("Photo: AP", ("", "AP")),
])
def test_credits_as_credits_are_written_still_make_captions(paragraph: str, expected: tuple[str, str]):
    assert split_caption(paragraph) == expected


def test_trailers_are_copyright_and_citation_lines_only():
    body = ["The council met.", "Copyright holders and publishers will have until March to respond."]
    assert drop_trailers(body) == tuple(body)
    assert drop_trailers(["The council met.", "Copyright 2020 The Courier. All rights reserved."]) == (
        "The council met.",)
    many = ["Text.", "© 2019 A", "© 2019 B", "© 2019 C", "© 2019 D"]
    assert drop_trailers(many) == ("Text.", "© 2019 A")  # three at most, from the very end


def test_an_html_article_keeps_paragraphs_that_look_like_credits_or_copyright(tmp_path: Path):
    paragraphs = ["Markets fell sharply on Tuesday as investors weighed new data from the central bank.",
                  "The bank warned on housing and on credit: Moody's cut the outlook.",
                  "Analysts expect further volatility in the coming weeks, as several reports are due.",
                  "Copyright holders and publishers will have until March to respond."]
    page = tmp_path / "markets.html"
    page.write_text("<!doctype html><html><head><title>Markets fall on bank warning</title></head><body><article>"
                    "<h1>Markets fall on bank warning</h1>" + "".join(f"<p>{p}</p>" for p in paragraphs)
                    + "</article></body></html>")
    [article] = read_source(page)
    assert article.paragraphs == tuple(paragraphs)


def test_short_generic_titles_merge_only_within_one_source():
    letters_a = Article("a.xml", "feed", "Letters", url="https://a.example/letters", source="The Courier")
    letters_b = Article("b.xml", "feed", "Letters", url="https://b.example/letters", source="The Tribune")
    weather_1 = Article("a.xml", "feed", "Weather", url="https://a.example/w/1", source="The Courier")
    weather_2 = Article("a.xml", "feed", "Weather", url="https://a.example/w/2", source="The Courier")
    dump = Article("pages/x.txt", "page", "Letters", source="The Courier", paragraphs=("Dear editor,",))
    kept, merges = merge_duplicates([letters_a, letters_b, weather_1, weather_2, dump])
    assert [(a.origin, a.title) for a in kept] == [("pages/x.txt", "Letters"), ("b.xml", "Letters"),
                                                  ("a.xml", "Weather"), ("a.xml", "Weather")]
    assert [(m.origin, m.kept, m.why) for m in merges] == [("a.xml", "pages/x.txt", "same title")]


def test_two_letters_pages_of_two_papers_are_both_in_the_top_news():
    from digest.curate import curate

    when = datetime(2026, 11, 24, 8)
    lead = Article("pages/a.txt", "page", "Harbour wall approved after debate", published=when,
                   paragraphs=("The council agreed.",))
    letters = [Article(f"{paper}.xml", "feed", "Letters", url=f"https://{paper}.example/letters", source=paper,
                       published=when, paragraphs=(f"Letters to the {paper}.",)) for paper in ("courier", "tribune")]
    repeat = Article("tribune.xml", "feed", "Letters", source="tribune", published=when)  # same source, no URL
    curated = curate([lead, *letters, repeat])
    assert [(t.title, t.url) for t in curated.issue.top_news] == [("Letters", "https://courier.example/letters"),
                                                                 ("Letters", "https://tribune.example/letters")]
    assert curated.left_out == ["Letters"]


def test_url_keys_keep_the_port_and_survive_malformed_urls():
    assert url_key("http://example.org:8080/a") != url_key("http://example.org:8081/a")
    assert url_key("https://example.org:443/a/") == url_key("http://www.example.org/a")
    assert url_key("http://[::1/x") == "http://[::1/x"


PAGE = "{title}\n{source}\n\nBody paragraph one of the article, long enough to be read as one.\n"


def test_a_second_source_line_is_dropped_with_a_warning():
    warnings: list[str] = []
    text = "Title of the page\nSource: Daily | 2026-11-24\nSource: Weekly | 2026-11-25\n\nThe body starts here.\n"
    article = parse_page(text, path="p.txt", warn=warnings.append)
    assert (article.source, article.published) == ("Daily", datetime(2026, 11, 24))
    assert article.paragraphs == ("The body starts here.",)
    assert warnings == ["p.txt:3: a second Source line, dropped"]


def test_an_invalid_page_dump_date_keeps_the_page_undated():
    warnings: list[str] = []
    article = parse_page("Title of the page\nSource: Daily | 2026-13-45\n\nThe body.\n", path="p.txt",
                         warn=warnings.append)
    assert (article.title, article.source, article.published) == ("Title of the page", "Daily", None)
    assert warnings == ["p.txt:2: invalid date '2026-13-45'; the page is kept without a date"]


def test_a_wrapped_title_before_a_byline_without_a_source_line():
    article = parse_page("Harbour Wall Reopens\nAfter Storm\nBy Jane Doe\nThe wall reopened on Monday.\n",
                         path="p.txt")
    assert (article.title, article.author) == ("Harbour Wall Reopens After Storm", "Jane Doe")
    assert article.paragraphs == ("The wall reopened on Monday.",)
