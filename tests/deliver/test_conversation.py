"""Send-time conversation (issue 22): one failure never spills onto the next message; a protocol fault is
never the reader's; no password in any server text shown or journaled. Real aiosmtpd servers."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import AuthResult

from digest.compose import ComposedMessage
from digest.core.errors import DeliveryError
from digest.core.settings import SMTPSettings
from digest.deliver.transport import Redactor, SMTPTransport, protocol_fault
from digest.store import open_store
from tests.conftest import point_smtp_at
from tests.servers import RecordingHandler, ThreadedSMTP

PASSWORD = "s3cr\u00e9t-pw!"


def cli(workspace: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digest", *args], cwd=workspace, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


@dataclass
class ChokesOnce(RecordingHandler):
    """Answers the final dot with a bare 500 for some recipients, leaving the transaction open, as aiosmtpd
    does when its handler raises (the embedded mailbox's `500 (UnicodeEncodeError)`)."""

    once: set[str] = field(default_factory=set)
    always: set[str] = field(default_factory=set)
    answers: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        recipient = envelope.rcpt_tos[0]
        if recipient in self.once or recipient in self.always:
            self.once.discard(recipient)
            self.answers.append((recipient, "500"))
            raise RuntimeError("choked on the message")
        self.answers.append((recipient, "250"))
        return await super().handle_DATA(server, session, envelope)


def _bounces(workspace: Path) -> dict[str, tuple[int, int]]:
    with open_store(str(workspace / ".digest" / "state.sqlite3")) as store:
        return {s.email: (s.soft, s.refused) for s in store.bounce_summaries()}


def test_a_500_to_the_final_dot_spoils_neither_the_next_message_nor_the_reader(workspace: Path):
    handler = ChokesOnce(once={"ada@example.com"})
    with ThreadedSMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert cli(workspace, "build").returncode == 0
        result = cli(workspace, "send", "--list", "subscribers/example.csv", "--concurrency", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    # Every reader got the issue: ada on the second try, on a fresh connection; the next message on
    # the pooled connection after the 500 was not refused with "503 nested MAIL command".
    assert sorted(r.rcpt_tos[0] for r in handler.received) == [
        "ada@example.com", "grace@example.org", "linus@example.com"]
    assert handler.answers[0] == ("ada@example.com", "500")
    assert _bounces(workspace).get("ada@example.com", (0, 0))[0] == 0  # no soft bounce for a conversation fault


def test_a_protocol_fault_every_time_is_recorded_but_never_counted(workspace: Path):
    handler = ChokesOnce(always={"grace@example.org"})
    with ThreadedSMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert cli(workspace, "build").returncode == 0
        result = cli(workspace, "send", "--list", "subscribers/example.csv", "--concurrency", "1")
    assert sorted(r.rcpt_tos[0] for r in handler.received) == ["ada@example.com", "linus@example.com"]
    assert [a for a in handler.answers if a[0] == "grace@example.org"] == [("grace@example.org", "500")] * 2
    assert _bounces(workspace)["grace@example.org"] == (0, 1), result.stdout  # recorded as a refusal, no soft
    assert "grace" not in cli(workspace, "subscribers", "export-suppressed").stdout


def test_protocol_faults_are_told_from_refusals_of_the_reader():
    assert protocol_fault(500, "Error: (UnicodeEncodeError) 'utf-8' codec can't encode")
    assert protocol_fault(503, "Error: nested MAIL command")
    assert protocol_fault(501, "5.5.4 Syntax error in parameters")
    assert protocol_fault(554, "5.5.1 Error: no valid recipients")
    assert not protocol_fault(550, "5.1.1 No such user")
    assert not protocol_fault(501, "5.1.3 Bad recipient address syntax")
    assert not protocol_fault(550, "5.5.0 Requested action not taken: mailbox unavailable")
    assert not protocol_fault(452, "4.5.3 Too many recipients")


def _echoing_authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    # A relay with debugging left on: its refusal repeats what it was given.
    return AuthResult(success=False, handled=False,
                      message=f"535 5.7.8 bad credentials for {auth_data.login!r} pw={auth_data.password!r}")


def _settings(port: int) -> SMTPSettings:
    return SMTPSettings(host="127.0.0.1", port=port, security="none", timeout=10, username="digest")


def test_a_relay_that_echoes_the_password_in_its_535_never_shows_it(monkeypatch: Any):
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", PASSWORD)
    for mechanism in ("PLAIN", "LOGIN"):
        with ThreadedSMTP(RecordingHandler(), authenticator=_echoing_authenticator, auth_require_tls=False,
                          auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN") if m != mechanism]) as server:
            transport = SMTPTransport(_settings(server.port))
            try:
                asyncio.run(transport.connect())
                raise AssertionError("the login was refused")
            except DeliveryError as exc:
                text = str(exc)
        assert "refused the login: 535" in text and "b'digest'" in text, text
        assert "s3cr" not in text and "[password]" in text, text
        assert "\\xc3\\xa9" not in text and base64.b64encode(PASSWORD.encode()).decode()[:12] not in text


def test_the_password_stays_out_of_the_cron_log(workspace: Path):
    with ThreadedSMTP(RecordingHandler(), authenticator=_echoing_authenticator, auth_require_tls=False) as server:
        point_smtp_at(workspace, server.port)
        with (workspace / "digest.toml").open("a") as f:
            f.write('username = "digest"\n')
        assert cli(workspace, "build").returncode == 0
        result = cli(workspace, "send", "--list", "subscribers/example.csv", DIGEST_SMTP_PASSWORD=PASSWORD)
    assert result.returncode != 0 and "535" in result.stderr, result.stderr
    assert "s3cr" not in result.stdout + result.stderr


@dataclass
class EchoesAtRcpt(RecordingHandler):
    """Logs in anyone, then refuses a recipient repeating the session's credentials (journaled)."""

    padding: int = 0  # filler before the password: where the reply's length cap cuts it

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.padding:
            return f"550 5.1.1 {'x' * self.padding}{PASSWORD}"
        plain = base64.b64encode(b"\0digest\0" + PASSWORD.encode()).decode()
        return f"550 5.1.1 {address} unknown (auth was {plain} pass {PASSWORD})"


def _refused_reply(handler: EchoesAtRcpt) -> str:
    def accept(*_: Any) -> AuthResult:
        return AuthResult(success=True)

    with ThreadedSMTP(handler, authenticator=accept, auth_require_tls=False) as server:
        async def go() -> str:
            connection = await SMTPTransport(_settings(server.port)).connect()
            outcome = await connection.send(ComposedMessage("r@example.com", "<1@x>", b"Subject: x\r\n\r\nx\r\n"),
                                            sender="s@example.com")
            await connection.close()
            return outcome.reply

        return asyncio.run(go())


def test_no_password_in_a_journaled_reply(monkeypatch: Any):
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", PASSWORD)
    reply = _refused_reply(EchoesAtRcpt())
    assert reply.startswith("5.1.1 r@example.com unknown") and "s3cr" not in reply and "ZGlnZXN0" not in reply, reply


def test_a_password_cut_by_the_length_cap_is_removed_whole(monkeypatch: Any):
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", PASSWORD)
    reply = _refused_reply(EchoesAtRcpt(padding=490))  # the password would start 4 characters before the cap
    assert len(reply) <= 500 and "s3c" not in reply, reply[-20:]


def test_redactor_removes_every_form_and_keeps_the_rest():
    redact = Redactor("digest", "hunter2")
    login = base64.b64encode(b"hunter2").decode()
    plain = base64.b64encode(b"\0digest\0hunter2").decode()
    assert redact(f"no: hunter2 {login} {plain} {plain.rstrip('=')}") == "no: [password] [password] [password] " \
                                                                         "[password]"
    assert Redactor()("535 hunter2") == "535 hunter2"
