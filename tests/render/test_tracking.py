"""Click and open tokens, and the once-per-issue rewrite of article links (and nothing else)."""

from __future__ import annotations

import pytest

from digest.core.settings import ConfigError
from digest.render.tracking import (
    ClickTokenError,
    rewrite_links,
    sign_click,
    sign_open,
    sign_reader,
    verify_click,
    verify_open,
    verify_reader,
)
from digest.web.clicks import machine_reason, open_reason

SECRET = b"pinned-secret-0123456789abcdef"
BASE = "https://news.example.com"


def test_click_tokens_are_pinned_and_name_issue_link_and_url() -> None:
    token = sign_click(SECRET, issue=3, link=2, url="https://town.example.org/a?b=1&c=2")
    # Pinned: links already mailed must keep working.
    assert token == "Mx8yH2h0dHBzOi8vdG93bi5leGFtcGxlLm9yZy9hP2I9MSZjPTI.7S4zgx9oWhpLAYeP"
    said = verify_click(SECRET, token)
    assert (said.issue, said.link, said.url) == (3, 2, "https://town.example.org/a?b=1&c=2")


@pytest.mark.parametrize("bad", [
    sign_click(b"another-secret", issue=3, link=2, url="https://evil.example/"),
    sign_reader(SECRET, "ada@example.com"),  # a token of another kind never verifies as a click
    sign_open(SECRET, issue=3),
    "a.b", "", "x" * 5000, "..", "MQ.AAAA",
])
def test_anything_not_a_click_token_of_this_workspace_is_refused(bad: str) -> None:
    with pytest.raises(ClickTokenError):
        verify_click(SECRET, bad)


def test_a_swapped_url_breaks_the_mac() -> None:
    good = sign_click(SECRET, issue=1, link=1, url="https://town.example.org/")
    other = sign_click(SECRET, issue=1, link=1, url="https://evil.example/")
    with pytest.raises(ClickTokenError):
        verify_click(SECRET, other.split(".")[0] + "." + good.split(".")[1])


def test_reader_and_open_tokens_round_trip_and_stay_apart() -> None:
    assert verify_reader(SECRET, sign_reader(SECRET, "ada@example.com")) == "ada@example.com"
    assert verify_open(SECRET, sign_open(SECRET, issue=9)) == 9
    with pytest.raises(ClickTokenError):
        verify_open(SECRET, sign_reader(SECRET, "9"))


def test_rewrite_touches_article_links_only_and_numbers_each_url_once() -> None:
    page = ('<a href="https://town.example.org/a?x=1&amp;y=2">Title</a><a href="https://town.example.org/a?x=1&amp;y=2">'
            'Read more</a><a href="https://news.example.com/archive/1">View in browser</a>'
            '<a href="https://news.example.com/u/TOKEN">Unsubscribe</a><a href="mailto:desk@town.example.org">Mail</a>'
            '<a href="https://town.example.org/b">B</a>')
    links = [("https://town.example.org/a?x=1&y=2", "A"), ("https://town.example.org/a?x=1&y=2", "A"),
             ("https://news.example.com/archive/1", "web"), ("mailto:desk@town.example.org", "mail"),
             ("https://town.example.org/b", "B")]
    out, tracked = rewrite_links(page, secret=SECRET, issue=1, base_url=BASE, links=links,
                                 never=["https://news.example.com/archive/1"])
    assert [(t.link, t.url, t.title) for t in tracked] == [
        (1, "https://town.example.org/a?x=1&y=2", "A"), (2, "https://town.example.org/b", "B")]
    assert out.count(f'href="{BASE}/c/') == 3
    for kept in ("/archive/1", "/u/TOKEN", "mailto:desk@town.example.org"):
        assert kept in out
    again, _ = rewrite_links(page, secret=SECRET, issue=1, base_url=BASE, links=links)
    assert again.count(f'href="{BASE}/c/') == 4  # without `never`, an article that is the web version


def test_machine_clicks() -> None:
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    assert machine_reason(method="HEAD", agent=firefox, accept_language="en", seconds_after=None) == "head"
    assert machine_reason(method="GET", agent="", accept_language="en", seconds_after=None) == "agent"
    assert machine_reason(method="GET", agent="Mozilla/5.0 (compatible; proofpoint)", accept_language="en",
                          seconds_after=3600) == "agent"
    assert machine_reason(method="GET", agent=firefox, accept_language="", seconds_after=4) == "fast"
    assert machine_reason(method="GET", agent=firefox, accept_language="en", seconds_after=4) == ""
    assert machine_reason(method="GET", agent=firefox, accept_language="", seconds_after=3600) == ""
    assert open_reason(agent="Mozilla/5.0", client="203.0.113.9") == "apple"
    assert open_reason(agent=firefox, client="17.58.1.2") == "apple"
    assert open_reason(agent=firefox, client="203.0.113.9") == ""


def test_tracking_settings_are_checked(tmp_path) -> None:
    from digest.core.settings import load_settings

    (tmp_path / "digest.toml").write_text("[tracking]\nclicks = true\nper_reader = true\nopens = true\n")
    assert load_settings(tmp_path).tracking.per_reader
    assert not load_settings(tmp_path.parent / "nowhere").tracking.clicks  # off unless asked
    for text, words in (("[tracking]\nclicks = 1\n", "clicks must be true or false"),
                        ("[tracking]\nper_reader = true\n", "needs clicks = true"),
                        ("[tracking]\nclick = true\n", "unknown key 'click'")):
        (tmp_path / "digest.toml").write_text(text)
        with pytest.raises(ConfigError, match=words):
            load_settings(tmp_path)


def test_links_are_tracked_whatever_escaping_or_percent_encoding_the_page_gives_them():
    from digest.render.tracking import rewrite_links

    accented = "https://news.example.com/straße/ünï?q=é"
    quoted = "https://news.example.com/q?a=1&b='x'"
    page = ('<a href="https://news.example.com/stra%C3%9Fe/%C3%BCn%C3%AF?q=%C3%A9">A</a> '
            '<a href="https://news.example.com/q?a=1&amp;b=&#39;x&#39;">B</a>')
    rewritten, links = rewrite_links(page, secret=b"k" * 32, issue=1, base_url="https://n.example.org",
                                     links=[(accented, "A"), (quoted, "B")])
    assert rewritten.count('href="https://n.example.org/c/') == 2, rewritten
    assert [link.url for link in links] == [accented, quoted]
