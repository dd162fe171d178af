"""Curate: period, lead choice, deduplicated Top News, excerpt, subject, preheader, numbers."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from digest.cli import main
from digest.core.errors import ConfigError
from digest.core.model import Article, TopNewsItem
from digest.curate import CurateOptions, curate, excerpt, title_key, url_key


def page(title: str, when: datetime | None, *, paragraphs=("Body text here.",), top=(), kind="page", url=""):
    return Article(origin=f"{title}.txt", kind=kind, title=title, published=when, paragraphs=tuple(paragraphs),
                   top_news=tuple(TopNewsItem(t, s) for t, s in top), url=url)


TOP = (("Shared Item One", "First summary."), ("Shared Item Two", "Second summary."))


def test_identical_top_news_blocks_yield_each_item_once():
    a = page("Alpha", datetime(2026, 11, 23), top=TOP)
    b = page("Beta", datetime(2026, 11, 24), top=(("shared  item one!", "Same again."), *TOP))
    issue = curate([a, b]).issue
    titles = [i.title for i in issue.top_news]
    assert issue.lead.title == "Beta"
    assert sorted(titles) == ["Alpha", "Shared Item One", "Shared Item Two"]


def test_lead_is_most_recent_then_longest():
    short = page("Short", datetime(2026, 11, 24), paragraphs=["One two."])
    long = page("Long", datetime(2026, 11, 24), paragraphs=["One two three four five."])
    older = page("Older", datetime(2026, 11, 20), paragraphs=["word " * 500])
    feed = page("Feed Newest", datetime(2026, 11, 26), kind="feed")
    assert curate([short, older, long, feed]).issue.lead.title == "Long"


def test_lead_by_text_and_its_errors():
    items = [page("Solar Farm Opens", None), page("Solar Prices Fall", None), page("Wind Farm", None)]
    assert curate(items, CurateOptions(lead="wind")).issue.lead.title == "Wind Farm"
    with pytest.raises(ConfigError, match="several.*Solar Farm Opens; Solar Prices Fall"):
        curate(items, CurateOptions(lead="solar"))
    with pytest.raises(ConfigError, match="no article"):
        curate(items, CurateOptions(lead="tidal"))


def test_period_keeps_undated_and_reports_them():
    inside = page("Inside", datetime(2026, 11, 25))
    outside = page("Outside", datetime(2026, 11, 2))
    undated = page("Undated", None)
    result = curate([inside, outside, undated], CurateOptions(since=date(2026, 11, 23), until=date(2026, 11, 29)))
    titles = {result.issue.lead.title, *(i.title for i in result.issue.top_news)}
    assert titles == {"Inside", "Undated"}
    assert result.undated == ["Undated.txt"]


def test_top_is_capped_and_most_recent_first():
    items = [page(f"Story {n}", datetime(2026, 11, n)) for n in range(1, 12)]
    issue = curate(items, CurateOptions(top=3)).issue
    assert [i.title for i in issue.top_news] == ["Story 10", "Story 9", "Story 8"]


def test_urls_compare_after_normalisation():
    assert url_key("https://www.Example.com/a/?utm_source=x#top") == url_key("http://example.com/a")
    assert title_key("  Ｈello,   World! ") == title_key("hello world")


def test_excerpt_ends_on_a_whole_sentence():
    paragraphs = ["One two three. Four five six.", "Seven eight nine ten. Eleven twelve."]
    assert excerpt(paragraphs, words=8) == ("One two three. Four five six.",)
    assert excerpt(paragraphs, words=10) == ("One two three. Four five six.", "Seven eight nine ten.")
    assert excerpt(["A very long first sentence without end in sight"], words=3) == (
        "A very long first sentence without end in sight",)


def test_subject_and_preheader():
    lead = page("Quantum\r\nBcc: x@evil.example", datetime(2026, 11, 24),
                paragraphs=["word " * 60 + "end. Second sentence."])
    issue = curate([lead], CurateOptions(newsletter="Weekly")).issue
    assert issue.subject == "Weekly: Quantum Bcc: x@evil.example"  # the line break is gone
    assert len(issue.preheader) <= 100 and issue.preheader.endswith("…")
    with pytest.raises(ConfigError, match="unknown field"):
        curate([lead], CurateOptions(subject_template="{lead_title.__class__}"))


def test_forty_paragraph_lead_stays_small(workspace: Path, runner):
    body = "\n\n".join(f"Paragraph {n} tells a long story about the harbour and the market. " * 3 for n in range(40))
    header = "Long Read Of The Week\n\nSource: Desk | 2030-01-01 10:00:00\n\n"
    (workspace / "pages" / "long.txt").write_text(f"{header}{body}\n")
    result = runner.invoke(main, ["build", "--lead", "long read"])
    assert result.exit_code == 0, result.stderr
    data = json.loads((workspace / "issues" / "1" / "issue.json").read_text())
    assert sum(len(p.split()) for p in data["excerpt"]) <= 120
    html = (workspace / "issues" / "1" / "issue.html").read_bytes()
    assert len(html) < 60 * 1024
    assert "Paragraph 39" not in html.decode()


def test_new_content_is_listed_for_the_open_issue_and_numbered_anew_for_a_new_one(workspace: Path, runner):
    assert "Issue 1:" in runner.invoke(main, ["build"]).output
    (workspace / "pages" / "extra.txt").write_text("Extra Story\n\nSource: Desk | 2023-05-17 09:00:00\n\nBody.\n")
    again = runner.invoke(main, ["build"]).output
    assert "Issue 1:" in again and "new since the plan: 1 article(s)" in again and "Extra Story" in again
    assert "Issue 2:" in runner.invoke(main, ["build", "--new-issue"]).output
    (workspace / "pages" / "extra.txt").unlink()
    assert "Issue 1:" in runner.invoke(main, ["build", "--new-issue"]).output


def test_issue_json_fields(workspace: Path, runner):
    runner.invoke(main, ["build", "--week", "2023-W20"])
    data = json.loads((workspace / "issues" / "1" / "issue.json").read_text())
    assert {"number", "subject", "preheader", "lead", "top_news"} <= set(data)
    assert data["top_news"][0]["origin"].endswith("stdaily-china-central-asia.txt")
    assert set(data["top_news"][0]) >= {"title", "summary", "url", "origin"}


def test_week_outside_the_articles_is_nothing_new_and_a_bad_week_an_error(workspace: Path, runner):
    result = runner.invoke(main, ["build", "--week", "2026-W48"])
    assert result.exit_code == 4 and "No article in the chosen period (2026-11-23 to 2026-11-29)" in result.stderr
    assert runner.invoke(main, ["build", "--week", "2026-W99"]).exit_code == 2
