"""SMTP edge cases: a server without STARTTLS, one without SMTPUTF8, and the aiosmtplib internals we lean on."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
from pathlib import Path

import aiosmtplib
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtplib.protocol import SMTPProtocol

from digest.compose import ComposedMessage
from digest.core.settings import SMTPSettings
from digest.deliver.transport import SMTPConnection, SMTPTransport
from tests.helpers.commands import run_digest
from tests.servers import FaultPlan, FaultyHandler, RecordingHandler, ThreadedFaultySMTP, ThreadedSMTP


def configure(workspace: Path, port: int, security: str) -> None:
    with (workspace / "digest.toml").open("a") as f:
        f.write(f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\ntimeout = 10\n')


def _send_fails_at_once(workspace: Path, port: int,
                        handler: FaultyHandler) -> tuple[subprocess.CompletedProcess[str], str]:
    """Build, then send with security = "starttls": exit 3 after one connection, and one line on stderr."""
    configure(workspace, port, "starttls")
    assert run_digest(workspace, "build").returncode == 0
    result = run_digest(workspace, "send", "--list", "subscribers/example.csv", "--concurrency", "1")
    assert result.returncode == 3, result.stdout + result.stderr
    assert handler.connections == 1  # not retried: it cannot succeed
    [line] = result.stderr.strip().splitlines()
    return result, line


def test_starttls_required_but_not_offered_fails_at_once(workspace: Path):
    handler = FaultyHandler(FaultPlan())
    with ThreadedFaultySMTP(handler) as server:  # no TLS context: STARTTLS is not advertised
        result, line = _send_fails_at_once(workspace, server.port, handler)
        assert "does not offer STARTTLS" in line and "Traceback" not in result.stderr, line
        test = run_digest(workspace, "send", "--test-to", "editor@example.net")
        assert test.returncode == 3 and "does not offer STARTTLS" in test.stderr
        assert handler.connections == 2
    assert handler.received == []


class BrokenTLSServer(SMTPServer):
    """Offers STARTTLS, then answers it with 454 (RFC 3207: TLS not available), as a server without its
    certificate does."""

    async def smtp_STARTTLS(self, arg: str) -> None:
        await self.push("454 4.7.0 TLS not available due to temporary reason")


def test_starttls_offered_but_refused_fails_at_once_and_says_so(workspace: Path):
    import ssl

    handler = FaultyHandler(FaultPlan())
    offered = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # makes aiosmtpd advertise STARTTLS

    class Threaded(ThreadedSMTP):
        def __enter__(self) -> Threaded:
            self.thread.start()

            async def start() -> asyncio.base_events.Server:
                def made() -> BrokenTLSServer:
                    handler.connections += 1
                    return BrokenTLSServer(handler, hostname="broken.local", decode_data=False, tls_context=offered)
                return await asyncio.get_running_loop().create_server(made, host="127.0.0.1", port=0)

            self._server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
            self.port = self._server.sockets[0].getsockname()[1]
            return self

    with Threaded(handler) as server:
        result, line = _send_fails_at_once(workspace, server.port, handler)
        assert "offers STARTTLS but would not start TLS: 454 4.7.0" in line, line
        assert "refused the greeting" not in line and "Traceback" not in result.stderr
    assert handler.received == []


def test_a_login_without_auth_on_offer_fails_at_once(monkeypatch):
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "pw")
    handler = FaultyHandler(FaultPlan())
    with ThreadedFaultySMTP(handler) as server:
        transport = SMTPTransport(SMTPSettings(port=server.port, username="digest", timeout=5))
        try:
            asyncio.run(transport.connect())
        except Exception as exc:  # noqa: BLE001 - the test checks what it is
            assert getattr(exc, "retryable", True) is False and "AUTH" in str(exc), exc
        else:
            raise AssertionError("logged in to a server that offers no AUTH")


def test_smtputf8_is_used_only_when_offered(workspace: Path):
    (workspace / "subscribers" / "intl.csv").write_text(
        "email,name\nann@example.com,Ann\njosé@exämple.com,José\nbob@example.com,Bob\n", encoding="utf-8")
    handler = RecordingHandler()
    with ThreadedSMTP(handler, enable_SMTPUTF8=False) as server:
        configure(workspace, server.port, "none")
        assert run_digest(workspace, "build").returncode == 0
        result = run_digest(workspace, "send", "--list", "subscribers/intl.csv", "--concurrency", "1")
        assert result.returncode == 3, result.stdout + result.stderr
        status = run_digest(workspace, "status").stdout
    assert sorted(r.rcpt_tos[0] for r in handler.received) == ["ann@example.com", "bob@example.com"]
    [failure] = [line for line in status.splitlines() if "josé" in line]
    assert "failed" in failure and "does not offer SMTPUTF8" in failure and "555" not in failure, failure


def test_smtputf8_goes_out_when_offered(workspace: Path):
    (workspace / "subscribers" / "intl.csv").write_text("email,name\njosé@exämple.com,José\n", encoding="utf-8")
    handler = RecordingHandler()
    with ThreadedSMTP(handler) as server:  # enable_SMTPUTF8=True
        configure(workspace, server.port, "none")
        assert run_digest(workspace, "build").returncode == 0
        assert run_digest(workspace, "send", "--list", "subscribers/intl.csv").returncode == 0
    assert [r.rcpt_tos for r in handler.received] == [["josé@exämple.com"]]


def test_the_aiosmtplib_internals_smtp_connection_relies_on():
    """SMTPConnection writes the DATA payload with protocol.write and reads the reply with
    protocol.read_response itself (skipping SMTP.data()'s per-message regex passes). That is only
    right while these hold; if this test fails after an aiosmtplib upgrade, check SMTPConnection.send."""
    write = inspect.signature(SMTPProtocol.write)
    assert list(write.parameters) == ["self", "data"], f"SMTPProtocol.write changed: {write}"
    read = inspect.signature(SMTPProtocol.read_response)
    assert "timeout" in read.parameters, f"SMTPProtocol.read_response changed: {read}"
    assert inspect.iscoroutinefunction(SMTPProtocol.read_response)
    # execute_command serialises commands with the protocol's command lock; our payload is
    # written between two of its commands (DATA, then the next MAIL), never during one.
    source = inspect.getsource(SMTPProtocol.execute_command)
    assert "self._command_lock" in source, "SMTPProtocol.execute_command no longer uses _command_lock"
    # read_response must arm the 'reply expected' flag itself: we write, then read without yielding.
    assert "_response_pending = True" in inspect.getsource(SMTPProtocol.read_response), \
        "SMTPProtocol.read_response no longer expects a reply by itself"

    async def round_trip(port: int) -> list[str]:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=5, start_tls=False)
        await smtp.connect()
        await smtp.ehlo()
        protocol = smtp.protocol
        assert isinstance(protocol, SMTPProtocol)
        assert isinstance(protocol._command_lock, asyncio.Lock), "no command lock on a connected protocol"
        async with protocol._command_lock:  # while it is held, a command waits for it
            waiting = asyncio.ensure_future(smtp.execute_command(b"NOOP"))
            await asyncio.sleep(0.1)
            assert not waiting.done(), "execute_command ran while the command lock was held"
        assert (await waiting).code == 250
        connection = SMTPConnection(smtp, timeout=5, data_timeout=5)
        outcomes = []
        for n in range(20):
            data = (f"From: a@example.com\r\nTo: r{n}@example.com\r\nSubject: {n}\r\n\r\nbody {n}\r\n").encode()
            outcome = await connection.send(ComposedMessage(f"r{n}@example.com", f"<{n}@x>", data),
                                            sender="a@example.com")
            outcomes.append(outcome.status)
        await connection.close()
        return outcomes

    handler = RecordingHandler()
    with ThreadedSMTP(handler) as server:
        assert asyncio.run(round_trip(server.port)) == ["sent"] * 20
    assert [r.data.split(b"\r\n\r\n")[1] for r in handler.received] == [f"body {n}\r\n".encode() for n in range(20)]
