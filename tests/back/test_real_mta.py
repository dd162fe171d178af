"""Bounces from real mail servers: a private Postfix writes the DSN; a server refuses at RCPT."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digest.app.context import Context
from digest.cli import main
from tests.conftest import point_smtp_at
from tests.postfix import PrivatePostfix, postfix_available
from tests.servers import FaultPlan, FaultyHandler, ThreadedFaultySMTP
from tests.web_helpers import free_port

NEXT_PAGE = "Next Week's Lead\n\nSource: Desk | 2023-05-25 09:00:00\n\nBody.\n"


def _needs_postfix() -> None:
    why = postfix_available()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Postfix bounce test: {why}")
        pytest.skip(f"{why}; CI installs it and never skips")


def _wait_for(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"digest serve exited: {process.communicate()[1].decode(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("digest serve did not start listening")


def test_a_postfix_dsn_reaches_digest_serve_smtp_and_the_next_issue_skips_the_address(
        workspace: Path, runner, recorder):
    _needs_postfix()
    sink, handler = recorder
    (workspace / "subscribers" / "pf.csv").write_text(
        "email,name\nada@ok.example.net,Ada\ngone@dead.example.net,Gone\n")
    receiver_port, http_port = free_port(), free_port()
    routes = {"ok.example.net": sink.port, "news.example.com": receiver_port}
    with PrivatePostfix(routes, bounce_domain="news.example.com") as mta:
        point_smtp_at(workspace, mta.port)
        serve = subprocess.Popen([sys.executable, "-m", "digest", "serve", "--port", str(http_port), "--smtp",
                                  str(receiver_port)], cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _wait_for(receiver_port, serve)
            assert runner.invoke(main, ["build"]).exit_code == 0
            sent = runner.invoke(main, ["send", "--list", "subscribers/pf.csv"])
            assert sent.exit_code == 0, sent.output + sent.stderr  # Postfix took both; it bounces one later
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with Context(workspace) as ctx:
                    if ctx.store.is_suppressed("gone@dead.example.net"):
                        break
                time.sleep(0.2)
            else:
                serve.terminate()
                pytest.fail("no DSN was applied; Postfix log:\n" + mta.log()[-3000:] + sent.output
                            + serve.communicate()[1].decode(errors="replace"))
            with Context(workspace) as ctx:
                [event] = ctx.store.bounce_events("gone@dead.example.net")
                assert (event.kind, event.source, event.status, event.issue) == ("hard", "dsn", "5.1.1", 1)
                assert "user unknown" in event.diagnostic
                assert not ctx.store.is_suppressed("ada@ok.example.net")
            [ada] = handler.received
            # the reader got it with our VERP return path; the From is the newsletter's
            assert ada.mail_from.startswith("bounces+m1.") and ada.mail_from.endswith("@news.example.com")
            assert "weekly@news.example.com" in ada.message["From"]
            assert list((workspace / "bounces" / ".Processed" / "cur").iterdir())  # the DSN is kept, filed
            # the next issue does not go to the dead address
            (workspace / "pages" / "next.txt").write_text(NEXT_PAGE)
            assert "Issue 2:" in runner.invoke(main, ["build"]).output
            again = runner.invoke(main, ["send", "issues/2", "--list", "subscribers/pf.csv"])
            assert again.exit_code == 0, again.output + again.stderr
            with Context(workspace) as ctx:
                # journaled (a later resubscribe would reach it), never sent while suppressed
                assert {row.email: row.status for row in ctx.store.journal(2)} == {
                    "ada@ok.example.net": "sent", "gone@dead.example.net": "pending"}
        finally:
            serve.terminate()
            out, err = serve.communicate(timeout=20)
        assert b"received: dsn: gone@dead.example.net hard 5.1.1" in out, out + err
        assert b"Traceback" not in err


def test_a_550_at_rcpt_suppresses_at_once_and_the_next_issue_skips_them(workspace: Path, runner):
    emails = [f"reader{i}@example.com" for i in range(6)]
    (workspace / "subscribers" / "list.csv").write_text("email\n" + "\n".join(emails) + "\n")
    plan = FaultPlan(reject={emails[1], emails[4]})
    handler = FaultyHandler(plan)
    with ThreadedFaultySMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        first = runner.invoke(main, ["send", "--list", "subscribers/list.csv"])
        assert first.exit_code == 3  # two failed
        with Context(workspace) as ctx:
            assert {s.email: s.reason for s in ctx.store.suppressions()} == {emails[1]: "bounced",
                                                                              emails[4]: "bounced"}
        listing = runner.invoke(main, ["subscribers", "bounces"])
        assert f"{emails[1]}: suppressed (bounced); 1 hard" in listing.output
        assert "550 5.1.1 No such user here" in listing.output
        (workspace / "pages" / "next.txt").write_text(NEXT_PAGE)
        assert "Issue 2:" in runner.invoke(main, ["build"]).output
        before = len(handler.received)
        second = runner.invoke(main, ["send", "issues/2", "--list", "subscribers/list.csv"])
        assert second.exit_code == 0, second.output
        assert sorted(r.rcpt_tos[0] for r in handler.received[before:]) == sorted(
            e for e in emails if e not in plan.reject)


def test_a_refusal_of_the_message_does_not_suppress_the_reader(workspace: Path, runner):
    class SpamFilter(FaultyHandler):
        async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
            if address.startswith("blocked"):
                return "550 5.7.1 Message refused by policy"
            return await super().handle_RCPT(server, session, envelope, address, options)

    (workspace / "subscribers" / "list.csv").write_text("email\nblocked@example.com\nfine@example.com\n")
    with ThreadedFaultySMTP(SpamFilter(FaultPlan())) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        assert runner.invoke(main, ["send", "--list", "subscribers/list.csv"]).exit_code == 3
    with Context(workspace) as ctx:
        assert list(ctx.store.suppressions()) == []


def test_a_relay_refusing_everyone_stops_the_send_and_records_nothing_against_the_readers(workspace: Path, runner):
    class LocalOnlyRelay(FaultyHandler):
        """A relay that knows only its own users: every reader looks "unknown" to it."""

        fixed = False

        async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
            if not self.fixed:
                return "550 5.1.1 <" + address + ">: Recipient address rejected: User unknown in local table"
            return await super().handle_RCPT(server, session, envelope, address, options)

    # Readers at several domains, as any real list has them: one dead domain alone never trips the breaker.
    emails = [f"reader{i}@example{i % 5}.com" for i in range(40)]
    (workspace / "subscribers" / "list.csv").write_text("email\n" + "\n".join(emails) + "\n")
    handler = LocalOnlyRelay(FaultPlan())
    with ThreadedFaultySMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        first = runner.invoke(main, ["send", "--list", "subscribers/list.csv", "--concurrency", "1"])
        assert first.exit_code == 3, first.output
        assert "recipients were refused" in first.output and "Traceback" not in first.output
        with Context(workspace) as ctx:
            assert list(ctx.store.suppressions()) == []  # no reader paid for the relay's setup
            assert [e for address in emails for e in ctx.store.bounce_events(address)] == []
            status = ctx.store.campaign_status(ctx.store.campaigns_of(1)[0], now=time.time())
            assert status.counts.get("failed", 0) < len(emails)  # it stopped early
        handler.fixed = True
        again = runner.invoke(main, ["send", "--list", "subscribers/list.csv", "--retry-failed"])
        assert again.exit_code == 0, again.output
        assert sorted(r.rcpt_tos[0] for r in handler.received) == sorted(emails)
