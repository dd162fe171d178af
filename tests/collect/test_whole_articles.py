"""Whole articles from real pages (tests/fixtures/readability, Mozilla Readability's test pages, Apache-2.0).

Every paragraph wherever it sits in trafilatura's tree, list items as lines, subheadings marked,
the loss warning, bylines that are names, the page's own language.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digest.collect import collect
from digest.collect.bylines import clean_byline
from digest.collect.htmlpage import loss_warning, parse_html
from digest.collect.pagemeta import normal_lang, page_lang

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "readability"


def page(name: str, *, html: str | None = None) -> tuple:
    """The article of a real page (or of its markup changed by a test) and the warnings."""
    warnings: list[str] = []
    text = html if html is not None else (PAGES / name / "source.html").read_text(encoding="utf-8")
    return parse_html(text, path=f"{name}.html", warn=warnings.append), warnings


def test_paragraphs_nested_in_divs_are_kept():
    # WebMD's article sits in a div inside trafilatura's body tree: digest used to keep only the
    # body's direct children and found no article text at all.
    article, warnings = page("webmd-1")
    assert article.title == "Babies Who Eat Peanuts Early May Avoid Allergy"
    assert article.paragraphs[1].startswith("Feb. 23, 2015 -- Life-threatening peanut allergies have mysteriously")
    assert article.word_count > 350
    assert warnings == []


def test_definition_lists_are_lines():
    # Google's SRE book: each term and each definition of its list is a line of its own.
    article, warnings = page("google-sre-book-1")
    text = " ".join(article.paragraphs)
    assert "There’s no uniformly shared vocabulary for discussing all topics related to monitoring." in text
    assert article.word_count > 4000
    assert warnings == []


def test_lines_under_line_breaks_are_lines():
    # tumblr's changelog is one div of "+ Added …<br>+ Added …" lines: each is a line of its own.
    article, warnings = page("tumblr")
    assert article.paragraphs[:3] == (
        "+ Added Granite, Andesite, and Diorite stone blocks, with smooth versions",
        "+ Added Slime Block",
        "+ Added Iron Trapdoor",
    )
    assert len(article.paragraphs) > 50
    assert warnings == []


def test_subheadings_are_marked_and_list_items_are_lines():
    article, _ = page("google-sre-book-1")
    heads = [article.paragraphs[n] for n in article.subheadings]
    assert heads[:4] == ["Monitoring Distributed Systems", "Definitions", "Why Monitor?",
                         "Setting Reasonable Expectations for Monitoring"]
    # The definitions list: each term and each definition is a line of its own, not a subheading.
    at = article.paragraphs.index("White-box monitoring")
    assert at not in article.subheadings
    assert article.paragraphs[at + 1].startswith("Monitoring based on metrics exposed by the internals")


def test_subheadings_survive_json():
    from digest.core.model import Article

    article, _ = page("mozilla-2")
    again = Article.from_json(json.loads(json.dumps(article.to_json())))
    assert again.subheadings == article.subheadings and again.lang == "en-US"
    assert article.paragraphs[article.subheadings[0]] == "WebIDE"


def test_loss_warning_names_the_file_and_both_counts():
    message = loss_warning(31, 31, 2277, path="pages/x.html")
    assert message == "pages/x.html: kept 31 of 2,277 words trafilatura finds (1 %): text may be lost"
    # Captions and boilerplate dropped on purpose are not lost text.
    assert loss_warning(55, 71, 71, path="p.html") is None
    assert loss_warning(900, 1000, 1000, path="p.html") is None


def test_loss_warning_reaches_collect(tmp_path, monkeypatch):
    # A page where digest reads a tenth of what trafilatura finds: the warning is collect's.
    from digest.collect import htmlpage

    source = (PAGES / "google-sre-book-1" / "source.html").read_bytes()
    (tmp_path / "sre.html").write_bytes(source)
    real = htmlpage.body_blocks

    def first_tenth(root):  # the old extractor's symptom: most of the body never read
        body = real(root)
        body.blocks = body.blocks[: len(body.blocks) // 10]
        return body

    monkeypatch.setattr(htmlpage, "body_blocks", first_tenth)
    result = collect([tmp_path])
    [warning] = [w for w in result.warnings if "text may be lost" in w]
    assert warning.startswith(f"{tmp_path / 'sre.html'}: kept ")
    assert "words trafilatura finds" in warning


def test_page_language_and_byline():
    article, _ = page("lemonde-1")
    assert article.lang == "fr-FR"
    assert article.author == "Martin Untersinger"
    assert article.title == "Le projet de loi sur le renseignement massivement approuvé à l'Assemblée"


def test_language_is_never_guessed():
    base = "<html{attr}><head><title>T</title>{meta}</head><body><article>{body}</article></body></html>"
    body = "<p>" + "Ein Satz mit genug Wörtern für einen Artikel, der hier steht. " * 6 + "</p>"
    german = parse_html(base.format(attr="", meta="", body=body), path="p.html")
    assert german.lang == ""  # German words, but the page says nothing: no lang
    clash = base.format(attr=' lang="en"', meta='<meta property="og:locale" content="de_DE">', body=body)
    assert parse_html(clash, path="p.html").lang == ""
    agree = base.format(attr=' lang="de"', meta='<meta property="og:locale" content="de_DE">', body=body)
    assert parse_html(agree, path="p.html").lang == "de-DE"
    assert normal_lang("en_us") == "en-US" and normal_lang("<script>") == "" and normal_lang("und") == ""
    assert page_lang(parse_tree('<html lang="pt-br"><body></body></html>')) == "pt-BR"


def parse_tree(markup: str):
    import lxml.html

    return lxml.html.fromstring(markup)


@pytest.mark.parametrize(("raw", "byline"), [
    ("SPIEGEL ONLINE; Hamburg; Germany", ""),
    ("Jane Doe; SPIEGEL ONLINE; Hamburg", "Jane Doe"),
    ("By Jane Doe", "Jane Doe"),
    ("Jeffrey Gettleman; JEFFREY GETTLEMAN", "Jeffrey Gettleman"),  # nytimes-1's author field
    ("Joshua Sokol May", "Joshua Sokol"),  # quanta-1: the date's month run into the name
    ("Username", ""),  # wapo-1: a form label
    ("AFP", ""),
    ("Stella Kim; Jennifer Jett", "Stella Kim and Jennifer Jett"),
    ("Anna Berg; Lars Holm; Pia Lund", "Anna Berg, Lars Holm and Pia Lund"),
    ("Ben Silverman Games Editor", "Ben Silverman"),
    ("Mark Di Stefano", "Mark Di Stefano"),
    ("José Ortega y Gasset; Maria da Silva e Souza", "José Ortega y Gasset and Maria da Silva e Souza"),
    ("Anna Berg (dpa)", "Anna Berg"),
    ("Von Anna Berg, SPIEGEL ONLINE", "Anna Berg"),
    ("SPIEGEL ONLINE, Hamburg, Germany", ""),
])
def test_bylines_are_names(raw, byline):
    assert clean_byline(raw, site_names=["Spiegel Online", "www.spiegel.de"]) == byline


def test_a_blog_named_after_its_author_keeps_the_byline():
    assert clean_byline("Haki Benita", site_names=["Haki Benita"]) == "Haki Benita"  # toc-missing
    assert clean_byline("Spiegel Online", site_names=["Spiegel Online"]) == ""


def test_real_page_title_and_no_loss_on_all_fixtures():
    for folder in sorted(p for p in PAGES.iterdir() if p.is_dir()):
        meta = json.loads((folder / "expected-metadata.json").read_text(encoding="utf-8"))
        article, warnings = page(folder.name)
        assert warnings == [], folder.name
        assert article.title in meta["title"], folder.name


def test_a_table_row_is_one_line():
    rows = "".join(f"<tr><td>{film}</td><td>{year}</td></tr>" for film, year in
                   [("Groundhog Day", 1993), ("Edge of Tomorrow", 2014), ("Palm Springs", 2020)])
    text = "A film that repeats one day again and again is a genre of its own, with many classics. " * 3
    html = (f"<html><head><title>Time loops</title></head><body><article><p>{text}</p>"
            f"<table>{rows}</table></article></body></html>")
    article = parse_html(html, path="loops.html")
    assert "Groundhog Day · 1993" in article.paragraphs
    assert "Palm Springs · 2020" in article.paragraphs


def test_json_ld_names_the_authors_and_the_headline():
    # As aktualne.cz and folha.uol.com.br write it (the first in CDATA, as XHTML once asked).
    ld = ('<script type="application/ld+json"><![CDATA[{"@context": "https://schema.org", "@type": "NewsArticle",'
          ' "headline": "West Ham hrozí gigantům", "author": [{"@type": "Person", "name": "Aleš Vávra"},'
          ' {"@type": "Person", "name": "Bruno (Henrique Zecchin) Rodrigues "}]}]]></script>')
    text = "Fotbalisté West Hamu vyhráli další zápas a posunuli se v tabulce výš, než kdo čekal. " * 4
    html = (f'<html lang="cs"><head><title>West Ham | Aktuálně.cz</title>{ld}</head>'
            f"<body><article><p>{text}</p></article></body></html>")
    article = parse_html(html, path="aktualne.html")
    assert article.title == "West Ham hrozí gigantům"
    assert article.author == "Aleš Vávra and Bruno (Henrique Zecchin) Rodrigues"
    assert article.lang == "cs"
