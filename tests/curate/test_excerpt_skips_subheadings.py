"""A lead that opens with a subheading: the email's excerpt and the preheader are made of its text, not of
its headings (the web version shows them as headings)."""

from __future__ import annotations

from datetime import datetime

from digest.core.model import Article
from digest.curate import CurateOptions, curate


def test_the_excerpt_and_preheader_skip_subheadings() -> None:
    lead = Article(title="Harbour Reopens After Storm", kind="html", origin="pages/harbour.html",
                   published=datetime(2026, 12, 1, 9, 0),
                   paragraphs=("What happened", "The harbour reopened on Thursday after three days of repairs.",
                               "What comes next", "Ferries run to the winter timetable from Monday."),
                   subheadings=(0, 2))
    issue = curate([lead], CurateOptions(excerpt_words=120)).issue
    assert issue.preheader.startswith("The harbour reopened on Thursday")
    assert issue.excerpt == ("The harbour reopened on Thursday after three days of repairs.",
                             "Ferries run to the winter timetable from Monday.")
