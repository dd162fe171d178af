"""Counted clicks and opens (migration 0540_clicks) on SQLite and PostgreSQL: counts, readers, erasure."""

from __future__ import annotations

from digest.store import open_store


def test_clicks_count_per_link_and_a_readers_clicks_go_with_them(store_location: str):
    with open_store(store_location) as store:
        assert "0540_clicks" in store.migrations()
        url = "https://town.example.org/a"
        store.record_click(issue=1, link=1, url=url, reader="Ada@Example.com ", at=10.0)
        store.record_click(issue=1, link=1, url=url, reader="ada@example.com", at=11.0)
        store.record_click(issue=1, link=1, url=url, reader="bob@example.org", at=12.0)
        store.record_click(issue=1, link=1, url=url, machine="head", at=13.0)
        store.record_click(issue=1, link=2, url="https://town.example.org/b", at=14.0)
        store.record_click(issue=2, link=1, url=url, at=15.0)
        store.record_open(issue=1, reader="ada@example.com")
        store.record_open(issue=1, machine="apple")
        [a, b] = store.link_clicks(1)
        assert (a.link, a.human, a.machine, a.clickers, a.url) == (1, 3, 1, 2, url)
        assert (b.link, b.human, b.machine, b.clickers) == (2, 1, 0, 0)
        assert len(store.link_clicks()) == 3
        assert store.unique_clickers(1) == 2 and store.opens(1) == {"": 1, "apple": 1}
        assert [c[:3] for c in store.reader_clicks("ADA@example.com")] == [(1, 1, url), (1, 1, url), (1, 0, "")]
        assert store.forget_clicks("ada@example.com") == 3  # two clicks and an open
        assert store.reader_clicks("ada@example.com") == [] and store.unique_clickers(1) == 1
        [a, _] = store.link_clicks(1)
        assert (a.human, a.clickers) == (1, 1)
        assert store.opens(1) == {"apple": 1}
        assert store.delivered_at(1) is None  # never sent: no delivery time to compare a click with
        assert store.issue_outcomes() == []
