"""Boilerplate rules on a real page: calls to action, "read more" rows, print-edition trailers,
newsletter sign-ups and editors' initials go; sentences that only mention such words stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.collect.feed import parse_feed
from digest.collect.htmlpage import parse_html
from digest.collect.promos import is_promo, strip_image_junk, strip_initials

PAGE = Path(__file__).resolve().parent.parent / "fixtures" / "readability" / "webmd-1" / "source.html"
LETTERS_CALL = "Submit your letter to the editor via this form. Read more Letters to the Editor."
TRAILER = "Den kompletten Beitrag lesen Sie in der neuen Juli-Ausgabe von Mac & i."
MENTIONS = [
    "The mayor wrote a letter to the editor of the local paper, and readers sent more than 200 replies.",
    "Subscribers of the newsletter were the first to learn of the recall, the company said.",
    "She said she would read more about the study before deciding.",
    "The full story of the print edition's decline is told in a new book.",
    "Related - and unrelated - issues were discussed at length.",
    "Read more, the teacher told the class, and you will write better.",
]


@pytest.mark.parametrize("line", [
    LETTERS_CALL, "Read more Letters to the Editor.", "Read more", "READ MORE: Peanut allergy rates double",
    "Sign up for our weekly newsletter.", "Newsletter abonnieren", TRAILER,
    "Read the full story in our print edition.", "This article appears in the July 2024 issue of Wired.",
])
def test_calls_and_promos_are_recognised(line):
    assert is_promo(line)


@pytest.mark.parametrize("line", MENTIONS)
def test_sentences_that_mention_them_are_not(line):
    assert not is_promo(line)


def test_initials_at_the_end_go_the_sentence_stays():
    assert strip_initials("Die Geräte kommen im Herbst. (grh)") == "Die Geräte kommen im Herbst."
    assert strip_initials("Die Geräte kommen im Herbst. (dpa/sm)") == "Die Geräte kommen im Herbst."
    assert strip_initials("Er verkaufte die Firma (2019) an Apple.") == "Er verkaufte die Firma (2019) an Apple."


def test_rules_on_a_real_page():
    # The letters call opens the article and the promo trailer with initials ends it, as on the
    # pages of issue 19; the sentences that only mention such words stay where they are.
    html = PAGE.read_text(encoding="utf-8")
    first = "Feb. 23, 2015 -- Life-threatening"
    assert html.count(first) == 1
    extra = "".join(f"<p>{line}</p>" for line in MENTIONS)
    html = html.replace(first, f"{LETTERS_CALL}</p>{extra}<p>{first}", 1)
    last = html.index("</p>", html.index("anaphylaxis</a>."))
    html = html[:last] + f"</p><p>{TRAILER} (grh)</p><p>Sign up for our weekly newsletter." + html[last:]
    warnings: list[str] = []
    article = parse_html(html, path="webmd.html", warn=warnings.append)
    text = "\n".join(article.paragraphs)
    assert "Submit your letter" not in text and "Juli-Ausgabe" not in text and "(grh)" not in text
    assert "Sign up for our weekly newsletter" not in text
    for line in MENTIONS:
        assert line in article.paragraphs
    assert warnings == []


def test_feed_lang_and_image_junk():
    feed = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de"><title>T</title><id>x</id>
<updated>2020-01-01T00:00:00Z</updated>
<entry><title>A</title><id>a</id><updated>2020-01-01T00:00:00Z</updated><link href="http://e.com/a"/>
<summary type="html">&lt;img src="x.jpg"&gt; https://cdn.e.com/img/a.jpg?resize=640%2C360
Die Bahn fährt wieder. Bild vergrößern</summary></entry>
<entry xml:lang="en"><title>B</title><id>b</id><updated>2020-01-01T00:00:00Z</updated>
<link href="http://e.com/b"/><summary>The line reopens.</summary></entry>
</feed>"""
    first, second = parse_feed(feed, path="f.atom")
    assert first.paragraphs == ("Die Bahn fährt wieder.",) and first.lang == "de"
    assert second.lang == "en"
    rss = ('<rss version="2.0"><channel><title>T</title><language>pt-br</language>'
           "<item><title>A</title><link>http://e.com/a</link><description>Olá</description></item></channel></rss>")
    assert parse_feed(rss, path="f.rss")[0].lang == "pt-BR"
    for text in ("See the 640x360 screen.", "The display runs at 1920x1080, the same as before.",
                 "Q&A with the mayor: width=wide is not a parameter here"):
        assert strip_image_junk(text) == text


def test_rules_on_a_page_dump():
    from digest.collect.pagedump import parse_page
    from tests.conftest import SAMPLE

    text = SAMPLE.read_text(encoding="utf-8")
    before = parse_page(text, path="sample.txt")
    # A dump whose Top News block ends it: the trailer goes right before that block.
    marker = "Top News"
    at = text.find(marker) if marker in text else len(text)
    changed = text[:at] + f"\n{TRAILER} (grh)\n\nSign up for our weekly newsletter.\n\n" + text[at:]
    after = parse_page(changed, path="sample.txt")
    assert after.paragraphs == before.paragraphs
    assert after.top_news == before.top_news
