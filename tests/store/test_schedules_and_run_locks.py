"""Schedules and run locks in the store, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading

from digest.store import open_store


def test_a_schedule_is_recorded_moved_started_and_cancelled(store_location: str):
    with open_store(store_location) as store:
        campaign = store.open_campaign(3, "k1", "subscribers/weekly.csv")
        assert store.schedule_of(campaign.id) is None
        first = store.schedule_campaign(campaign.id, send_at=1_000.0, timezone="Europe/Oslo",
                                        local_time="2026-12-04 07:00")
        assert (first.issue, first.audience, first.state, first.send_at) == (3, "subscribers/weekly.csv",
                                                                             "scheduled", 1_000.0)
        moved = store.schedule_campaign(campaign.id, send_at=2_000.0, timezone="Europe/Oslo",
                                        local_time="2026-12-04 08:00")
        assert (moved.send_at, moved.local_time) == (2_000.0, "2026-12-04 08:00")
        assert [s.campaign for s in store.scheduled_campaigns()] == [campaign.id]
        store.wait_on_schedule(campaign.id, owner="sender:h:1:a", until=500.0)
        waited = store.schedule_of(campaign.id)
        assert waited is not None and waited.waiting(400.0) and not waited.waiting(600.0)
        store.stop_waiting(campaign.id, owner="someone else")
        assert store.schedule_of(campaign.id).waiter == "sender:h:1:a"  # type: ignore[union-attr]
        store.stop_waiting(campaign.id, owner="sender:h:1:a")
        assert store.schedule_of(campaign.id).waiter is None  # type: ignore[union-attr]
        assert store.start_schedule(campaign.id) is True
        assert store.start_schedule(campaign.id) is False and store.cancel_schedule(campaign.id) is False
        assert store.scheduled_campaigns() == []
        store.schedule_campaign(campaign.id, send_at=3_000.0, timezone="UTC", local_time="2026-12-05 07:00")
        assert store.cancel_schedule(campaign.id) is True
        assert store.schedule_of(campaign.id).state == "cancelled"  # type: ignore[union-attr]
    with open_store(store_location) as again:  # kept across a restart
        assert again.schedule_of(campaign.id).state == "cancelled"  # type: ignore[union-attr]


def test_only_one_of_many_takers_gets_a_run_lock(store_location: str):
    takers = 6
    stores = [open_store(store_location) for _ in range(takers)]
    barrier = threading.Barrier(takers)
    results: list[object] = [None] * takers

    def take(i: int) -> None:
        barrier.wait()
        results[i] = stores[i].take_lock("run:k1", owner=f"run:h:{i}:x", until=100.0, now=10.0, note=f"taker {i}")

    threads = [threading.Thread(target=take, args=(i,)) for i in range(takers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        winners = [i for i, held in enumerate(results) if held is None]
        assert len(winners) == 1
        winner = winners[0]
        for i, held in enumerate(results):
            if i != winner:
                assert held.owner == f"run:h:{winner}:x" and held.note == f"taker {winner}"  # type: ignore[attr-defined]
        store = stores[0]
        assert store.lock_holder("run:k1", now=50.0).owner == f"run:h:{winner}:x"  # type: ignore[union-attr]
        # Ours again is a renewal; someone else's renewal fails.
        assert store.take_lock("run:k1", owner=f"run:h:{winner}:x", until=200.0, now=60.0) is None
        assert store.renew_lock("run:k1", owner="run:h:other:y", until=300.0) is False
        assert store.renew_lock("run:k1", owner=f"run:h:{winner}:x", until=300.0, note="sending") is True
        assert store.lock_holder("run:k1", now=250.0).note == "sending"  # type: ignore[union-attr]
        # A lease that ran out is taken over; a dead holder's lease can be ended at once.
        assert store.take_lock("run:k1", owner="run:h:late:z", until=500.0, now=301.0) is None
        store.expire_lock("run:k1", owner="run:h:late:z")
        assert store.lock_holder("run:k1", now=302.0) is None
        assert store.take_lock("run:k1", owner="run:h:next:w", until=900.0, now=302.0) is None
        store.release_lock("run:k1", owner="run:h:late:z")  # not the holder: nothing happens
        assert store.lock_holder("run:k1", now=303.0).owner == "run:h:next:w"  # type: ignore[union-attr]
        store.release_lock("run:k1", owner="run:h:next:w")
        assert store.lock_holder("run:k1", now=303.0) is None
    finally:
        for s in stores:
            s.close()
