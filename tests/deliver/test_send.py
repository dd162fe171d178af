"""Sending over real SMTP: personalised headers, faults, retries, resume after SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from digest.app.context import Context
from digest.app.send import send_to_lists
from digest.cli import main
from digest.compose import verify_token
from digest.deliver.sender import SendOptions, TokenBucket
from digest.deliver.transport import MemoryTransport, Outcome
from tests.conftest import point_smtp_at, write_list
from tests.servers import FaultPlan, FaultyHandler, ThreadedFaultySMTP


def test_each_recipient_gets_their_own_headers(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    emails = write_list(workspace / "subscribers" / "big.csv", 25)
    runner.invoke(main, ["build"])
    result = runner.invoke(main, ["send", "--list", "subscribers/big.csv", "--concurrency", "4"])
    assert result.exit_code == 0, result.output + result.stderr
    assert sorted(r.rcpt_tos[0] for r in handler.received) == emails
    secret = Context(workspace).secret
    ids, urls = set(), set()
    for received in handler.received:
        m = received.message
        to = m["To"].addresses[0].addr_spec
        assert to == received.rcpt_tos[0]
        for header in ("From", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
                       "List-Unsubscribe-Post", "MIME-Version"):
            assert m[header], header
        url = m["List-Unsubscribe"].split(",")[0].strip("<> ")
        token = url.rsplit("/u/", 1)[1]
        assert verify_token(secret, token).email == to
        assert url in m.get_body(("html",)).get_content()
        assert url in m.get_body(("plain",)).get_content()
        ids.add(m["Message-ID"])
        urls.add(url)
        assert all(len(line) <= 998 for line in received.data.split(b"\r\n"))
    assert len(ids) == len(urls) == 25


def test_person_on_two_lists_gets_one_message(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    (workspace / "subscribers" / "other.csv").write_text("email,name\nADA@example.com,Ada again\nnew@example.net,New\n")
    runner.invoke(main, ["build"])
    result = runner.invoke(main, ["send", "--list", "subscribers/example.csv", "--list", "subscribers/other.csv"])
    assert result.exit_code == 0, result.stderr
    assert Counter(r.rcpt_tos[0].lower() for r in handler.received) == Counter(
        ["ada@example.com", "grace@example.org", "linus@example.com", "new@example.net"])


def test_misbehaving_server_nobody_lost(workspace: Path, runner):
    emails = write_list(workspace / "subscribers" / "list.csv", 40)
    plan = FaultPlan(
        refuse_connections=1,
        defer_once=set(emails[0:5]),
        reject=set(emails[5:8]),
        drop_in_data_once=set(emails[8:10]),
        slow=set(emails[10:14]),
        defer_data_once=set(emails[14:16]),
    )
    handler = FaultyHandler(plan)
    with ThreadedFaultySMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        problems: list = []
        report = asyncio.run(send_to_lists(
            Context(workspace), workspace / "issues" / "1", [workspace / "subscribers" / "list.csv"],
            options=SendOptions(concurrency=4, backoff_base=0.02, backoff_max=0.1, unknown_delay=0.5),
            on_problem=problems.append))
    assert report.counts == {"pending": 0, "sent": 37, "deferred": 0, "failed": 3, "unknown": 0}
    delivered = Counter(r.rcpt_tos[0] for r in handler.received)
    assert set(delivered) == set(emails) - set(emails[5:8])
    assert all(n == 1 for n in delivered.values())
    assert handler.refused == 1
    status = runner.invoke(main, ["status"])
    for email in emails[5:8]:
        assert f"{email}: 550 5.1.1 No such user here" in status.output
    # exit 3 when some recipients failed; the resume sends nothing new
    again = runner.invoke(main, ["send", "--list", "subscribers/list.csv"])
    assert again.exit_code == 3


def test_memory_transport_and_retry_failed(workspace: Path, runner):
    runner.invoke(main, ["build"])
    refused = Outcome("failed", 550, "no")
    transport = MemoryTransport(refuse={"grace@example.org": refused})
    ws, folder, lists = Context(workspace), workspace / "issues" / "1", [workspace / "subscribers" / "example.csv"]
    report = asyncio.run(send_to_lists(ws, folder, lists, options=SendOptions(), on_problem=print,
                                       transport=transport))
    assert (report.sent, report.failed) == (2, 1)
    transport.refuse.clear()
    report = asyncio.run(send_to_lists(ws, folder, lists, options=SendOptions(), on_problem=print,
                                       transport=transport))
    assert report.attempts == 0  # failed stays failed without --retry-failed
    report = asyncio.run(send_to_lists(ws, folder, lists, options=SendOptions(retry_failed=True),
                                       on_problem=print, transport=transport))
    assert report.sent == 1 and report.counts["sent"] == 3
    assert sorted(m.recipient for _, m in transport.delivered) == [
        "ada@example.com", "grace@example.org", "linus@example.com"]


def test_suppressed_address_receives_nothing(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    runner.invoke(main, ["build"])
    assert runner.invoke(main, ["subscribers", "unsubscribe", "Grace@Example.org"]).exit_code == 0
    assert runner.invoke(main, ["send", "--list", "subscribers/example.csv"]).exit_code == 0
    assert sorted(r.rcpt_tos[0] for r in handler.received) == ["ada@example.com", "linus@example.com"]


def test_token_bucket_paces_with_a_virtual_clock():
    now = [0.0]
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(10, burst=1, clock=lambda: now[0], sleep=fake_sleep)

    async def take(n: int) -> None:
        for _ in range(n):
            await bucket.take()

    asyncio.run(take(21))
    assert now[0] == pytest.approx(2.0)  # 21 messages at 10/s with a burst of 1: two seconds


def test_dry_run_and_test_to(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    runner.invoke(main, ["build"])
    dry = runner.invoke(main, ["send", "--list", "subscribers/example.csv", "--dry-run"])
    assert dry.exit_code == 0 and "3 message(s) would be sent" in dry.output
    assert handler.received == []
    test = runner.invoke(main, ["send", "--test-to", "editor@example.net"])
    assert test.exit_code == 0, test.stderr
    assert [r.rcpt_tos for r in handler.received] == [["editor@example.net"]]
    status = runner.invoke(main, ["status"])
    assert "not sent to any list yet" in status.output  # outside the journal


def test_sigkill_mid_send_then_resume(workspace: Path, runner):
    n, concurrency = 300, 4
    emails = write_list(workspace / "subscribers" / "list.csv", n)
    handler = FaultyHandler(FaultPlan(slow=set(emails)))  # 50 ms per RCPT keeps the run going
    with ThreadedFaultySMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        command = [sys.executable, "-m", "digest", "send", "--list", "subscribers/list.csv",
                   "--concurrency", str(concurrency)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(command, cwd=workspace, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(handler.received) < 60 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        killed_at = len(handler.received)
        assert 0 < killed_at < n
        # The journal opens cleanly after the kill.
        db = sqlite3.connect(workspace / ".digest" / "state.sqlite3")  # a file check, not a query of ours
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()
        resumed = subprocess.run(command, cwd=workspace, env=env, capture_output=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr.decode()
    delivered = Counter(r.rcpt_tos[0] for r in handler.received)
    assert set(delivered) == set(emails)
    duplicates = sum(count - 1 for count in delivered.values())
    assert duplicates <= concurrency


def test_dkim_signature_verifies_and_covers_list_unsubscribe(workspace: Path, runner, recorder):
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (workspace / "dkim.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    (workspace / "dkim.pem").chmod(0o600)  # a key others can read is refused
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    with (workspace / "digest.toml").open("a") as f:
        f.write('\n[dkim]\nselector = "mail"\ndomain = "news.example.com"\nprivate_key_path = "dkim.pem"\n')
    runner.invoke(main, ["build"])
    assert runner.invoke(main, ["send", "--list", "subscribers/example.csv"]).exit_code == 0
    assert len(handler.received) == 3

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"mail._domainkey.news.example.com."
        return record

    for received in handler.received:
        assert dkim.verify(received.data, dnsfunc=dns)
        signature = received.message["DKIM-Signature"]
        signed = {h.strip().lower() for h in signature.split("h=")[1].split(";")[0].split(":")}
        assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} <= signed
        tampered = received.data.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                                         b"List-Unsubscribe-Post: nothing")
        assert not dkim.verify(tampered, dnsfunc=dns)


def test_password_never_goes_unencrypted_to_a_remote_host(monkeypatch):
    from digest.core.errors import DeliveryError
    from digest.core.settings import SMTPSettings
    from digest.deliver.transport import SMTPTransport

    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "hunter2-secret")
    with pytest.raises(DeliveryError) as info:
        SMTPTransport(SMTPSettings(host="smtp.example.com", port=25, security="none", username="me"))
    assert "unencrypted" in str(info.value) and "hunter2" not in str(info.value)
    SMTPTransport(SMTPSettings(host="127.0.0.1", port=25, security="none", username="me"))  # loopback is fine


def _interrupted_send(workspace: Path, runner, *, signals: int, after: int):
    """Start a slow send, SIGINT it `signals` times after `after` deliveries, then resume it."""
    n = 200
    emails = write_list(workspace / "subscribers" / "list.csv", n)
    handler = FaultyHandler(FaultPlan(slow=set(emails)))
    with ThreadedFaultySMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        command = [sys.executable, "-m", "digest", "send", "--list", "subscribers/list.csv", "--concurrency", "4"]
        process = subprocess.Popen(command, cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(handler.received) < after and time.monotonic() < deadline:
            time.sleep(0.01)
        for _ in range(signals):
            process.send_signal(signal.SIGINT)
            time.sleep(0.01)
        out, err = process.communicate(timeout=30)
        stopped_at = len(handler.received)
        resumed = subprocess.run(command, cwd=workspace, capture_output=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr.decode()
    assert stopped_at < n
    delivered = Counter(r.rcpt_tos[0] for r in handler.received)
    assert set(delivered) == set(emails)
    return process.returncode, out, err, delivered


def test_sigint_stops_cleanly_and_resume_sends_each_once(workspace: Path, runner):
    returncode, out, err, delivered = _interrupted_send(workspace, runner, signals=1, after=30)
    assert returncode == 3, err.decode()
    assert b"run the same command again" in out
    assert max(delivered.values()) == 1  # a clean stop leaves no duplicate


def test_limit_sends_at_most_n(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    write_list(workspace / "subscribers" / "list.csv", 30)
    runner.invoke(main, ["build"])
    result = runner.invoke(main, ["send", "--list", "subscribers/list.csv", "--limit", "10"])
    assert result.exit_code == 3  # some still pending
    assert len(handler.received) == 10
    assert runner.invoke(main, ["send", "--list", "subscribers/list.csv"]).exit_code == 0
    assert len({r.rcpt_tos[0] for r in handler.received}) == len(handler.received) == 30


def test_internationalised_addresses_go_out_with_smtputf8(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    (workspace / "subscribers" / "intl.csv").write_text(
        "email,name\njosé@exämple.com,\"Núñez, José\"\n用户@例子.广告,用户\nplain@bücher.example,Punycode Domain\n",
        encoding="utf-8")
    runner.invoke(main, ["build"])
    result = runner.invoke(main, ["send", "--list", "subscribers/intl.csv"])
    assert result.exit_code == 0, result.output + result.stderr
    got = sorted(r.rcpt_tos[0] for r in handler.received)
    # An ASCII local part gets a punycode domain (no SMTPUTF8 needed); the others go as UTF-8.
    assert got == sorted(["josé@exämple.com", "用户@例子.广告", "plain@xn--bcher-kva.example"])
    from email import message_from_string
    from email.policy import default

    for received in handler.received:
        message = message_from_string(received.data.decode("utf-8"), policy=default)
        assert message["To"].addresses[0].addr_spec == received.rcpt_tos[0]


def test_second_sigint_stops_at_once_and_resume_completes(workspace: Path, runner):
    returncode, _, err, delivered = _interrupted_send(workspace, runner, signals=2, after=20)
    assert returncode == 3, err.decode()
    assert b"Stopped at once" in err and b"Traceback" not in err
    assert sum(c - 1 for c in delivered.values()) <= 4
