"""File modes: private state stays private, published output is readable, a DKIM key must be private."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import point_smtp_at
from tests.helpers.commands import run_digest
from tests.servers import RecordingHandler, ThreadedSMTP


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class HeldHandler(RecordingHandler):
    """Accepts messages, but holds each DATA until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.arrived.set()
        while not self.release.is_set():
            await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


def test_state_is_private_while_a_send_runs(workspace: Path):
    handler = HeldHandler()
    with ThreadedSMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert run_digest(workspace, "build").returncode == 0
        sender = subprocess.Popen([sys.executable, "-m", "digest", "send", "--list", "subscribers/example.csv"],
                                  cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, umask=0o022,
                                  env=dict(os.environ))
        try:
            assert handler.arrived.wait(60), "the send never reached DATA"
            state = workspace / ".digest"
            database = state / "state.sqlite3"
            wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
            deadline = time.monotonic() + 10
            while not (wal.exists() and shm.exists()) and time.monotonic() < deadline:
                time.sleep(0.02)
            modes = {p.name: oct(mode(p)) for p in (state, database, wal, shm, state / "secret")}
            assert modes == {".digest": "0o700", "state.sqlite3": "0o600", "state.sqlite3-wal": "0o600",
                             "state.sqlite3-shm": "0o600", "secret": "0o600"}, modes
        finally:
            handler.release.set()
            _, err = sender.communicate(timeout=60)
    assert sender.returncode == 0, err
    assert len(handler.received) == 3


def test_an_old_world_readable_database_becomes_private(workspace: Path):
    from digest.app.context import Context

    state = workspace / ".digest"
    state.mkdir(mode=0o755)
    database = state / "state.sqlite3"
    database.touch(mode=0o644)
    os.chmod(database, 0o644)
    with Context(workspace) as ctx:
        ctx.store.suppress("a@example.com", reason="manual")
    assert (mode(state), mode(database)) == (0o700, 0o600)


@pytest.mark.parametrize("umask, file_mode, folder_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_published_output_follows_the_umask(workspace: Path, umask: int, file_mode: int, folder_mode: int):
    assert run_digest(workspace, "build", umask=umask).returncode == 0
    issue = workspace / "issues" / "1"
    assert mode(issue) == folder_mode
    assert {p.name: oct(mode(p)) for p in issue.iterdir()} == {p.name: oct(file_mode) for p in issue.iterdir()}

    from digest.app.context import Context
    from digest.app.send import send_to_lists
    from digest.deliver.sender import SendOptions
    from digest.deliver.transport import MemoryTransport

    with Context(workspace) as ctx:  # sent, so that the archive has an issue
        asyncio.run(send_to_lists(ctx, issue, [workspace / "subscribers" / "example.csv"], options=SendOptions(),
                                  on_problem=print, transport=MemoryTransport()))
    done = run_digest(workspace, "archive", "--out", "site", umask=umask)
    assert done.returncode == 0, done.stderr
    site = workspace / "site"
    written = [site / "index.html", site / "feed.xml", site / "1" / "index.html"]
    assert {str(p): mode(p) for p in written} == {str(p): file_mode for p in written}
    # Private data under the same umask stays private: an imported list, the state.
    assert run_digest(workspace, "subscribers", "import", "subscribers/example.csv", "--list", "clean",
                      umask=umask).returncode == 0
    assert mode(workspace / "subscribers" / "clean.csv") == 0o600
    assert mode(workspace / ".digest") == 0o700 and mode(workspace / ".digest" / "state.sqlite3") == 0o600


def test_an_old_world_readable_secret_becomes_private(workspace: Path):
    state = workspace / ".digest"
    state.mkdir(mode=0o700)
    secret = state / "secret"
    secret.write_text("k" * 64)
    os.chmod(secret, 0o644)
    result = run_digest(workspace, "build")
    assert result.returncode == 0, result.stderr
    assert mode(secret) == 0o600


def _dkim_key(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


@pytest.mark.parametrize("key_mode", [0o644, 0o640, 0o604])
def test_a_dkim_key_readable_by_others_is_refused(workspace: Path, key_mode: int):
    recorder = RecordingHandler()
    with ThreadedSMTP(recorder) as server:
        point_smtp_at(workspace, server.port)
        with (workspace / "digest.toml").open("a") as f:
            f.write('\n[dkim]\nselector = "mail"\ndomain = "news.example.com"\nprivate_key_path = "dkim.pem"\n')
        _dkim_key(workspace / "dkim.pem")
        os.chmod(workspace / "dkim.pem", key_mode)
        result = run_digest(workspace, "build")
        assert result.returncode == 2, result.stdout + result.stderr
        [line] = result.stderr.strip().splitlines()
        assert "dkim.pem" in line and "chmod 600" in line, line
        os.chmod(workspace / "dkim.pem", 0o600)
        assert run_digest(workspace, "build").returncode == 0
        assert run_digest(workspace, "send", "--list", "subscribers/example.csv").returncode == 0
    assert all(r.data.startswith(b"DKIM-Signature:") for r in recorder.received) and len(recorder.received) == 3


def test_init_keeps_the_key_and_the_state_out_of_git(tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "digest", "init", str(tmp_path / "news")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    ignored = (tmp_path / "news" / ".gitignore").read_text().split()
    assert {".digest/", "dkim.pem"} <= set(ignored), ignored
    config = (tmp_path / "news" / "digest.toml").read_text()
    assert 'private_key_path = "dkim.pem"' in config
    # git agrees: the key would not be committed
    subprocess.run(["git", "init", "-q", str(tmp_path / "news")], check=True)
    (tmp_path / "news" / "dkim.pem").write_text("key")
    listed = subprocess.run(["git", "-C", str(tmp_path / "news"), "status", "--porcelain", "--untracked-files=all"],
                            capture_output=True, text=True, check=True).stdout
    assert "dkim.pem" not in listed and ".gitignore" in listed
