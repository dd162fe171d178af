"""The token key: one per workspace even when processes race to make it, never empty, never short."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from digest.app.context import Context
from digest.compose import sign_token
from tests.helpers.commands import run_digest
from tests.web_helpers import free_port

RACERS = 4
TRIALS = 100


def _load(root: str, barrier: object, results: object) -> None:
    """In a child process: wait for the others, then ask for the workspace secret."""
    barrier.wait()  # type: ignore[attr-defined]
    try:
        value = Context(Path(root)).secret
        results.put(value.hex())  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - any failure is what the test reports
        results.put(f"error: {exc}")  # type: ignore[attr-defined]


def test_processes_starting_at_once_agree_on_one_full_secret(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("DIGEST_SECRET", raising=False)
    fork = multiprocessing.get_context("fork")
    bad = []
    for trial in range(TRIALS):
        root = tmp_path / f"ws{trial}"
        root.mkdir()
        barrier, results = fork.Barrier(RACERS), fork.Queue()
        racers = [fork.Process(target=_load, args=(str(root), barrier, results)) for _ in range(RACERS)]
        for racer in racers:
            racer.start()
        keys = [results.get(timeout=30) for _ in racers]
        for racer in racers:
            racer.join(30)
        on_disk = (root / ".digest" / "secret").read_bytes().hex()
        if len(set(keys)) != 1 or keys[0] != on_disk or len(bytes.fromhex(on_disk)) < 32:
            bad.append((trial, [k[:16] if k else "EMPTY" for k in keys]))
        assert not list((root / ".digest").glob(".secret*")), "a temporary file was left behind"
    assert not bad, f"{len(bad)} of {TRIALS} trials disagreed or got an empty key: {bad[:5]}"


def test_an_empty_secret_file_is_a_one_line_error(workspace: Path):
    state = workspace / ".digest"
    state.mkdir()
    (state / "secret").write_bytes(b"")  # what a full disk left behind
    result = run_digest(workspace, "build")
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("digest: error: ") and ".digest/secret" in line and "0 bytes" in line, line
    assert not (workspace / "issues").exists()


@pytest.mark.parametrize("value", ["short", " " * 40, "x" * 31])
def test_a_short_digest_secret_is_refused(workspace: Path, value: str):
    result = run_digest(workspace, "build", env={"DIGEST_SECRET": value})
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "DIGEST_SECRET" in line and "at least 32" in line, line
    assert "delete the file" not in line and "set a longer one" in line, line  # the hint fits the variable
    assert value.strip() == "" or value not in line  # the message never repeats the secret


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_serve_with_an_empty_secret_accepts_no_forged_token(workspace: Path):
    state = workspace / ".digest"
    state.mkdir()
    (state / "secret").write_bytes(b"")
    # What anyone can make when the key is empty: a token for any address, list and issue.
    forged = sign_token(b"", email="victim@example.net", list_name="weekly", issue=1)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "digest", "serve", "--port", str(port)], cwd=workspace,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 30
        while server.poll() is None and not _listening(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        if server.poll() is None and _listening(port):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/u/{forged}", data=b"List-Unsubscribe=One-Click", method="POST",
                headers={"Content-Type": "application/x-www-form-urlencoded"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            assert status != 200, "digest serve accepted a token signed with an empty key"
    finally:
        if server.poll() is None:
            server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 2, stderr
    [line] = stderr.strip().splitlines()
    assert ".digest/secret" in line and "0 bytes" in line, line
    with Context(workspace) as ctx:
        assert not ctx.has_store() or list(ctx.store.suppressions()) == []
