"""Replay protection for ESP calls (migration 0520_esp_calls) on SQLite and PostgreSQL."""

from __future__ import annotations

from digest.store import open_store


def test_a_call_is_acted_on_once_and_old_names_are_dropped(store_location: str):
    with open_store(store_location) as store:
        assert "0520_esp_calls" in store.migrations()
        assert store.first_sight("ses", "m1", now=1000.0, keep=100.0)
        assert not store.first_sight("ses", "m1", now=1001.0, keep=100.0)  # a replay
        assert store.first_sight("mailgun", "m1", now=1001.0, keep=100.0)  # another provider's name
        assert store.first_sight("ses", "m2", now=1200.0, keep=100.0)  # m1 is forgotten now …
        assert store.first_sight("ses", "m1", now=1201.0, keep=100.0)  # … (and stale long before)
