"""`digest` as a user runs it: a subprocess in a workspace, waited for or read line by line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT


def run_digest(workspace: Path, *args: str, umask: int = 0o022, env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `python -m digest ARGS` in `workspace` to its end (under a usual umask); its output as text."""
    # PYTHONPATH: the checkout's code runs, whatever the venv's editable install points at.
    return subprocess.run([sys.executable, "-m", "digest", *args], cwd=workspace, capture_output=True, text=True,
                          timeout=timeout, umask=umask, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def start_digest(workspace: Path, *args: str) -> subprocess.Popen[str]:
    """Start `python -m digest ARGS` in `workspace` without waiting; stdout and stderr are pipes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "digest", *args], cwd=workspace, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_line(process: subprocess.Popen[str], text: str, seconds: float = 30) -> str:
    """Read stdout until a line holds `text` (a deadline for waiting, not a timing assertion)."""
    assert process.stdout is not None
    deadline = time.monotonic() + seconds
    seen = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen += line
        if text in line:
            return seen
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"never printed {text!r}: {seen!r}")
