"""The workspace secret that keys every signed token: from DIGEST_SECRET, or made once, atomically.

Never empty, never short: a token checked with an empty key could be forged
by anyone. The file is written whole to a temporary, fsynced, then linked into
place, so exactly one of several processes starting at once creates it and
the others read the winner's complete file; a 0-byte or short file (a full
disk, a hand edit) is an error, not a key.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from digest.core.errors import StateError

__all__ = ["load_secret", "MIN_SECRET_BYTES"]

MIN_SECRET_BYTES = 32


def _checked(value: bytes, where: str, path: str | None = None) -> bytes:
    value = value.strip()
    if len(value) < MIN_SECRET_BYTES:
        hint = ("delete the file to make a new one, or set DIGEST_SECRET" if path is not None else
                "set a longer one, such as the output of: python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'")
        raise StateError(f"{where} is {len(value)} bytes; a secret needs at least {MIN_SECRET_BYTES} ({hint})",
                         path=path)
    return value


def _read_private(path: Path) -> bytes:
    """The secret file's bytes, the file made 0600 first when it was readable by others (an old or copied one).

    Like the database: anyone who can read the key can forge unsubscribe links. The mode is
    checked on the open file; a file owned by another user is read as it is (we cannot chmod it).
    """
    with path.open("rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if os.name == "posix" and mode & 0o077:
            try:
                os.fchmod(handle.fileno(), 0o600)
            except PermissionError:
                pass
        return handle.read()


def load_secret(state_dir: Path) -> bytes:
    """DIGEST_SECRET from the environment, else `<state_dir>/secret`, created on first use."""
    env = os.environ.get("DIGEST_SECRET")
    if env is not None:
        return _checked(env.encode("utf-8"), "DIGEST_SECRET")
    path = state_dir / "secret"
    try:
        try:
            return _checked(_read_private(path), "the workspace secret", str(path))
        except FileNotFoundError:
            pass
        state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(state_dir, 0o700)
        value = secrets.token_urlsafe(48).encode("ascii")
        fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".secret.")  # 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(value)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                # link() never replaces: the first complete file wins, the others read it.
                os.link(tmp, path)
            except FileExistsError:
                return _checked(_read_private(path), "the workspace secret", str(path))
        finally:
            Path(tmp).unlink(missing_ok=True)
        return value
    except OSError as exc:
        # The message names the file, never the secret.
        raise StateError(f"cannot create the workspace secret: {exc.strerror or exc}; or set DIGEST_SECRET",
                         path=str(path)) from None
