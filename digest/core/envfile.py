"""`digest --env-file PATH`: secrets from a `KEY=value` file, read literally, as systemd's EnvironmentFile= reads it.

cron has no EnvironmentFile=, and sourcing the file with `/bin/sh` (`set -a; . file`)
interprets it: `$`, backticks and `&` in a password are expanded, executed or cut.
So digest reads the file itself, and only what both readers take the same way:
`KEY=value` lines, blank lines and `#` or `;` comments; whitespace around the key
and the value is dropped, the rest of the value is kept byte for byte. Quotes around a
value and backslashes are refused (systemd would strip or interpret them), so one file
gives the same values under systemd and under digest.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from digest.core.errors import ConfigError, describe_os_error

__all__ = ["read_env_file", "load_env_file"]

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_BYTES = 64 * 1024  # a secrets file, not a data set


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of the file, in order; ConfigError naming the file and line for anything else."""
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(describe_os_error(exc), path=str(path)) from None
    if len(data) > _MAX_BYTES:
        raise ConfigError("larger than 64 KB: not a KEY=value file of secrets", path=str(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", path=str(path)) from None
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        key, equals, value = stripped.partition("=")
        key, value = key.strip(), value.strip()
        if not equals or not _KEY.fullmatch(key):
            raise ConfigError("expected KEY=value (a name of letters, digits and _, then =)", path=str(path),
                              line=number)
        if "\\" in value or (value[:1] in "\"'" and value):
            raise ConfigError(f"{key}: write the value without quotes or backslashes (systemd's "
                              "EnvironmentFile= would strip or interpret them; everything else is kept as written)",
                              path=str(path), line=number)
        found[key] = value
    return found


def load_env_file(path: Path) -> None:
    """Put the file's variables into this process's environment (they win over ones already set)."""
    os.environ.update(read_env_file(path))
