"""The page-dump parser on the real sample and on variants written here."""

from __future__ import annotations

from datetime import datetime

import pytest

from digest.collect.pagedump import parse_page
from digest.errors import SourceError
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
