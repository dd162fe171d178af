"""The page-dump parser on the real sample and on variants written here."""

from __future__ import annotations

from datetime import datetime

import pytest

from digest.collect.pagedump import parse_page
from digest.core.errors import SourceError
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def sample():
    return parse_page(SAMPLE.read_text(encoding="utf-8"), path=str(SAMPLE))


def test_sample_header_fields(sample):
    assert sample.title == "China, Central Asian Countries Share High-quality Development"
    assert sample.source == "Science and Technology Daily"
    assert sample.published == datetime(2023, 5, 18, 10, 42, 14)
    assert sample.author == "WANG Xiaoxia"  # the byline wins over the source line's Author:
    assert sample.editor == "王晓夏"
    assert sample.breadcrumb == ("EnglishChannel", "Cooperation", "Article")


def test_sample_caption_is_kept_apart_from_the_body(sample):
    assert sample.caption == (
        "The China-Central Asia Summit is set to take place in Xi'an, "
        "the capital city of China's Shaanxi province on May 18 and 19."
    )
    assert sample.caption_credit == "XINHUA"
    assert all("PHOTO" not in p for p in sample.paragraphs)


def test_sample_body(sample):
    assert len(sample.paragraphs) == 7
    assert sample.paragraphs[0].startswith("The China-Central Asia Summit is set to take place")
    assert sample.paragraphs[-1].startswith("China's poverty reduction")
    # No-break and en spaces are folded to plain spaces.
    assert all("\u00a0" not in p and "\u2002" not in p for p in sample.paragraphs)


def test_sample_top_news(sample):
    titles = [item.title for item in sample.top_news]
    assert titles == [
        "Revived China-Japan-ROK Summit a 'Golden Opportunity'",
        "Scooping a Treasure Chest Full of Lunar History, China's Lunar Mission Hailed by Int'l Scientific Community",
    ]
    assert sample.top_news[0].summary.startswith("Experts and scholars from the three countries")
    assert sample.top_news[1].summary.startswith("China's Chang'e-6 lunar mission successfully landed")


PAGE = """POSITION:\u00a0Home\u00a0>\u00a0Tech > Article\r
\r
Quantum Chip Breaks Record\r
\r
source: Daily Wire | 2026-11-23 08:00:00 | author: Staff\r
\r
First paragraph of the story.\r
\r
Second paragraph of the story.\r
\r
TOP NEWS\r
\r
Item One Without Summary\r
\r
Item Two\r
\r
Item two has a summary sentence.\r
"""


def test_variant_crlf_lowercase_labels_no_byline_summary_missing():
    article = parse_page(PAGE, path="v.txt")
    assert article.breadcrumb == ("Home", "Tech", "Article")
    assert article.title == "Quantum Chip Breaks Record"
    assert article.author == "Staff"  # no byline: the source line's Author field
    assert article.paragraphs == ("First paragraph of the story.", "Second paragraph of the story.")
    assert [(i.title, i.summary) for i in article.top_news] == [
        ("Item One Without Summary", ""),
        ("Item Two", "Item two has a summary sentence."),
    ]


def test_title_only_page_is_an_article():
    article = parse_page("Just A Title\n\nOne paragraph.\n", path="t.txt")
    assert article.title == "Just A Title" and article.paragraphs == ("One paragraph.",)
    assert article.top_news == () and article.breadcrumb == () and article.published is None


@pytest.mark.parametrize("text", ["", "   \n\n\t\n", "\u00a0\u2002\n"])
def test_empty_page_is_our_error(text):
    with pytest.raises(SourceError, match="empty"):
        parse_page(text, path="e.txt")


# -- issue 13, item 2: a wrapped title, and every optional piece missing ------------------------

WRAPPED = ("China, Central Asian Countries Share", "High-quality Development")


def _variant(*, drop: tuple[str, ...] = (), wrap: tuple[str, ...] | None = None, blank: str = "\n\n") -> str:
    """The real sample with some of its pieces left out, its title wrapped, its blank lines changed."""
    lines = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    shapes = {"breadcrumb": lambda t: t.lower().startswith("position:"), "source": lambda t: t.startswith("Source:"),
              "caption": lambda t: "(PHOTO:" in t, "byline": lambda t: t.startswith("By "),
              "editor": lambda t: t.startswith("Editor:")}
    kept = []
    in_top = False
    for line in lines:
        text = " ".join(line.split())  # the sample has no-break and en spaces
        in_top = in_top or text == "Top News"
        if ("top" in drop and in_top) or any(shapes[p](text) for p in drop if p != "top"):
            continue
        if wrap and text == " ".join(WRAPPED):
            kept.extend(wrap)
            continue
        kept.append(line)
    return blank.join(kept) + "\n"


def _fields(article):
    return {name: getattr(article, name) for name in (
        "title", "source", "published", "author", "editor", "breadcrumb", "caption", "caption_credit",
        "paragraphs", "top_news")}


def test_title_wrapped_onto_two_lines_shifts_nothing(sample):
    article = parse_page(_variant(wrap=WRAPPED), path=str(SAMPLE))
    assert _fields(article) == _fields(sample)
    assert len(article.paragraphs) == 7


def test_title_wrapped_onto_three_lines_with_a_broken_word(sample):
    wrap = ("China, Central Asian", "Countries Share High-", "quality Development")
    article = parse_page(_variant(wrap=wrap, drop=("breadcrumb",)), path="p.txt")
    assert article.title == sample.title
    assert (article.source, article.published, article.author) == (sample.source, sample.published, sample.author)
    assert article.paragraphs == sample.paragraphs


EMPTY_FIELDS = {
    "breadcrumb": {"breadcrumb": ()},
    "caption": {"caption": "", "caption_credit": ""},
    "byline": {"author": "Science and Technology Daily"},  # the source line's Author field
    "editor": {"editor": ""},
    "top": {"top_news": ()},
    "source": {"source": "", "published": None},
}


@pytest.mark.parametrize("missing", [
    ("breadcrumb",), ("caption",), ("byline",), ("editor",), ("top",),
    ("breadcrumb", "caption", "byline"), ("caption", "byline", "editor", "top"),
    ("breadcrumb", "caption", "byline", "editor", "top"),
])
@pytest.mark.parametrize("blank", ["\n\n", "\n\n\n\n", "\r\n \r\n\t\r\n"])
@pytest.mark.parametrize("wrapped", [False, True])
def test_every_optional_piece_may_be_missing_without_shifting_fields(sample, missing, blank, wrapped):
    article = parse_page(_variant(drop=missing, blank=blank, wrap=WRAPPED if wrapped else None), path=str(SAMPLE))
    expected = _fields(sample)
    for piece in missing:
        expected.update(EMPTY_FIELDS[piece])
    if "byline" in missing:
        expected["author"] = "Science and Technology Daily"
    assert _fields(article) == expected


def test_without_a_source_line_the_title_is_the_first_line(sample):
    article = parse_page(_variant(drop=("source",)), path=str(SAMPLE))
    expected = _fields(sample)
    expected.update(EMPTY_FIELDS["source"])
    assert _fields(article) == expected


def test_cjk_title_wrapped_joins_without_a_space():
    text = "中国与中亚国家\n\n共享高质量发展\n\nSource: 科技日报 | 2023-05-18\n\n正文第一段。\n"
    article = parse_page(text, path="zh.txt")
    assert article.title == "中国与中亚国家共享高质量发展"
    assert article.source == "科技日报" and article.paragraphs == ("正文第一段。",)


def test_paragraphs_before_a_late_source_line_are_not_a_title():
    text = ("Harbour Wall Repaired\n\nWork on the north harbour wall finished on Thursday after three weeks of "
            "repairs by the council.\n\nSource: Harbour Weekly | 2026-11-20\n\nMore text here.\n")
    article = parse_page(text, path="late.txt")
    assert article.title == "Harbour Wall Repaired"
    assert article.paragraphs[0].startswith("Work on the north harbour wall")
    # A source line is part of the head; once the body has begun it is body text.
    assert article.source == "" and article.paragraphs[1] == "Source: Harbour Weekly | 2026-11-20"


def test_a_short_title_line_ending_in_an_abbreviation_still_wraps():
    text = "Trade Talks Resume With the U.S.\n\nin Geneva\n\nSource: Wire | 2026-11-20\n\nBody.\n"
    assert parse_page(text, path="us.txt").title == "Trade Talks Resume With the U.S. in Geneva"
