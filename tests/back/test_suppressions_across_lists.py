"""Regressions from the second attack on the list loop (issue 15): the relay breaker, per-list
suppressions across lists, what a signup lifts, the receiver under a burst, withdrawals."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest

from digest.app.context import Context
from digest.cli import main
from digest.core.model import Subscriber
from digest.deliver.breaker import RefusalBreaker
from digest.deliver.transport import Outcome
from digest.store import Audience, Result, open_store
from digest.store.bounces import BounceEvent
from digest.store.signups import SignupLimits, SignupRequest
from tests.back_helpers import fill, send_issue
from tests.conftest import point_smtp_at
from tests.servers import FaultPlan, FaultyHandler, ThreadedFaultySMTP

USER_UNKNOWN = "5.1.1 <x>: Recipient address rejected: User unknown"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_workspace(request: pytest.FixtureRequest, workspace: Path) -> Path:
    """The workspace, its store on SQLite and then on a real PostgreSQL."""
    if request.param == "postgresql":
        request.getfixturevalue("pg_workspace")
    return workspace


def _refused() -> Outcome:
    return Outcome("failed", 550, USER_UNKNOWN, stage="rcpt")


def test_dead_addresses_at_one_domain_are_suppressed_and_the_send_goes_on(any_workspace: Path, runner):
    workspace = any_workspace
    dead = [f"p{i}@acme-defunct.example" for i in range(6)]
    good = [f"reader{i}@example{i % 4}.org" for i in range(15)]
    # The dead ones come first, as a list sorted by signup date or grouped by company has them.
    (workspace / "subscribers" / "list.csv").write_text("email\n" + "\n".join(dead[:5] + good[:4] + dead[5:] + good[4:])
                                                        + "\n")
    handler = FaultyHandler(FaultPlan(reject=set(dead)))
    with ThreadedFaultySMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        result = runner.invoke(main, ["send", "--list", "subscribers/list.csv", "--concurrency", "1"])
        # Exit 3 says "some recipients failed" (the six dead ones), as for any refusal; the send was not stopped.
        assert result.exit_code == 3 and "stopped" not in result.output, result.output
        assert "recipients were refused" not in result.output
    assert sorted(r.rcpt_tos[0] for r in handler.received) == sorted(good)
    with Context(workspace) as ctx:
        assert sorted((s.email, s.reason) for s in ctx.store.suppressions()) == [(d, "bounced") for d in dead]


def test_the_breaker_never_trips_on_forty_percent_dead_addresses_across_many_domains():
    for seed in range(300):
        rng = random.Random(seed)  # nosec B311 - a test's reproducible list, not a secret
        breaker = RefusalBreaker()
        for row in range(1000):
            outcome = _refused() if rng.random() < 0.4 else Outcome("sent", 250, "OK", stage="data")
            assert breaker.observe(row, outcome, recipient=f"r{row}@domain{rng.randrange(200)}.example"), seed
        assert breaker.tripped is None and breaker.withdraw == []


def test_the_breaker_needs_a_full_window_nearly_all_refused_at_three_domains():
    breaker = RefusalBreaker()
    for row in range(19):
        assert breaker.observe(row, _refused(), recipient=f"a{row}@d{row % 5}.example")  # not full yet
    assert not breaker.observe(19, _refused(), recipient="z@d9.example")
    assert breaker.tripped and len(breaker.withdraw) == 20
    one_domain = RefusalBreaker()
    assert all(one_domain.observe(row, _refused(), recipient=f"p{row}@acme-defunct.example") for row in range(60))
    two_domains = RefusalBreaker()
    assert all(two_domains.observe(row, _refused(), recipient=f"p{row}@d{row % 2}.example") for row in range(60))
    seventeen = RefusalBreaker()
    for row in range(200):
        outcome = Outcome("sent", 250, "OK", stage="data") if row % 20 in (3, 11, 17) else _refused()
        assert seventeen.observe(row, outcome, recipient=f"r{row}@d{row % 7}.example")


def _two_lists(workspace: Path) -> None:
    (workspace / "subscribers" / "weekly.csv").write_text("email\nboth@example.com\nw@example.com\n")
    (workspace / "subscribers" / "monthly.csv").write_text("email\nboth@example.com\nm@example.com\n")


@pytest.mark.parametrize("sends", [
    [["--list", "subscribers/weekly.csv"], ["--list", "subscribers/monthly.csv"]],
    [["--list", "subscribers/monthly.csv"], ["--list", "subscribers/weekly.csv"]],
    [["--list", "subscribers/weekly.csv", "--list", "subscribers/monthly.csv"]],
    [["--list", "subscribers/monthly.csv", "--list", "subscribers/weekly.csv"]],
], ids=["weekly-then-monthly", "monthly-then-weekly", "weekly-and-monthly", "monthly-and-weekly"])
def test_leaving_one_list_still_gets_the_issue_through_the_other_once(any_workspace: Path, runner, recorder, sends):
    workspace = any_workspace
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    _two_lists(workspace)
    left = runner.invoke(main, ["subscribers", "unsubscribe", "--list", "weekly", "both@example.com"])
    assert left.exit_code == 0, left.output
    assert runner.invoke(main, ["build"]).exit_code == 0
    dry = [runner.invoke(main, ["send", *args, "--dry-run"]).output for args in sends]
    assert sum(int(re.search(r"(\d+) message\(s\) would be sent", out).group(1)) for out in dry) == 3, dry  # type: ignore[union-attr]
    for args in sends:
        result = runner.invoke(main, ["send", *args])
        assert result.exit_code == 0, result.output
    got = sorted(r.rcpt_tos[0] for r in handler.received)
    assert got == ["both@example.com", "m@example.com", "w@example.com"]  # both@ once, through monthly
    [message] = [r.message for r in handler.received if r.rcpt_tos == ["both@example.com"]]
    assert "monthly" in message["List-Id"]  # its unsubscribe link leaves monthly, the list that reached them
    # and a reader suppressed on both lists gets nothing
    with Context(workspace) as ctx:
        ctx.store.suppress("both@example.com", reason="unsubscribed", list_name="monthly")
    (workspace / "pages" / "next.txt").write_text("Next Week's Lead\n\nSource: Desk | 2023-05-25 09:00:00\n\nBody.\n")
    assert "Issue 2:" in runner.invoke(main, ["build"]).output
    before = len(handler.received)
    for args in sends:
        assert runner.invoke(main, ["send", "issues/2", *args]).exit_code == 0
    assert sorted(r.rcpt_tos[0] for r in handler.received[before:]) == ["m@example.com", "w@example.com"]


def test_a_database_from_before_member_lists_is_upgraded_in_place(store_location: str, monkeypatch):
    from digest.store import migrations

    before = [(name, step) for name, step in migrations.MIGRATIONS if name < "0410_member_lists"]
    monkeypatch.setattr(migrations, "MIGRATIONS", before)
    with open_store(store_location) as store:
        assert "0410_member_lists" not in store.migrations()
        campaign = store.open_campaign(1, "weekly", "weekly")
        # Rows as the code of the previous schema journaled them: one list per row.
        with store.transaction() as tx:
            for email in ("left@example.com", "stays@example.com"):
                tx.execute("INSERT INTO deliveries (issue, email, email_key, list, message_id, created_at, updated_at) "
                           "VALUES (1, ?, ?, 'weekly', ?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                           (email, email, f"<{email}>"))
                tx.execute("INSERT INTO campaign_members (campaign, delivery, generation) "
                           "SELECT ?, id, 0 FROM deliveries WHERE email_key = ?", (campaign.id, email))
        store.suppress("left@example.com", reason="unsubscribed", list_name="weekly")
    monkeypatch.undo()
    with open_store(store_location) as store:
        applied = store.migrations()  # later steps (0510_…) follow; these two must be among the upgrade's
        assert applied.index("0410_member_lists") < applied.index("0420_refusal_changes")
        claim = store.claim(campaign.id, owner="o", run=store.start_run(campaign, owner="o", host="h", now=0),
                            limit=10, lease_until=time.time() + 60, now=time.time(), max_attempts=5)
        assert [(r.subscriber.email, r.list_name) for r in claim.rows] == [("stays@example.com", "weekly")]


def _confirm(store, list_name: str, email: str) -> None:  # type: ignore[no-untyped-def]
    _, sid = store.request_signup(SignupRequest(list_name, email), now=time.time(), limits=SignupLimits())
    assert store.confirm_signup(sid, now=time.time()) == "confirmed"


def test_a_signup_after_a_bounce_exempts_only_its_list_and_a_complaint_outranks_a_bounce(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        address = "gone@example.com"
        store.record_bounce(BounceEvent(address, "hard", "dsn", "r1", issue=1, status="5.1.1"), now=now)
        store.record_bounce(BounceEvent(address, "complaint", "arf", "r2", issue=1, status="abuse"), now=now)
        assert {s.email: s.reason for s in store.suppressions()} == {address: "complained"}
        _confirm(store, "monthly", address)
        assert not store.is_suppressed(address, list_name="monthly")
        assert store.is_suppressed(address, list_name="weekly")  # the complaint stands for weekly
        assert {s.email: s.reason for s in store.suppressions()} == {address: "complained"}
        # a weaker reason never replaces a stronger one, and a new bounce ends the exemption
        store.record_bounce(BounceEvent(address, "hard", "rcpt", "r3", issue=2, status="5.1.1"), now=now)
        assert {s.email: s.reason for s in store.suppressions()} == {address: "complained"}
        assert store.is_suppressed(address, list_name="monthly")


def test_a_signup_after_a_bounce_alone_keeps_the_other_lists_suppressed(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        address = "dead@example.com"
        store.record_bounce(BounceEvent(address, "hard", "rcpt", "r1", issue=1, status="5.1.1"), now=now)
        _confirm(store, "monthly", address)
        assert not store.is_suppressed(address, list_name="monthly")
        assert store.is_suppressed(address, list_name="weekly")
        store.suppress(address, reason="unsubscribed")  # stronger than the bounce, and ends the exemption
        assert {s.email: s.reason for s in store.suppressions()} == {address: "unsubscribed"}
        assert store.is_suppressed(address, list_name="monthly")
        _confirm(store, "monthly", address)
        store.record_bounce(BounceEvent(address, "complaint", "arf", "r2", issue=2, status="abuse"), now=now)
        assert {s.email: s.reason for s in store.suppressions()} == {address: "complained"}
        assert store.is_suppressed(address, list_name="monthly")


@pytest.mark.parametrize("queue", [{}, {"queue_size": 10, "backpressure": 0.01}], ids=["defaults", "tiny-queue"])
def test_a_burst_of_dsns_past_the_queue_is_applied_whole_while_the_receiver_runs(any_workspace: Path, runner,
                                                                                   capsys, queue):
    import asyncio

    import aiosmtplib

    from digest.back.process import Policy
    from digest.back.receiver import BounceReceiver, serve_receiver

    workspace = any_workspace
    readers = [f"r{i}@example{i % 7}.org" for i in range(300)]
    sent = send_issue(workspace, runner, readers)

    async def blast(port: int, chunk: list[str]) -> int:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60)
        await smtp.connect()
        accepted = 0
        for reader in chunk:
            errors, reply = await smtp.sendmail("", [sent[reader].verp], fill("exim_dsn.eml", sent[reader]))
            accepted += not errors and reply.startswith("2.0.0")
        await smtp.quit()
        return accepted

    async def scenario() -> int:
        with Context(workspace) as ctx:
            receiver = BounceReceiver(workspace / "bounces", store=ctx.store,
                                      policy=Policy.from_settings(ctx.settings, ctx.secret), **queue)
            async with serve_receiver(receiver) as port:
                accepted = sum(await asyncio.gather(*(blast(port, readers[i::6]) for i in range(6))))
                await receiver.drain()  # the receiver still runs: everything answered 250 is applied
                return accepted

    assert asyncio.run(scenario()) == len(readers)
    assert list((workspace / "bounces" / "new").iterdir()) == []
    assert len(list((workspace / "bounces" / ".Processed" / "cur").iterdir())) == len(readers)
    with Context(workspace) as ctx:
        assert {s.email for s in ctx.store.suppressions()} == set(readers)
    if queue:
        err = capsys.readouterr().err
        assert "falling behind" in err and "caught up" in err


def _refuse(store, issue: int, email: str, kind: str, reply: str) -> int:  # type: ignore[no-untyped-def]
    """Journal `email` for `issue`, claim it and record a refusal of `kind`, as a send does; the row id."""
    audience = Audience((f"list{issue}.csv",))
    campaign = store.open_campaign(issue, audience.key, audience.describe())
    store.enqueue(campaign, [(Subscriber(email), "weekly")], lambda k: f"<{issue}.{k}>")
    [row] = store.claim(campaign.id, owner="w", run=1, limit=10, lease_until=time.time() + 60, now=time.time(),
                        max_attempts=5).rows
    store.record([Result(row.id, "failed", int(reply[:3]), reply[4:], refusal=kind)], run=1, now=time.time())
    return int(row.id)


def test_withdrawing_a_refusal_that_reached_the_soft_limit_lifts_its_suppression(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        address = "full@example.com"
        for n in (1, 2):  # two earlier issues soft-bounced (mailbox full)
            store.record_bounce(BounceEvent(address, "soft", "dsn", f"d{n}", issue=n, status="4.2.2"), now=now)
        assert not store.is_suppressed(address)
        row = _refuse(store, 3, address, "soft", "552 5.2.2 Mailbox full")  # the third: the limit is reached
        assert {s.email: s.reason for s in store.suppressions()} == {address: "bounced"}
        assert store.withdraw_refusals([row]) == 1  # the relay was at fault for issue 3
        assert not store.is_suppressed(address)  # two soft bounces remain: under the limit
        assert [e.report_key for e in store.bounce_events(address)] == ["d1", "d2"]


def test_withdrawing_a_refusal_puts_back_a_signups_exemption_and_the_earlier_reason(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        address = "cy@example.com"
        store.record_bounce(BounceEvent(address, "complaint", "arf", "r1", issue=1, status="abuse"), now=now)
        _confirm(store, "weekly", address)  # she complained once, then signed up to weekly again
        assert not store.is_suppressed(address, list_name="weekly")
        row = _refuse(store, 2, address, "hard", "550 5.1.1 User unknown in local table")
        assert store.is_suppressed(address, list_name="weekly")  # recorded as a bounce: the exemption ended
        store.withdraw_refusals([row])  # … but it was the relay
        assert not store.is_suppressed(address, list_name="weekly")
        assert store.is_suppressed(address, list_name="monthly")
        assert {s.email: s.reason for s in store.suppressions()} == {address: "complained"}
        # a bounced address stays bounced, with its own issue, when a later refusal is withdrawn
        store.record_bounce(BounceEvent("old@example.com", "hard", "dsn", "r2", issue=1, status="5.1.1"), now=now)
        _confirm(store, "weekly", "old@example.com")
        before = [(s.email, s.reason, s.issue, s.created_at) for s in store.suppressions()
                  if s.email == "old@example.com"]
        store.withdraw_refusals([_refuse(store, 3, "old@example.com", "hard", "550 5.1.1 Unknown")])
        assert [(s.email, s.reason, s.issue, s.created_at) for s in store.suppressions()
                if s.email == "old@example.com"] == before
        assert not store.is_suppressed("old@example.com", list_name="weekly")


def test_a_complaint_that_came_in_before_the_withdrawal_stays(store_location: str):
    with open_store(store_location) as store:
        row = _refuse(store, 1, "dee@example.com", "hard", "550 5.1.1 User unknown")
        store.record_bounce(BounceEvent("dee@example.com", "complaint", "arf", "r1", issue=1, status="abuse"),
                            now=time.time())
        store.withdraw_refusals([row])
        assert {s.email: s.reason for s in store.suppressions()} == {"dee@example.com": "complained"}


@pytest.mark.parametrize("given", ["weekly", "subscribers/weekly.csv", "./subscribers/weekly.csv"])
def test_unsubscribe_from_a_list_names_it_as_send_does(any_workspace: Path, runner, recorder, given):
    workspace = any_workspace
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    _two_lists(workspace)
    left = runner.invoke(main, ["subscribers", "unsubscribe", "--list", given, "w@example.com"])
    assert left.exit_code == 0 and "w@example.com: suppressed (manual, list weekly)" in left.output, left.output
    assert runner.invoke(main, ["build"]).exit_code == 0
    assert runner.invoke(main, ["send", "--list", "subscribers/weekly.csv"]).exit_code == 0
    assert [r.rcpt_tos for r in handler.received] == [["both@example.com"]]


@pytest.mark.parametrize("given", ["Weekly", "nosuchlist", "subscribers/nosuch.csv", "weekly.txt"])
def test_unsubscribe_from_an_unknown_list_is_an_error_naming_the_lists(workspace: Path, runner, given):
    _two_lists(workspace)
    result = runner.invoke(main, ["subscribers", "unsubscribe", "--list", given, "w@example.com"])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert given in line and "monthly, weekly" in line and "Traceback" not in result.output
    with Context(workspace) as ctx:
        assert list(ctx.store.suppressions()) == []


def test_bounces_that_came_in_before_the_withdrawal_still_count(store_location: str):
    with open_store(store_location) as store:
        now = time.time()
        for n in (1, 2):
            store.record_bounce(BounceEvent("full@example.com", "soft", "dsn", f"d{n}", issue=n, status="4.2.2"),
                                now=now)
        row = _refuse(store, 3, "full@example.com", "soft", "552 5.2.2 Mailbox full")
        # issue 4's DSN comes in while the send of issue 3 still runs: three soft bounces without issue 3's
        store.record_bounce(BounceEvent("full@example.com", "soft", "dsn", "d4", issue=4, status="4.2.2"), now=now)
        dead = _refuse(store, 5, "dead@example.com", "soft", "550 5.2.0 Mailbox unavailable")
        store.record_bounce(BounceEvent("dead@example.com", "hard", "dsn", "d5", issue=4, status="5.1.1"), now=now)
        store.withdraw_refusals([row, dead], now=now)
        assert {s.email: s.reason for s in store.suppressions()} == {"full@example.com": "bounced",
                                                                     "dead@example.com": "bounced"}
