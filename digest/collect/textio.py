"""Read a source file as text: decode safely, refuse binaries, normalise Unicode spaces."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from digest.core.encoding import guess_encoding
from digest.core.errors import SourceError, describe_os_error

__all__ = ["DecodedText", "read_bytes", "decode", "clean_line", "looks_binary"]

# Every Unicode space separator and the usual invisible joiners: a page dump
# copied from a browser carries U+00A0 and U+2002 between words.
_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\f\v]+")
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

MAX_SOURCE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class DecodedText:
    """Text decoded from a file, with the encoding used and whether it was guessed."""

    text: str
    encoding: str
    guessed: bool


def read_bytes(path: Path) -> bytes:
    """Read a whole source file, turning OS errors into one-line SourceErrors."""
    try:
        if path.is_dir():
            raise SourceError("is a folder, not a file", path=str(path))
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise SourceError(f"file too large ({size} bytes)", path=str(path))
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(describe_os_error(exc), path=str(path)) from None


def looks_binary(data: bytes) -> bool:
    """True when the bytes are not text in any encoding we accept (NULs, many controls)."""
    head = data[:8192]
    if b"\x00" in head and not (head.startswith((b"\xff\xfe", b"\xfe\xff"))):
        return True
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls > max(8, len(head) // 50)


def decode(data: bytes, *, path: str, encoding: str | None = None) -> DecodedText:
    """Decode bytes: forced encoding, else UTF-8 (BOM or not), else a detected one."""
    if encoding:
        try:
            return DecodedText(data.decode(encoding), encoding, False)
        except LookupError:
            raise SourceError(f"unknown encoding {encoding!r}", path=path) from None
        except UnicodeDecodeError as exc:
            raise SourceError(f"not valid {encoding} at byte {exc.start}", path=path) from None
        except (UnicodeError, ValueError, TypeError):  # codecs such as "undefined" or "punycode" fail otherwise
            raise SourceError(f"cannot decode the text as {encoding!r}", path=path) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return DecodedText(data.decode("utf-16"), "utf-16", False)
        except UnicodeDecodeError:
            raise SourceError("binary file, not text", path=path) from None
    if looks_binary(data):
        raise SourceError("binary file, not text", path=path)
    try:
        return DecodedText(data.decode("utf-8-sig"), "utf-8", False)
    except UnicodeDecodeError:
        pass
    guessed = guess_encoding(data)
    if guessed is None:
        raise SourceError("cannot tell the text encoding; use --encoding", path=path)
    return DecodedText(data.decode(guessed, errors="replace"), guessed, True)


def clean_line(text: str) -> str:
    """Normalise one line of text: every run of whitespace becomes one space."""
    return " ".join(_SPACES.sub(" ", _CONTROL.sub(" ", _INVISIBLE.sub("", text))).split())
