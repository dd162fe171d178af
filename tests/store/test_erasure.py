"""Erasure in the store (migration 0530_erasure) on SQLite and PostgreSQL: rows gone, counts kept, a hash left."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from digest.core.model import Subscriber
from digest.store import Audience, Result, open_store
from digest.store.signups import SignupLimits, SignupRequest

LIMITS = SignupLimits(per_address=5, per_client=50, max_pending=100, ttl=86400.0)


def _journal(store, emails: list[str]) -> None:
    audience = Audience(("weekly.csv",))
    campaign = store.open_campaign(1, audience.key, audience.describe())
    # Message-IDs name nobody (a MAC, as the real ones): what must go is the address itself.
    store.enqueue(campaign, [(Subscriber(e, "Name"), "weekly") for e in emails],
                  lambda k: f"<1.{hashlib.sha256(k.encode()).hexdigest()[:12]}@x>")
    rows = store.claim(campaign.id, owner="w", run=1, limit=100, lease_until=time.time() + 60, now=time.time(),
                       max_attempts=5).rows
    store.record([Result(r.id, "sent", 250, f"OK queued for {r.subscriber.email}") for r in rows], run=1,
                 now=time.time())


def test_erasure_removes_the_reader_and_keeps_the_counts(store_location: str):
    with open_store(store_location) as store:
        assert "0530_erasure" in store.migrations()
        _journal(store, ["gone@example.org", "stays@example.org"])
        _, signup = store.request_signup(SignupRequest("weekly", "Gone@example.org", "Gone", "https://x", "10.0.0.1"),
                                         now=time.time(), limits=LIMITS)
        assert signup is not None and store.confirm_signup(signup, now=time.time()) == "confirmed"
        store.suppress("gone@example.org", reason="unsubscribed", list_name="monthly")
        store.suppress("gone@example.org", reason="complained")
        assert store.reader_lists("gone@example.org") == {"monthly": False, "weekly": False}
        data = store.reader_data("gone@example.org")
        assert data["consent"][0]["email"] == "Gone@example.org" and len(data["sends"]) == 1
        counts = store.erase_reader("gone@example.org", keyed_hash="h" * 64)
        assert counts["deliveries"] == 1 and counts["list_members"] == 1 and counts["suppressions"] == 1
        assert store.reader_data("gone@example.org") == {
            "signups": [], "consent": [], "suppressions": [], "sends": [], "bounces_and_complaints": [],
            "clicks": []}
        assert store.erased_hashes() == {"h" * 64}
        assert not store.is_suppressed("gone@example.org")
        [campaign] = store.campaigns_of(1)
        assert store.campaign_status(campaign, now=time.time()).counts["sent"] == 2  # the count stays
        assert [s.email for s in store.suppressions()] == []
        assert store.reader_data("stays@example.org")["sends"][0]["status"] == "sent"


def test_sqlite_files_keep_no_readable_copy(tmp_path: Path):
    folder = tmp_path / "state"
    path = folder / "state.sqlite3"
    with open_store(str(path)) as store:
        _journal(store, [f"reader{n}@example.org" for n in range(50)] + ["gone@example.org"])
        store.suppress("gone@example.org", reason="bounced")
        assert any(b"gone@example.org" in p.read_bytes() for p in folder.iterdir())
        store.erase_reader("gone@example.org", keyed_hash="h" * 64)
        for file in folder.iterdir():
            assert b"gone@example.org" not in file.read_bytes(), file.name
