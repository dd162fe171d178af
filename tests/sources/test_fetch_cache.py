"""The fetch cache in the store (SQLite and PostgreSQL) and the [[sources]] / [fetch] settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.core.errors import ConfigError
from digest.core.settings import load_settings
from digest.core.sourcespec import FetchSettings, SourceSpec
from digest.sources.cache import BodyCache
from digest.store import open_store
from digest.store.fetchcache import FetchRecord


def _record(url: str, etag: str = '"a"', digest: str = "0" * 64) -> FetchRecord:
    return FetchRecord(url, url, etag, "Tue, 24 Nov 2026 08:00:00 GMT", "application/rss+xml", digest, 10,
                       "2026-11-24T08:00:00Z", "2026-11-24T08:00:00Z")


def test_fetch_records_round_trip_and_the_last_writer_wins(store_location: str):
    with open_store(store_location) as store:
        assert "0100_fetch_cache" in store.migrations()
        assert store.fetch_records(["https://a.example/feed"]) == {}
        store.save_fetches([_record("https://a.example/feed"), _record("https://b.example/feed")])
        store.save_fetches([_record("https://a.example/feed", etag='"b"')])
        found = store.fetch_records(["https://a.example/feed", "https://b.example/feed", "https://c.example/"])
        assert sorted(found) == ["https://a.example/feed", "https://b.example/feed"]
        assert found["https://a.example/feed"].etag == '"b"'
        assert found["https://b.example/feed"] == _record("https://b.example/feed")
        assert store.forget_fetch("https://a.example/feed") and not store.forget_fetch("https://a.example/feed")
        many = [_record(f"https://h{i}.example/") for i in range(1200)]  # more than one IN (…) chunk
        store.save_fetches(many)
        assert len(store.fetch_records(r.url for r in many)) == 1200


def test_the_body_cache_notices_a_damaged_file(tmp_path: Path):
    cache = BodyCache(tmp_path / "cache")
    digest = cache.put(b"<rss/>")
    assert cache.get(digest) == b"<rss/>" and cache.put(b"<rss/>") == digest
    cache.path_of(digest).write_bytes(b"<rss>tampered</rss>")
    assert cache.get(digest) is None
    assert cache.get("../../etc/passwd") is None


def _settings(tmp_path: Path, text: str):
    (tmp_path / "digest.toml").write_text(text, encoding="utf-8")
    return load_settings(tmp_path)


def test_sources_and_fetch_settings_are_read(tmp_path: Path):
    settings = _settings(tmp_path, """
[fetch]
timeout = 5
allow_private_networks = true

[[sources]]
url = "https://www.example.com/rss/world.xml"
kind = "feed"
full_text = true
max_items = 20

[[sources]]
url = "https://www.example.com/story.html"
""")
    assert settings.fetch == FetchSettings(timeout=5.0, allow_private_networks=True)
    assert settings.sources == (SourceSpec("https://www.example.com/rss/world.xml", "feed", True, 20),
                                SourceSpec("https://www.example.com/story.html"))
    assert _settings(tmp_path, "").sources == ()


@pytest.mark.parametrize(("text", "message"), [
    ('[[sources]]\nurl = "ftp://x.example/feed"', "only http:// and https://"),
    ('[[sources]]\nkind = "feed"', "needs a url"),
    ('[[sources]]\nurl = "https://x.example/"\nkind = "podcast"', 'kind must be "feed", "page" or "auto"'),
    ('[[sources]]\nurl = "https://x.example/"\nmax_items = 0', "max_items must be between 1 and 1000"),
    ('[[sources]]\nurl = "https://x.example/"\nfull_text = "yes"', "full_text must be true or false"),
    ('[[sources]]\nurl = "https://x.example/"\ncolour = 1', "unknown key 'colour'"),
    ('[[sources]]\nurl = "https://x.example/"\n[[sources]]\nurl = "https://x.example/"', "repeats"),
    ("sources = 3", "array of tables"),
    ("[fetch]\ntimeout = -1", "[fetch] timeout must be between"),
    ("[fetch]\nallow_private_networks = 1", "must be true or false"),
    ("[fetch]\nproxy = 'x'", "unknown key 'proxy' in [fetch]"),
])
def test_bad_sources_settings_are_one_line_errors(tmp_path: Path, text: str, message: str):
    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, text)
    assert message in str(caught.value) and str(caught.value).startswith(str(tmp_path / "digest.toml"))
