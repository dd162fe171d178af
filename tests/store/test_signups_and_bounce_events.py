"""The list loop's state on both backends: signups and their limits, members, bounce events and the policy."""

from __future__ import annotations

import threading
import time

from digest.core.model import Subscriber
from digest.store import Audience, Result, open_store
from digest.store.bounces import BounceEvent
from digest.store.signups import SignupLimits, SignupRequest

LIMITS = SignupLimits(per_address=2, per_client=5, max_pending=4, ttl=100.0)


def test_signup_confirm_once_then_member_and_unsuppressed(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        store.suppress("ada@example.com", reason="unsubscribed")
        request = SignupRequest("weekly", "Ada@Example.com", "Ada", "https://x/join", "1.2.3.4")
        decision, sid = store.request_signup(request, now=now, limits=LIMITS)
        assert decision == "mail" and sid
        assert store.signup(sid).state == "pending"  # type: ignore[union-attr]
        assert list(store.members("weekly")) == []
        assert store.confirm_signup(sid, now=now + 1) == "confirmed"
        assert store.confirm_signup(sid, now=now + 2) == "used"  # a replay changes nothing
        [member] = list(store.members("weekly"))
        assert (member.email, member.name, member.source, member.client) == ("Ada@Example.com", "Ada",
                                                                           "https://x/join", "1.2.3.4")
        assert member.consented_at and member.confirmed_at
        # a new double opt-in brings them back to that list, and only to that list
        assert not store.is_suppressed("ada@example.com", list_name="weekly")
        assert store.is_suppressed("ada@example.com", list_name="monthly")
        assert [s.email for s in store.member_subscribers("weekly")] == ["Ada@Example.com"]
        assert store.member_lists() == {"weekly": 1}
        assert store.confirm_signup(999999, now=now) == "unknown"


def test_expired_links_and_superseded_links_do_not_confirm(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        _, old = store.request_signup(SignupRequest("weekly", "bob@example.com"), now=now - 200, limits=LIMITS)
        assert store.confirm_signup(old, now=now) == "expired"  # type: ignore[arg-type]
        _, first = store.request_signup(SignupRequest("weekly", "bob@example.com"), now=now, limits=LIMITS)
        _, second = store.request_signup(SignupRequest("weekly", "bob@example.com", client="b"), now=now,
                                         limits=SignupLimits(per_address=5, per_client=5, max_pending=5, ttl=100))
        assert store.confirm_signup(second, now=now) == "confirmed"  # type: ignore[arg-type]
        assert store.confirm_signup(first, now=now) == "used"  # type: ignore[arg-type]


def test_limits_per_address_per_client_and_pending_cap(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        answers = [store.request_signup(SignupRequest("w", "same@example.com", client=f"192.0.2.{i}"), now=now,
                                        limits=LIMITS)[0] for i in range(3)]
        assert answers == ["mail", "mail", "address"]
        answers = [store.request_signup(SignupRequest("w", f"u{i}@example.com", client="198.51.100.7"), now=now,
                                        limits=SignupLimits(per_client=5))[0] for i in range(7)]
        assert answers == ["mail"] * 5 + ["client", "client"]  # the 6th request from one client in an hour
        # an hour later the client may ask again
        assert store.request_signup(SignupRequest("w", "late@example.com", client="198.51.100.7"), now=now + 3601,
                                    limits=SignupLimits(max_pending=100))[0] == "mail"


def test_one_ipv6_host_rotating_its_64_is_one_client(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        answers = [store.request_signup(SignupRequest("w", f"v{i}@example.com", client=f"2001:db8:1:2::{i:x}"),
                                        now=now, limits=SignupLimits(per_client=5))[0] for i in range(1, 8)]
        assert answers == ["mail"] * 5 + ["client", "client"]
        # another /64 of the same site is another client
        assert store.request_signup(SignupRequest("w", "w@example.com", client="2001:db8:1:3::1"), now=now,
                                    limits=SignupLimits(per_client=5))[0] == "mail"


def test_the_pending_cap_is_per_network_and_refusals_write_nothing(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        flood = [store.request_signup(SignupRequest("w", f"f{i}@example.com", client=f"2001:db8:7:{i:x}::1"),
                                      now=now, limits=LIMITS)[0] for i in range(40)]
        assert flood[:4] == ["mail"] * 4 and set(flood[4:]) == {"full"}  # one site (/48) holds 4 at most
        # everybody else can still sign up: one network cannot pause signups for all
        assert store.request_signup(SignupRequest("w", "reader@example.com", client="203.0.113.9"), now=now,
                                    limits=LIMITS)[0] == "mail"
        refused = [store.request_signup(SignupRequest("w", f"c{i}@example.com", client="192.0.2.200"), now=now,
                                        limits=SignupLimits(per_client=2))[0] for i in range(50)]
        assert refused.count("client") == 48
        assert store.one("SELECT COUNT(*) FROM signup_attempts")[0] == 4 + 1 + 2  # type: ignore[index]
        assert store.one("SELECT COUNT(*) FROM signups")[0] == 4 + 1 + 2  # type: ignore[index]


def test_many_concurrent_signups_lose_nothing(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        limits = SignupLimits(per_client=1000, max_pending=1000)
        ids: list[int] = []
        lock = threading.Lock()

        def one(i: int) -> None:
            decision, sid = store.request_signup(SignupRequest("w", f"c{i}@example.com"), now=now, limits=limits)
            assert decision == "mail" and sid
            assert store.confirm_signup(sid, now=now) == "confirmed"
            with lock:
                ids.append(sid)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(ids)) == 100
        assert len(list(store.members("w"))) == 100
        assert store.members_version("w").startswith("100:")


def test_a_confirmation_link_posted_many_times_at_once_confirms_once(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        limits = SignupLimits(per_client=1000, max_pending=1000)
        ids = [store.request_signup(SignupRequest("w", f"twice{i}@example.com"), now=now, limits=limits)[1]
               for i in range(30)]
        results: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(len(ids) * 3)

        def confirm(sid: int) -> None:
            start.wait()
            result = store.confirm_signup(sid, now=now)
            with lock:
                results.append(result)

        threads = [threading.Thread(target=confirm, args=(sid,)) for sid in ids for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count("confirmed") == len(ids) and results.count("used") == 2 * len(ids)


def _journal(store, issue: int, emails: list[str], status: str = "sent") -> dict[str, int]:
    audience = Audience((f"list{issue}.csv",))
    campaign = store.open_campaign(issue, audience.key, audience.describe())
    store.enqueue(campaign, [(Subscriber(e), "l") for e in emails], lambda k: f"<{issue}.{k}>")
    rows = store.claim(campaign.id, owner="w", run=1, limit=100, lease_until=time.time() + 60, now=time.time(),
                       max_attempts=5).rows
    store.record([Result(r.id, status, 250, "OK") for r in rows], run=1, now=time.time())
    return {r.subscriber.email: r.id for r in rows}


def test_hard_bounce_suppresses_at_once_and_a_report_counts_once(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        event = BounceEvent("gone@example.com", "hard", "dsn", "report-1", issue=1, status="5.1.1",
                            diagnostic="smtp; 550 5.1.1 user unknown")
        assert store.record_bounce(event, now=now).suppressed
        assert store.record_bounce(event, now=now).duplicate
        [entry] = list(store.suppressions())
        assert entry.reason == "bounced"
        [summary] = list(store.bounce_summaries())
        assert (summary.hard, summary.last_status, summary.suppressed) == (1, "5.1.1", "bounced")
        assert "user unknown" in summary.last_diagnostic
        assert store.record_bounce(BounceEvent("angry@example.com", "complaint", "arf", "r2", status="abuse"),
                                   now=now).suppressed
        assert store.record_bounce(BounceEvent("bye@example.com", "unsubscribe", "mailto", "r3"), now=now).suppressed
        assert not store.record_bounce(BounceEvent("x@example.com", "refused", "dsn", "r4", status="5.7.1"),
                                       now=now).suppressed
        reasons = {s.email: s.reason for s in store.suppressions()}
        assert reasons == {"gone@example.com": "bounced", "angry@example.com": "complained",
                           "bye@example.com": "unsubscribed"}


def test_soft_bounces_suppress_after_three_issues_in_a_row(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        for n in range(1, 6):
            store.number_for(f"content-{n}", f"Issue {n}")
            _journal(store, n, ["soft@example.com", "other@example.com"])

        def soft(issue: int, key: str, at: float = now) -> object:
            return store.record_bounce(BounceEvent("soft@example.com", "soft", "dsn", key, issue=issue,
                                                   status="4.2.2"), now=at)

        assert soft(1, "a").soft_count == 1  # type: ignore[attr-defined]
        assert soft(1, "a-final").soft_count == 1  # type: ignore[attr-defined]  # same issue: one count
        # issue 2 went out and never bounced: it resets the count when issue 3 bounces
        assert soft(3, "b").soft_count == 1  # type: ignore[attr-defined]
        assert soft(4, "c").soft_count == 2  # type: ignore[attr-defined]
        verdict = soft(5, "d")
        assert verdict.suppressed and verdict.soft_count == 3  # type: ignore[attr-defined]
        # outside the window nothing counts
        store.resubscribe("soft@example.com")
        assert not store.is_suppressed("soft@example.com")
        assert soft(5, "e", at=now + 40 * 86400).soft_count == 1  # type: ignore[attr-defined]


def test_a_delivery_notice_resets_the_soft_count(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        for key in ("a", "b"):
            store.record_bounce(BounceEvent("s@example.com", "soft", "dsn", key, status="4.4.1"), now=now)
        store.record_bounce(BounceEvent("s@example.com", "delivered", "dsn", "ok", status="2.0.0"), now=now + 1)
        verdict = store.record_bounce(BounceEvent("s@example.com", "soft", "dsn", "c", status="4.4.1"), now=now + 2)
        assert verdict.soft_count == 1 and not verdict.suppressed


def test_a_refusal_at_rcpt_suppresses_in_the_same_transaction(store_location: str):
    with open_store(store_location) as store:
        audience = Audience(("a.csv",))
        campaign = store.open_campaign(1, audience.key, audience.describe())
        emails = ("ok@x.com", "dead@x.com", "policy@x.com", "full@x.com")
        store.enqueue(campaign, [(Subscriber(e), "a") for e in emails], lambda k: f"<{k}>")
        rows = {r.subscriber.email: r.id for r in store.claim(
            campaign.id, owner="w", run=1, limit=10, lease_until=time.time() + 60, now=time.time(),
            max_attempts=5).rows}
        store.record([Result(rows["ok@x.com"], "sent", 250, "OK"),
                      Result(rows["dead@x.com"], "failed", 550, "5.1.1 No such user", refusal="hard"),
                      Result(rows["policy@x.com"], "failed", 554, "5.7.1 Spam", refusal="refused"),
                      Result(rows["full@x.com"], "failed", 552, "5.2.2 Mailbox full", refusal="soft")],
                     run=1, now=time.time())
        assert {s.email: s.reason for s in store.suppressions()} == {"dead@x.com": "bounced"}
        [event] = store.bounce_events("dead@x.com")
        assert (event.kind, event.source, event.status, event.issue) == ("hard", "rcpt", "5.1.1", 1)
        # the other refusals are on record too, in the server's words: one counts as soft, one never counts
        assert [(e.kind, e.status) for e in store.bounce_events("policy@x.com")] == [("refused", "5.7.1")]
        assert [(e.kind, e.status) for e in store.bounce_events("full@x.com")] == [("soft", "5.2.2")]
        assert {s.email: (s.soft, s.refused) for s in store.bounce_summaries()}["full@x.com"] == (1, 0)
        status = store.campaign_status(campaign, now=time.time())
        # a failed row that is suppressed is not "remaining", nor counted twice
        assert status.counts["failed"] == 3 and status.remaining == 0 and status.suppressed == 0
        assert store.delivery(rows["dead@x.com"]).email == "dead@x.com"  # type: ignore[union-attr]
        assert store.delivery_for(1, "DEAD@x.com").message_id == "<dead@x.com>"  # type: ignore[union-attr]
        # a relay that refused everyone: what those refusals recorded is taken back
        assert store.withdraw_refusals([rows["dead@x.com"], rows["full@x.com"]]) == 2
        assert list(store.suppressions()) == [] and store.bounce_events("full@x.com") == []


def test_a_confirmation_mails_soft_bounces_never_count(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        _journal(store, 1, ["reader@example.com"])
        for n in range(5):  # a stranger asks for confirmations to a subscribed, temporarily failing address
            verdict = store.record_bounce(BounceEvent("reader@example.com", "soft", "dsn", f"c{n}", status="4.2.2",
                                                      signup=n + 1), now=now)
            assert not verdict.suppressed
        assert not store.is_suppressed("reader@example.com")
        assert len(store.bounce_events("reader@example.com")) == 5  # kept, with their signups


def _sent_from(store, issue: int, email: str, list_name: str) -> None:  # type: ignore[no-untyped-def]
    audience = Audience((f"{list_name}.csv",))
    campaign = store.open_campaign(issue, audience.key, audience.describe())
    store.enqueue(campaign, [(Subscriber(email), list_name)], lambda k: f"<{issue}.{list_name}.{k}>")


def _claimable(store, issue: int, list_name: str) -> list[str]:  # type: ignore[no-untyped-def]
    audience = Audience((f"{list_name}.csv",))
    campaign = store.open_campaign(issue, audience.key, audience.describe())
    return [r.subscriber.email for r in store.claim(campaign.id, owner=f"o{issue}{list_name}", run=1, limit=10,
                                                    lease_until=time.time() + 60, now=time.time(),
                                                    max_attempts=5).rows]


def test_leaving_one_list_keeps_the_others_and_a_signup_elsewhere_does_not_bring_it_back(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        _sent_from(store, 1, "ada@example.com", "weekly")
        assert store.unsubscribe("ada@example.com", list_name="weekly", issue=1)  # her one-click link of issue 1
        assert store.is_suppressed("ada@example.com", list_name="weekly")
        assert not store.is_suppressed("ada@example.com", list_name="monthly")
        _, sid = store.request_signup(SignupRequest("monthly", "ada@example.com"), now=now, limits=LIMITS)
        assert store.confirm_signup(sid, now=now) == "confirmed"  # type: ignore[arg-type]
        assert store.is_suppressed("ada@example.com", list_name="weekly")  # she left weekly: it stays so
        _sent_from(store, 2, "ada@example.com", "weekly")
        _sent_from(store, 3, "ada@example.com", "monthly")
        assert _claimable(store, 2, "weekly") == [] and _claimable(store, 3, "monthly") == ["ada@example.com"]
        # a token naming a list we never sent her from (a test message) leaves every list
        assert store.unsubscribe("bob@example.com", list_name="preview", issue=1)
        assert store.is_suppressed("bob@example.com", list_name="weekly")
        assert [(s.email, s.list) for s in store.suppressions()] == [("ada@example.com", "weekly"),
                                                                     ("bob@example.com", "")]


def test_a_signup_after_a_complaint_exempts_that_list_only_until_the_next_complaint(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        store.record_bounce(BounceEvent("cy@example.com", "complaint", "arf", "r1", issue=1, status="abuse"), now=now)
        _, sid = store.request_signup(SignupRequest("monthly", "cy@example.com"), now=now, limits=LIMITS)
        store.confirm_signup(sid, now=now)  # type: ignore[arg-type]
        assert not store.is_suppressed("cy@example.com", list_name="monthly")
        assert store.is_suppressed("cy@example.com", list_name="weekly")
        assert store.record_bounce(BounceEvent("cy@example.com", "complaint", "arf", "r2", issue=2, status="abuse"),
                                   now=now).suppressed  # complained again: no list reaches them
        assert store.is_suppressed("cy@example.com", list_name="monthly")
        # a bounce too: a confirmed signup exempts the list signed up to, and only that one
        store.record_bounce(BounceEvent("dee@example.com", "hard", "dsn", "r3", issue=1, status="5.1.1"), now=now)
        _, sid = store.request_signup(SignupRequest("monthly", "dee@example.com"), now=now, limits=LIMITS)
        store.confirm_signup(sid, now=now)  # type: ignore[arg-type]
        assert not store.is_suppressed("dee@example.com", list_name="monthly")
        assert store.is_suppressed("dee@example.com", list_name="weekly")


def test_the_largest_ids_a_token_can_carry_are_plain_misses(store_location: str):
    with open_store(store_location) as store:
        assert store.deliveries([16 ** 12 - 1]) == {}  # a VERP token's row: 12 hex digits
        assert store.delivery(16 ** 12 - 1) is None
        assert store.signup(16 ** 15 - 1) is None  # a confirmation link's signup: 15 hex digits
        assert store.delivery_for(999_999_999, "a@example.com") is None  # a Message-ID's issue: 9 digits


def test_a_database_from_before_per_list_suppressions_is_upgraded_in_place(store_location: str, monkeypatch):
    from digest.store import migrations

    before = [(name, step) for name, step in migrations.MIGRATIONS if name < "0400_suppression_scopes"]
    monkeypatch.setattr(migrations, "MIGRATIONS", before)
    with open_store(store_location) as store:
        now = time.time()
        assert "0400_suppression_scopes" not in store.migrations()
        # Rows as the code of the previous schema wrote them.
        with store.transaction() as tx:
            tx.execute("INSERT INTO suppressions (email_key, email, reason, issue, created_at) "
                       "VALUES ('old@example.com', 'old@example.com', 'unsubscribed', 1, '2026-01-01T00:00:00Z')")
            pending = int(tx.execute(
                "INSERT INTO signups (list, email_key, email, name, source, client, requested_at, expires_at) "
                "VALUES ('weekly', 'pending@example.com', 'pending@example.com', '', '', '192.0.2.1', "
                "'2026-01-01T00:00:00Z', ?) RETURNING id", (now + 100,)).fetchone()[0])
            tx.execute("INSERT INTO bounce_events (email_key, email, issue, kind, status, diagnostic, source, "
                       "report_key, at, created_at) VALUES ('soft@example.com', 'soft@example.com', 1, 'soft', "
                       "'4.2.2', '', 'dsn', 'r-old', ?, '2026-01-01T00:00:00Z')", (now,))
    monkeypatch.undo()
    with open_store(store_location) as store:
        assert "0400_suppression_scopes" in store.migrations()
        # an unsubscribe from before lists had their own still keeps every list away
        assert store.is_suppressed("old@example.com", list_name="weekly")
        assert store.is_suppressed("old@example.com", list_name="monthly")
        assert [(s.email, s.list) for s in store.suppressions()] == [("old@example.com", "")]
        # a link mailed before the upgrade still confirms; old bounce events still count
        assert store.confirm_signup(pending, now=now + 1) == "confirmed"
        assert [e.kind for e in store.bounce_events("soft@example.com")] == ["soft"]
        assert store.request_signup(SignupRequest("weekly", "new@example.com", client="192.0.2.1"), now=now,
                                    limits=LIMITS)[0] == "mail"
