"""Editing a workspace's digest.toml in tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path


def set_value(root: Path, section: str, line: str) -> None:
    """Put `line` into [section] of the workspace's digest.toml, replacing the key if it is there."""
    config = root / "digest.toml"
    text = config.read_text(encoding="utf-8")
    key = line.split("=")[0].strip()
    section_start = re.compile(rf"(?m)^\[{section}\]\n")
    if not section_start.search(text):
        text += f"\n[{section}]\n"
    found = section_start.search(text)
    assert found is not None
    head, tail = text[:found.start()], text[found.end():]
    body, sep, rest = tail.partition("\n[")
    body = re.sub(rf"(?m)^{re.escape(key)}\s*=.*\n?", "", body)
    config.write_text(f"{head}[{section}]\n{line}\n{body}{sep}{rest}", encoding="utf-8")


def in_seconds(seconds: float) -> str:
    """A `send --at` time `seconds` from now, in UTC."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")
