"""Writing files and folders whole: a temporary beside the target, then a rename.

Published output (issue folders, the static archive, lists) gets the mode a
plain `open()` would give under the process umask (0644 under umask 022), not
mkstemp's private 0600, so a web server user can read it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from digest.errors import StateError

__all__ = ["write_atomically", "replace_folder", "folder_lock", "umask"]


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


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where not supported."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # this file system cannot exchange: fall back to two renames
    raise OSError(error, os.strerror(error), str(b))


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on a folder (flock on its descriptor) while the block runs."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def replace_folder(folder: Path, files: dict[str, bytes], *, keep: Sequence[str] = ()) -> set[str]:
    """Write every file into a temporary sibling folder, then rename it into place.

    Readers see the old folder or the new one, never a mix or a part: a full
    disk while writing leaves the old folder as it was. Files named in `keep`
    are the editor's: one the folder already holds wins over `files` and moves
    into the new folder, even when it was saved again while the new folder was
    being written. Two writers of folders in one parent take turns. Returns
    the names kept from the old folder.
    """
    mode = 0o666 & ~umask()
    try:
        if not folder.parent.exists():
            folder.parent.mkdir(parents=True, exist_ok=True)
        with folder_lock(folder.parent):
            return _replace(folder, files, keep, mode)
    except OSError as exc:
        raise StateError(f"cannot write: {exc.strerror or exc}", path=str(folder)) from None


def _replace(folder: Path, files: dict[str, bytes], keep: Sequence[str], mode: int) -> set[str]:
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.new."))
    old: Path | None = None
    carried: dict[str, bytes] = {}
    try:
        os.chmod(tmp, 0o777 & ~umask())
        for name, payload in files.items():
            if name in keep and (folder / name).is_file():
                continue  # the editor's copy is taken below, as late as possible
            with open(tmp / name, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp / name, mode)
        # The editor's files are copied last, right before the swap: a save has the
        # least time to land in the old folder (and is moved over below if it did).
        for name in keep:
            try:
                carried[name] = (folder / name).read_bytes()
            except FileNotFoundError:
                continue
            (tmp / name).unlink(missing_ok=True)
            shutil.copy2(folder / name, tmp / name)
        if folder.exists() and _exchange(tmp, folder):
            old, tmp = tmp, folder  # one atomic swap: readers never find the folder missing
        else:
            if folder.exists():
                # Two renames: the old folder steps aside, the new one takes its place.
                old = folder.with_name(f".{folder.name}.old.{os.getpid()}")
                shutil.rmtree(old, ignore_errors=True)
                os.rename(folder, old)
            os.rename(tmp, folder)
        if old is not None:
            for name, copied in carried.items():
                # Saved into the old folder after we copied it: that save is the one to keep,
                # unless another save has already reached the new folder since.
                if (old / name).is_file() and (old / name).read_bytes() != copied and \
                        (folder / name).read_bytes() == copied:
                    os.replace(old / name, folder / name)
        return set(carried)
    except OSError:
        if old is not None and not folder.exists():
            os.rename(old, folder)
            old = None
        if tmp != folder:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    except BaseException:
        if tmp != folder:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
