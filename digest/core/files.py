"""Writing files whole: a temporary beside the target, then a rename; folders updated file by file.

Published output (issue folders, the static archive, lists) gets the mode a
plain `open()` would give under the process umask (0644 under umask 022), not
mkstemp's private 0600, so a web server user can read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from digest.core.errors import StateError

__all__ = ["write_atomically", "update_folder", "folder_lock", "umask"]


def umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - not Linux
    os.umask(mask)
    return mask


def write_atomically(path: Path, data: str | bytes, *, private: bool = False) -> None:
    """Write a file via a temporary beside it and a rename: never half-written.

    The file gets the umask's mode, or 0600 when `private`.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise StateError(f"cannot write: {exc.strerror or exc}", path=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.chmod(tmp, 0o600 if private else 0o666 & ~umask())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise StateError(f"cannot write: {exc.strerror or exc}", path=str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def folder_lock(folder: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold a lock on a folder (flock on its descriptor) while the block runs: exclusive, or shared for readers."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def update_folder(folder: Path, files: dict[str, bytes], *, create_only: Sequence[str] = ()) -> set[str]:
    """Write `files` into `folder` in place, every one whole; whatever else the folder holds stays as it is.

    Every file is first written complete to a temporary beside its place (a full
    disk stops there, the folder as it was; a folder made for it is removed
    again), then renamed over its place in the order given: the folder itself is
    never replaced, so a shell inside it, an editor's swap file or a symlink in it
    stay. Files named in `create_only` are the editor's: written only where no
    file (or symlink) of that name exists, never replaced; returns the names that
    were there already. Writers of folders in one parent take turns.
    """
    mode = 0o666 & ~umask()
    try:
        if not folder.parent.exists():  # a file in the way is reported below as "Not a directory"
            folder.parent.mkdir(parents=True, exist_ok=True)
        with folder_lock(folder.parent):
            made = not folder.exists()
            if made:
                folder.mkdir()
            try:
                return _update(folder, files, create_only, mode)
            except BaseException:
                if made:
                    with contextlib.suppress(OSError):
                        folder.rmdir()  # only when empty: nothing of ours is left in it
                raise
    except OSError as exc:
        raise StateError(f"cannot write: {exc.strerror or exc}", path=str(folder)) from None


def _update(folder: Path, files: dict[str, bytes], create_only: Sequence[str], mode: int) -> set[str]:
    kept = {name for name in create_only if name in files and os.path.lexists(folder / name)}
    temps: dict[str, Path] = {}
    try:
        for name, payload in files.items():
            if name not in kept:
                temps[name] = _written(folder, name, payload, mode)
        for name, tmp in temps.items():
            if name in create_only:
                try:
                    os.link(tmp, folder / name)  # created whole, and only if still absent (a save wins)
                except FileExistsError:
                    kept.add(name)
            else:
                os.replace(tmp, folder / name)
        return kept
    finally:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                tmp.unlink()


def _written(folder: Path, name: str, payload: bytes, mode: int) -> Path:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)
