"""A tmpfs (or read-only mount) over a folder, for the full-disk and read-only tests (root only)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _can_mount() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", tmp], capture_output=True)
        if done.returncode != 0:
            return False
        subprocess.run(["umount", tmp], check=True)
        return True


CAN_MOUNT = shutil.which("mount") is not None and os.geteuid() == 0 and _can_mount()

needs_mount = pytest.mark.skipif(
    not CAN_MOUNT and not os.environ.get("CI"),
    reason="mounting a tmpfs needs root (run the suite as root, as CI does, to include these)")


@contextmanager
def state_on(folder: Path, *options: str) -> Iterator[Path]:
    """Move `folder` onto a fresh tmpfs mounted with `options`, and back afterwards."""
    keep = Path(tempfile.mkdtemp())
    shutil.copytree(folder, keep, dirs_exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(folder)], check=True)
    try:
        shutil.copytree(keep, folder, dirs_exist_ok=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
        shutil.rmtree(keep)
