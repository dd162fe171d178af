"""STARTTLS and implicit TLS against a real aiosmtpd: a bad certificate is one clear line, a good one sends."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

from digest.cli import main
from tests.helpers.tls import self_signed
from tests.servers import RecordingHandler, ThreadedSMTP


def _configure(workspace: Path, port: int, security: str) -> None:
    with (workspace / "digest.toml").open("a") as f:
        f.write(f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\ntimeout = 10\n')


def _send(workspace: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digest", "send", "--list", "subscribers/example.csv"],
                          cwd=workspace, capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def test_starttls_with_an_untrusted_certificate_is_one_line(workspace: Path, runner, tmp_path: Path):
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = RecordingHandler()
    with ThreadedSMTP(handler, tls_context=context, require_starttls=True) as server:
        _configure(workspace, server.port, "starttls")
        assert runner.invoke(main, ["build"]).exit_code == 0
        refused = _send(workspace)
        assert refused.returncode == 3, refused.stderr
        [line] = refused.stderr.strip().splitlines()
        assert "TLS with 127.0.0.1" in line and "CERTIFICATE_VERIFY_FAILED" in line, line
        assert "Traceback" not in refused.stderr and handler.received == []
        # Trusting the certificate (as a private CA would be) makes the same send go through TLS.
        trusted = _send(workspace, SSL_CERT_FILE=str(cert))
        assert trusted.returncode == 0, trusted.stderr
    assert sorted(r.rcpt_tos[0] for r in handler.received) == [
        "ada@example.com", "grace@example.org", "linus@example.com"]
