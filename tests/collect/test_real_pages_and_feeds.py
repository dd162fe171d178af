"""Real saved news pages and real feeds (tests/fixtures/real/, origins in its README).

For each: the title, date, author and first paragraph a reader gets, and the boilerplate they
must not get. These pages showed the problems of issue 13; none of them was written here.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from digest.cli import main
from digest.collect import read_source
from tests.conftest import FIXTURES

REAL = FIXTURES / "real"

PAGES = {
    "dw.com.colonial.html": (
        "Berlin confronts Germany's colonial past with new initiative",  # not "… | DW | 19.01.2020"
        datetime(2020, 1, 19), "Deutsche Welle",
        "The German capital has launched a five-year project to mark its part in European colonialism. "
        "Streets which still honor leaders who led the Reich's imperial expansion will be renamed — and some "
        "locals aren't happy.",
    ),
    "phys.org.tool.html": (
        "Flint flake tool partially covered by birch tar adds to evidence of Neanderthal complex thinking",
        datetime(2019, 10, 22, 13, 30, 34), "Bob Yirka",
        "A team of researchers affiliated with several institutions in The Netherlands has found evidence in "
        "small a cutting tool of Neanderthals using birch tar. In their paper published in Proceedings of the "
        "National Academy of Sciences, the group describes the tool and what it revealed about Neanderthal "
        "technology.",
    ),
    "nature.com.telescope.html": (
        "Gigantic Chinese telescope opens to astronomers worldwide",
        datetime(2019, 9, 24), "Elizabeth Gibney",
        "The world’s largest single-dish radio observatory is preparing to open to astronomers around the "
        "world, ushering in an era of exquisitely sensitive observations that could help in the hunt for "
        "gravitational waves and probe the mysterious fleeting blasts of radiation known as fast radio bursts.",
    ),
    "scmp.com.playbook.html": (
        "Carrie Lam should study Tsai Ing-wen’s playbook",
        datetime(2020, 1, 20, 2, 0, 8), "Alice Wu",
        # The extract is only the photo's caption: the page's description stands in for it.
        "While both Tsai and Lam faced a challenging year, the Taiwanese leader shrewdly capitalised on the "
        "crisis in Hong Kong to claim herself a massive election win.",
    ),
    "reuters.com.parasite.html": (
        "'Parasite' scores historic upset at SAG awards, boosting Oscar chances",
        datetime(2020, 1, 20, 9, 49, 32), "Jill Serjeant",
        "LOS ANGELES (Reuters) - South Korean thriller “Parasite” was the upset winner at the Screen Actors "
        "Guild (SAG) awards on Sunday, while Joaquin Phoenix and Renee Zellweger were named best actors, "
        "cementing their roles as frontrunners at the Oscars next month.",
    ),
    "theverge.com.ios13.html": (
        "iOS 13 will fix the FaceTime eye contact problem",
        datetime(2019, 7, 3), "Jon Porter",
        "iOS 13’s third developer beta includes a new feature that makes it look like you’re staring directly "
        "at your front-facing camera during FaceTime calls, even when looking away at the person on your "
        "screen. The feature, which was spotted by Mike Rundle on Twitter, only appears to be working on the "
        "iPhone XS and XS Max with this version of the beta, and can be toggled on and off from within "
        "FaceTime’s settings.",
    ),
}

FEEDS = {
    "bbc-world.rss": (3, "BBC News - World", (
        "Rigopiano avalanche: Eight found alive in Italy hotel after two days",
        datetime(2017, 1, 20, 12, 55, 28), "",
        "Two children are among the eight who have spent at least 40 hours buried in snow and rubble.",
    )),
    "infoq-news.rss": (2, "InfoQ - News", (
        "Report Validates Impact of Visual AI on Test Automation",
        datetime(2020, 4, 21, 16, 0), "Matthew Coughlan",
        # "… using visual AI. By Matthew Coughlan": the byline repeated the author.
        "Empirical data from 288 quality engineers across 101 countries provide insight and credibility behind "
        "a report demonstrating the benefits of Visual AI in the field of test automation. The report comes "
        "from Applitools, a company that sells functional and visual testing tools using visual AI.",
    )),
    "stuartsierra.rss": (2, "Digital Digressions by Stuart Sierra", (
        "Remote 103: Software",
        datetime(2020, 3, 9, 13, 22, 32), "Stuart",
        # "… evaluate… Read the full article": the link's text went with the link.
        "In the first two posts in this series, I talked about hardware: networking and headsets. I’ll come "
        "back to hardware eventually, but the next thing on the checklist is software. Again, I’m not going "
        "to recommend specific products here. What I will do is provide you with a set of criteria by which "
        "to evaluate…",
    )),
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_real_article_page(name):
    title, published, author, first = PAGES[name]
    [article] = read_source(REAL / name)
    assert (article.title, article.published, article.author) == (title, published, author)
    assert article.paragraphs[0] == first
    assert article.url.startswith("https://")


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_real_feed(name):
    count, source, (title, published, author, first) = FEEDS[name]
    articles = read_source(REAL / name)
    assert len(articles) == count and {a.source for a in articles} == {source}
    article = articles[0]
    assert (article.title, article.published, article.author) == (title, published, author)
    assert article.paragraphs == (first,)
    assert all(a.url.startswith(("http://", "https://")) and a.paragraphs for a in articles)


def test_trailers_of_real_pages_are_gone():
    phys = read_source(REAL / "phys.org.tool.html")[0].paragraphs
    assert len(phys) == 3 and not any("Science X" in p for p in phys)
    nature = read_source(REAL / "nature.com.telescope.html")[0].paragraphs
    assert nature[-1].endswith("“A successful review will definitely help,” he says.")
    assert not any("Nature 574" in p for p in nature)


def test_caption_of_a_real_page_is_its_caption():
    [article] = read_source(REAL / "scmp.com.playbook.html")
    assert article.caption == ("Taiwanese President Tsai Ing-wen speaks during a televised policy debate in "
                               "Taipei on December 29 in the run-up to the presidential election.")
    assert article.caption_credit == "AP"


def test_an_issue_built_from_real_inputs_carries_no_boilerplate(workspace: Path, runner):
    pages = workspace / "pages"
    shutil.rmtree(pages)
    shutil.copytree(REAL, pages, ignore=shutil.ignore_patterns("*.md", "*.py"))
    result = runner.invoke(main, ["build", "--top", "20"])
    assert result.exit_code == 0, result.stderr
    # Two warnings, each naming its file: the feed with a bare '&', the caption-only page.
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 2, warnings
    assert "infoq-news.rss:12: malformed feed" in warnings[0] and "scmp.com.playbook.html" in warnings[1]
    text = (workspace / "issues" / "1" / "issue.txt").read_text()
    html = (workspace / "issues" / "1" / "issue.html").read_text()
    for boilerplate in ("| DW |", "19.01.2020", "Science X Network", "Nature 574", "By Matthew Coughlan",
                        "By Anthony Alford", "Read the full article", "Photo: AP"):
        assert boilerplate not in text and boilerplate not in html, boilerplate
    for title in ("Berlin confronts Germany's colonial past with new initiative", "Remote 103: Software",
                  "Rigopiano avalanche: Eight found alive in Italy hotel after two days"):
        assert title in text
