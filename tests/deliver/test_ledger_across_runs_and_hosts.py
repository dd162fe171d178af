"""The ledger under an unlucky operator: other hosts, edited lists, paused senders, closed streams, restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from digest.cli import main
from digest.core.errors import StateError
from digest.store import open_store
from tests.conftest import point_smtp_at, write_list
from tests.servers import SilentAfterDataHandler, SlowHandler, ThreadedSMTP

SEND = [sys.executable, "-m", "digest", "send"]


def test_a_host_with_another_token_key_is_refused(pg_workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(pg_workspace, server.port)
    assert runner.invoke(main, ["build"]).exit_code == 0
    assert runner.invoke(main, ["send", "--list", "subscribers/example.csv", "--limit", "1"]).exit_code == 3
    other = {**os.environ, "DIGEST_SECRET": "another-host-made-its-own-key-0123456789abcdef"}
    result = subprocess.run([*SEND, "--list", "subscribers/example.csv", "--worker"], cwd=pg_workspace, env=other,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not the one the store has been used with" in result.stderr
    assert "another-host-made" not in result.stderr
    assert len(handler.received) == 1


def test_people_taken_off_a_list_are_not_sent(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    path = workspace / "subscribers" / "e.csv"
    emails = write_list(path, 200)
    assert runner.invoke(main, ["build"]).exit_code == 0
    assert runner.invoke(main, ["send", "--list", "subscribers/e.csv", "--limit", "20"]).exit_code == 3
    first = {r.rcpt_tos[0] for r in handler.received}
    path.write_text("email,name\n" + "".join(f"{e},R\n" for e in emails[:100]))  # the second half left
    dry = runner.invoke(main, ["send", "--list", "subscribers/e.csv", "--dry-run"])
    assert "Dry run: 80 message(s) would be sent" in dry.output, dry.output
    again = runner.invoke(main, ["send", "--list", "subscribers/e.csv"])
    assert again.exit_code == 0, again.output + again.stderr
    assert "taken out of the campaign" in again.output
    delivered = Counter(r.rcpt_tos[0] for r in handler.received)
    assert set(delivered) == set(emails[:100]) | first and max(delivered.values()) == 1
    status = runner.invoke(main, ["status", "--check"])
    assert status.exit_code == 0, status.output


def test_a_resubscribed_person_is_sent_without_reading_the_list_again(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    assert runner.invoke(main, ["build"]).exit_code == 0
    assert runner.invoke(main, ["subscribers", "unsubscribe", "grace@example.org"]).exit_code == 0
    assert runner.invoke(main, ["send", "--list", "subscribers/example.csv"]).exit_code == 0
    assert "grace@example.org" not in {r.rcpt_tos[0] for r in handler.received}
    assert runner.invoke(main, ["subscribers", "resubscribe", "grace@example.org"]).exit_code == 0
    assert runner.invoke(main, ["status", "--check"]).exit_code == 3  # grace is now owed the issue
    assert "Dry run: 1 message(s)" in runner.invoke(main, ["send", "--list", "subscribers/example.csv",
                                                             "--dry-run"]).output
    assert runner.invoke(main, ["send", "--list", "subscribers/example.csv"]).exit_code == 0
    assert [r.rcpt_tos[0] for r in handler.received].count("grace@example.org") == 1


@pytest.mark.parametrize("url", [
    "postgresql://digest:Kx7 Secret@127.0.0.1:1/newsletter",
    "postgresql://digest:Kx7%zzSecret@127.0.0.1:1/newsletter",
    "postgresql://digest@127.0.0.1:1/newsletter?password=Kx7%zzSecret",
    "postgresql://digest:Kx7Secret123@[::1/newsletter",
    "postgres://digest:Kx7@Secret#Tail@127.0.0.1:1/newsletter",
])
def test_no_database_error_shows_the_password(url: str):
    with pytest.raises(StateError) as caught:
        open_store(url)
    message = str(caught.value)
    for piece in ("Kx7", "Secret", "Tail"):
        assert piece not in message, message


@pytest.mark.parametrize("value", ["host=127.0.0.1 user=digest password=KvSecret7 dbname=x",
                                   "postgresql:/127.0.0.1:55432/newsletter"])
def test_a_database_url_that_is_no_url_is_refused_not_made_a_file(workspace: Path, runner, value: str,
                                                                  monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DIGEST_DATABASE_URL", value)
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 2 and "DIGEST_DATABASE_URL must be a postgresql:// URL" in result.stderr
    assert "KvSecret7" not in result.stderr
    assert sorted(p.name for p in workspace.iterdir()) == ["digest.toml", "pages", "subscribers"]


def pause_outside_a_write(process: subprocess.Popen[bytes], database: Path) -> None:
    """SIGSTOP the process at a moment it holds no SQLite write lock (Ctrl-Z lands anywhere; one that
    lands inside a write transaction blocks every other writer of the file until the process goes on,
    which is SQLite's, not the lease's, behaviour; the lease is what these tests are about)."""
    import sqlite3

    for _ in range(200):
        process.send_signal(signal.SIGSTOP)
        probe = sqlite3.connect(database, timeout=0.2, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:
            process.send_signal(signal.SIGCONT)
            time.sleep(0.01)
        finally:
            probe.close()
    raise AssertionError("the sender always held the write lock")


def _another_finishes_then_the_paused_goes_on(workspace: Path, command: list[str],
                                              paused: subprocess.Popen[bytes], handler,  # type: ignore[no-untyped-def]
                                              emails: list[str]) -> Counter[str]:
    """Past the lease, another sender runs the campaign to its end; then the paused one goes on.
    Returns how many copies each address got (everyone got at least one)."""
    time.sleep(6)  # longer than the lease
    other = subprocess.run(command, cwd=workspace, capture_output=True, text=True, timeout=120)
    paused.send_signal(signal.SIGCONT)
    _, err = paused.communicate(timeout=60)
    assert other.returncode == 0, other.stdout + other.stderr
    assert paused.returncode in (0, 3), err
    delivered = Counter(r.rcpt_tos[0] for r in handler.received)
    assert set(delivered) == set(emails)
    return delivered


def test_a_paused_sender_leaves_rows_another_took(workspace: Path, runner):
    n, concurrency = 400, 4
    emails = write_list(workspace / "subscribers" / "k.csv", n)
    handler = SlowHandler(delay=0.02)
    command = [*SEND, "--list", "subscribers/k.csv", "--lease", "5", "--concurrency", str(concurrency)]
    with ThreadedSMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        paused = subprocess.Popen(command, cwd=workspace, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(handler.received) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        pause_outside_a_write(paused, workspace / ".digest" / "state.sqlite3")  # Ctrl-Z, a laptop asleep
        at_pause = len(handler.received)
        delivered = _another_finishes_then_the_paused_goes_on(workspace, command, paused, handler, emails)
    # Only what was on the wire at the pause can go twice, not the queued batch.
    assert sum(c - 1 for c in delivered.values()) <= concurrency, (at_pause, sum(c - 1 for c in delivered.values()))


def test_a_paused_sender_waiting_on_its_rate_sends_nothing_another_took(workspace: Path, runner, recorder):
    # Found by an attack pass: rows checked before the --rate wait were sent after SIGCONT without a
    # second look, 8 duplicates when one sender was paused while another finished the campaign.
    server, handler = recorder
    emails = write_list(workspace / "subscribers" / "r.csv", 40)
    command = [*SEND, "--list", "subscribers/r.csv", "--lease", "5", "--concurrency", "8"]
    point_smtp_at(workspace, server.port)
    assert runner.invoke(main, ["build"]).exit_code == 0
    paused = subprocess.Popen([*command, "--rate", "2"], cwd=workspace, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(handler.received) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    # Every worker holds a row and waits for its turn under --rate.
    pause_outside_a_write(paused, workspace / ".digest" / "state.sqlite3")
    delivered = _another_finishes_then_the_paused_goes_on(workspace, command, paused, handler, emails)
    # At most the one message on the wire when it was paused; none of those waiting for the rate.
    assert sum(c - 1 for c in delivered.values()) <= 1, delivered.most_common(10)


@pytest.mark.parametrize("closing", [">&-", "2>&-", "<&-"])
def test_a_send_with_a_closed_standard_stream_still_sends(workspace: Path, runner, recorder, closing: str):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    assert runner.invoke(main, ["build"]).exit_code == 0
    shell = f"{sys.executable} -m digest send --list subscribers/example.csv {closing}"
    done = subprocess.run(["bash", "-c", shell], cwd=workspace, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "Assertion" not in done.stderr
    assert len(handler.received) == 3


def test_a_hang_up_does_not_stop_a_send(workspace: Path, runner):
    emails = write_list(workspace / "subscribers" / "h.csv", 300)
    handler = SlowHandler(delay=0.01)
    with ThreadedSMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        process = subprocess.Popen([*SEND, "--list", "subscribers/h.csv", "--concurrency", "2"], cwd=workspace,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while len(handler.received) < 20:
            time.sleep(0.01)
        process.send_signal(signal.SIGHUP)  # the terminal was closed
        _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    assert Counter(r.rcpt_tos[0] for r in handler.received) == Counter(emails)


def test_dry_run_counts_failures_unknowns_and_the_limit_like_a_send(workspace: Path, runner):
    write_list(workspace / "subscribers" / "u.csv", 5)
    handler = SilentAfterDataHandler()
    with ThreadedSMTP(handler) as server:
        with (workspace / "digest.toml").open("a") as f:
            f.write(f'\n[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\ndata_timeout = 1\n')
        assert runner.invoke(main, ["build"]).exit_code == 0
        assert runner.invoke(main, ["send", "--list", "subscribers/u.csv"]).exit_code == 3  # all unknown, twice
        dry = runner.invoke(main, ["send", "--list", "subscribers/u.csv", "--dry-run"])
        assert "Dry run: 0 message(s) would be sent" in dry.output and "5 with an unknown outcome" in dry.output
        dry = runner.invoke(main, ["send", "--list", "subscribers/u.csv", "--dry-run", "--retry-unknown",
                                   "--limit", "2"])
        assert "Dry run: 2 message(s) would be sent" in dry.output and "3 over --limit" in dry.output
        # --retry-unknown: exactly one more copy each, not two.
        before = len(handler.received)
        assert runner.invoke(main, ["send", "--list", "subscribers/u.csv", "--retry-unknown"]).exit_code == 3
    assert len(handler.received) - before == 5


def test_an_abandoned_campaign_sends_nothing_more(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    assert runner.invoke(main, ["build"]).exit_code == 0
    assert runner.invoke(main, ["send", "--list", "subscribers/example.csv", "--limit", "1"]).exit_code == 3
    abandoned = runner.invoke(main, ["send", "--list", "subscribers/example.csv", "--abandon"])
    assert abandoned.exit_code == 0 and "2 recipient(s) left unsent" in abandoned.output
    again = runner.invoke(main, ["send", "--list", "subscribers/example.csv"])
    assert again.exit_code == 2 and "was abandoned" in again.stderr
    assert len(handler.received) == 1
    status = runner.invoke(main, ["status", "--check"])
    assert status.exit_code == 0 and "(abandoned)" in status.output


def test_concurrent_checks_of_one_list_on_postgres(pg_workspace: Path):
    path = pg_workspace / "subscribers" / "example.csv"
    for _ in range(5):
        path.touch()
        runs = [subprocess.Popen([sys.executable, "-m", "digest", "subscribers", "check", str(path)],
                                 cwd=pg_workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(4)]
        for run in runs:
            out, err = run.communicate(timeout=60)
            assert run.returncode == 0, err
            assert "3 valid, 0 duplicate(s), 0 invalid" in out


def test_a_postgres_restart_mid_send_is_waited_out(workspace: Path, runner, postgres, monkeypatch):
    from tests.conftest import fresh_database

    if isinstance(postgres, str):
        pytest.skip("DIGEST_TEST_POSTGRES is a server these tests do not own; it cannot be restarted")
    monkeypatch.setenv("DIGEST_DATABASE_URL", fresh_database(postgres))
    n = 600
    emails = write_list(workspace / "subscribers" / "r.csv", n)
    handler = SlowHandler(delay=0.01)
    with ThreadedSMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        process = subprocess.Popen([*SEND, "--list", "subscribers/r.csv", "--concurrency", "4"], cwd=workspace,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while len(handler.received) < 100:
            time.sleep(0.01)
        restarting = threading.Thread(target=postgres.restart)
        restarting.start()
        out, err = process.communicate(timeout=240)
        restarting.join()
    assert process.returncode == 0, out + err
    assert len(err.strip().splitlines()) <= 1 and "discarding" not in err
    delivered = Counter(r.rcpt_tos[0] for r in handler.received)
    assert set(delivered) == set(emails) and sum(c - 1 for c in delivered.values()) <= 4


def test_status_does_not_count_a_killed_sender_as_working(workspace: Path, runner):
    write_list(workspace / "subscribers" / "s.csv", 300)
    handler = SlowHandler(delay=0.02)
    with ThreadedSMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        process = subprocess.Popen([*SEND, "--list", "subscribers/s.csv"], cwd=workspace,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while len(handler.received) < 30:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    status = runner.invoke(main, ["status"])
    assert "sender(s) at work" not in status.output and "in flight" not in status.output, status.output


class _RawReplyServer:
    """A bare SMTP server (asyncio streams) whose reply to the final dot is the given raw bytes."""

    def __init__(self, data_reply: bytes) -> None:
        import asyncio

        self.data_reply = data_reply
        self.messages = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0

    async def _session(self, reader, writer) -> None:
        writer.write(b"220 raw.test ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250 raw.test\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                while (await reader.readline()) != b".\r\n":
                    pass
                self.messages += 1
                writer.write(self.data_reply + b"\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    def __enter__(self) -> _RawReplyServer:
        import asyncio

        self.thread.start()
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._session, "127.0.0.1", 0), self.loop).result(10)
        self.port = server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.mark.parametrize("reply", [b"250 2.0.0 Ok: queued, re\xe7u", b"550 5.1.1 adresse refus\xe9e"])
def test_a_reply_that_is_not_utf8_is_recorded_once(workspace: Path, runner, reply: bytes):
    with _RawReplyServer(reply) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        first = subprocess.run([*SEND, "--list", "subscribers/example.csv"], cwd=workspace, capture_output=True,
                               text=True, timeout=60)
        again = subprocess.run([*SEND, "--list", "subscribers/example.csv"], cwd=workspace, capture_output=True,
                               text=True, timeout=60)
    assert "Traceback" not in first.stderr + again.stderr, first.stderr
    assert server.messages == 3  # once each: the outcome was journaled the first time
    status = runner.invoke(main, ["status"])
    assert status.exit_code == 0
    if reply.startswith(b"250"):
        assert first.returncode == 0 and "sent 3" in status.output
    else:
        assert first.returncode == 3 and "adresse refusée" in status.output
