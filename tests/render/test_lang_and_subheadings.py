"""Subheadings in the web version, and `lang` on the parts in another language than the newsletter's."""

from __future__ import annotations

import re

from digest.core.model import Article, Issue, TopNewsItem
from digest.core.settings import Settings
from digest.render import render_issue, render_web_version

LEAD = Article(
    origin="pages/lead.html", kind="html", title="Der Hafen öffnet wieder", lang="de-DE",
    paragraphs=("Die Mauer ist repariert.", "Was sich ändert", "Die Boote legen wieder an der Nordmole an."),
    subheadings=(1,),
)
ITEMS = (
    TopNewsItem("Coastal rail line reopens", "Trains run again.", "https://example.org/rail", lang="en-GB"),
    TopNewsItem("Le port rouvre", "Les bateaux reviennent.", "https://example.org/port", lang="fr"),
    TopNewsItem("No language declared", "Plain.", "https://example.org/plain"),
)


def issue() -> Issue:
    return Issue(number=1, subject="S", preheader="P", lead=LEAD, excerpt=LEAD.paragraphs, top_news=ITEMS)


def test_web_version_shows_subheadings():
    html = render_web_version(issue(), Settings())
    assert re.search(r"<h3[^>]*>\s*Was sich ändert\s*</h3>", html)
    assert re.search(r"<p[^>]*>\s*Die Mauer ist repariert.\s*</p>", html)


def test_lang_only_where_it_differs_from_the_newsletter():
    for html in (render_issue(issue(), Settings()).html, render_web_version(issue(), Settings())):
        assert 'lang="de-DE"' in html  # the lead, German in an English newsletter
        assert 'lang="fr"' in html
        assert 'lang="en-GB"' not in html  # English in an English newsletter: nothing to say
        assert len(re.findall(r'<(?:div|h1|h2)[^>]* lang="', html)) >= 3
