"""The store on both backends (SQLite and a real PostgreSQL): numbers, suppressions, campaigns, claims, leases."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from digest.core.model import Subscriber
from digest.store import Audience, Result, open_store
from digest.store.migrations import MIGRATIONS
from tests.conftest import FIXTURES


def _subs(n: int, list_name: str = "a", start: int = 0) -> list[tuple[Subscriber, str]]:
    return [(Subscriber(f"u{i}@example.com", f"U{i}"), list_name) for i in range(start, start + n)]


def test_issue_numbers_are_stable_and_gapless(store_location: str):
    with open_store(store_location) as store:
        assert store.peek_number("a") == 1
        assert store.number_for("a", "A") == 1
        assert store.number_for("a", "A again") == 1
        assert store.peek_number("b") == 2
        assert store.number_for("b", "B") == 2
        assert store.migrations() == [name for name, _ in MIGRATIONS]


def test_suppressions(store_location: str):
    with open_store(store_location) as store:
        assert store.suppress("Ada@Example.com", reason="bounced", issue=3)
        assert not store.suppress("ada@example.com", reason="bounced", issue=4)  # already: the first stays
        assert store.is_suppressed("ADA@example.com")
        assert store.suppressed_among(["ada@example.com", "bob@example.com"]) == {"ada@example.com"}
        [entry] = list(store.suppressions())
        assert (entry.email, entry.reason, entry.issue) == ("Ada@Example.com", "bounced", 3)
        # a stronger reason replaces a weaker one, never the reverse
        assert store.suppress("ada@example.com", reason="complained", issue=5)
        assert not store.suppress("ada@example.com", reason="manual")
        [entry] = list(store.suppressions())
        assert (entry.email, entry.reason, entry.issue) == ("Ada@Example.com", "complained", 5)
        assert store.unsuppress("ada@example.com") and not store.is_suppressed("ada@example.com")


def test_campaigns_share_one_row_per_person_and_claims_never_overlap(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        a, b = Audience(("a.csv",)), Audience(("b.csv",))
        ca = store.open_campaign(1, a.key, a.describe())
        cb = store.open_campaign(1, b.key, b.describe())
        assert store.open_campaign(1, a.key, a.describe()).id == ca.id
        assert store.enqueue(ca, _subs(5), lambda k: f"<{k}>") == (5, 0)
        # u3, u4 are on both lists: one journal row each, member of both campaigns
        assert store.enqueue(cb, _subs(4, "b", start=3), lambda k: f"<{k}>") == (4, 0)
        run = store.start_run(ca, owner="w1", host="h", now=now)
        first = store.claim(ca.id, owner="w1", run=run, limit=3, lease_until=now + 60, now=now, max_attempts=5).rows
        second = store.claim(ca.id, owner="w2", run=run + 1, limit=10, lease_until=now + 60, now=now,
                             max_attempts=5).rows
        assert {r.id for r in first} & {r.id for r in second} == set()
        assert len(first) + len(second) == 5
        store.record([Result(r.id, "sent", 250, "OK") for r in [*first, *second]], run=run, now=now)
        # campaign b: u3 and u4 were sent through a; only u5, u6 are left
        rest = store.claim(cb.id, owner="w3", run=run + 2, limit=10, lease_until=now + 60, now=now, max_attempts=5).rows
        assert sorted(r.subscriber.email for r in rest) == ["u5@example.com", "u6@example.com"]
        status = store.campaign_status(cb, now=now)
        assert status.counts["sent"] == 2 and status.sent_elsewhere == 2 and status.in_flight == 2


def test_an_expired_lease_returns_the_row(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        a = Audience(("a.csv",))
        c = store.open_campaign(1, a.key, a.describe())
        store.enqueue(c, _subs(2), lambda k: k)
        taken = store.claim(c.id, owner="dead", run=1, limit=10, lease_until=now + 5, now=now, max_attempts=5).rows
        assert len(taken) == 2
        assert not store.claim(c.id, owner="w", run=2, limit=10, lease_until=now + 60, now=now + 1,
                               max_attempts=5).rows
        assert store.held_by_others(c.id, owner="w", now=now + 1) == 2
        again = store.claim(c.id, owner="w", run=2, limit=10, lease_until=now + 70, now=now + 6, max_attempts=5).rows
        assert [r.id for r in again] == [r.id for r in taken]


def test_unknown_outcomes_are_retried_once(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        a = Audience(("a.csv",))
        c = store.open_campaign(1, a.key, a.describe())
        store.enqueue(c, _subs(1), lambda k: k)
        for _ in range(2):
            [row] = store.claim(c.id, owner="w", run=1, limit=1, lease_until=now + 60, now=now, max_attempts=5).rows
            store.record([Result(row.id, "unknown", 0, "no reply", retry_at=now)], run=1, now=now)
        assert not store.claim(c.id, owner="w", run=2, limit=1, lease_until=now + 60, now=now + 99,
                               max_attempts=5).rows
        assert store.next_due(c.id, run=2, max_attempts=5) is None
        assert [f.status for f in store.failures(c.id)] == ["unknown"]


def test_a_database_from_before_campaigns_is_upgraded_in_place(tmp_path: Path):
    path = tmp_path / "state.sqlite3"
    db = sqlite3.connect(path)
    db.executescript((FIXTURES / "state_v1.sql").read_text())
    db.close()
    with open_store(path) as store:
        assert store.migrations() == [name for name, _ in MIGRATIONS]
        assert store.number_for("old-content", "whatever") == 1  # the old issue keeps its number
        [campaign] = store.campaigns_of(1)
        status = store.campaign_status(campaign, now=time.time())
        assert status.counts["sent"] == 2 and status.counts["pending"] == 1 and status.counts["failed"] == 1
        assert store.is_suppressed("gone@example.com")
        # a new campaign of the old issue reuses the old rows: nobody sent is sent again
        a = Audience(("subscribers/example.csv",))
        new = store.open_campaign(1, a.key, a.describe())
        store.enqueue(new, [(Subscriber("ada@example.com"), "example"), (Subscriber("new@example.com"), "example")],
                      lambda k: k)
        rows = store.claim(new.id, owner="w", run=9, limit=10, lease_until=time.time() + 60, now=time.time(),
                           max_attempts=5).rows
        assert [r.subscriber.email for r in rows] == ["new@example.com"]


def test_two_stores_migrating_a_fresh_postgres_at_once_agree(postgres):
    import threading

    from tests.conftest import fresh_database

    url = fresh_database(postgres)
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            open_store(url).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_store(url) as store:
        assert store.migrations() == [name for name, _ in MIGRATIONS]


def test_a_bad_url_is_one_line_without_the_password(tmp_path: Path):
    from digest.core.errors import StateError

    with pytest.raises(StateError) as caught:
        open_store("postgresql://digest:hunter2-secret@127.0.0.1:1/nowhere?connect_timeout=1")
    message = str(caught.value)
    assert "hunter2-secret" not in message and "\n" not in message and "127.0.0.1" in message


def test_claims_walk_a_large_campaign_in_windows(store_location: str):
    # Each claim looks at a bounded window of members: rows already sent far behind cost nothing.
    with open_store(store_location) as store:
        now = time.time()
        a = Audience(("a.csv",))
        c = store.open_campaign(1, a.key, a.describe())
        store.enqueue(c, _subs(2000), lambda k: k)
        run = store.start_run(c, owner="w", host="h", now=now)
        seen: list[int] = []
        after = 0
        while True:
            claim = store.claim(c.id, owner="w", run=run, limit=300, lease_until=now + 60, now=now, max_attempts=5,
                                after=after)
            if not claim.rows:
                break
            seen += [r.id for r in claim.rows]
            store.record([Result(r.id, "sent", 250, "OK") for r in claim.rows], run=run, now=now)
            after = claim.scanned_to
        assert len(seen) == len(set(seen)) == 2000 and seen == sorted(seen)


def test_processes_opening_a_fresh_workspace_at_once_all_succeed(tmp_path: Path):
    import subprocess
    import sys

    code = "import sys; from digest.store import open_store; open_store(sys.argv[1]).close()"
    for trial in range(10):
        path = tmp_path / f"w{trial}" / ".digest" / "state.sqlite3"
        runs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE) for _ in range(4)]
        for run in runs:
            _, err = run.communicate(timeout=60)
            assert run.returncode == 0, err.decode()


def test_senders_starting_together_take_the_reading_once(store_location: str):
    # Found by the suite on PostgreSQL: two start_reading calls both read the old row (READ COMMITTED),
    # both took the lease, and the one that finished last took all 1500 members out of the campaign.
    with open_store(store_location) as store:
        for trial in range(20):
            campaign = store.open_campaign(trial + 1, f"k{trial}", "list.csv")
            answers = _start_readings_together(store, campaign.id, 6)
            readers = [generation for state, generation in answers if state == "read"]
            [now] = store.one("SELECT generation FROM campaigns WHERE id = ?", (campaign.id,))  # type: ignore[misc]
            assert readers == [now], (trial, answers, now)


def _start_readings_together(store, campaign_id: int, count: int) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    import threading

    start = threading.Barrier(count)
    answers: list[tuple[str, int]] = []

    def take(owner: str) -> None:
        start.wait()
        answers.append(store.start_reading(campaign_id, owner=owner, until=time.time() + 60, now=time.time(),
                                           fingerprint="f"))

    threads = [threading.Thread(target=take, args=(f"o{i}",)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers
