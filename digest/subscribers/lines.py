"""Physical lines of a list file for csv.reader: decoded one at a time, each record bounded.

Decoding line by line (not in 8 KB chunks) is what lets a bad byte be named by
its line and its offset in the file. Every record is bounded: a line over
64 KB, or a quoted field running on for more than 50 lines or 512 KB, is
skipped to the end of its record (found by counting quotes) and reported as
that row's problem; a quote that is never closed before the end of the file
is an error naming the line where it opened, since every row after it would
be misread. UTF-16 and UTF-32 have no byte-wise line ends, so they are decoded
as a stream and errors name the line only.
"""

from __future__ import annotations

import codecs
import io
import re
from typing import IO

from digest.core.errors import SubscriberError

__all__ = ["Lines", "RecordTooLong", "Unterminated", "looks_binary", "MAX_LINE", "MAX_RECORD_LINES",
           "MAX_RECORD_BYTES"]

MAX_LINE = 64 * 1024  # no real row is this long; longer lines are reported, never held whole
MAX_RECORD_LINES = 50  # a quoted field running on for longer is a row's problem, not the file's
MAX_RECORD_BYTES = 512 * 1024  # below csv.field_size_limit, so the csv module never stops the file

# Bytes no text file has (NUL aside, which a damaged row may carry): C0 controls but
# TAB, LF, VT, FF, CR and ESC.
_BINARY_BYTES = re.compile(rb"[\x01-\x08\x0e-\x1a\x1c-\x1f]")
_LONE_CR = re.compile(r"\r(?!\n?\Z)")


class Unterminated(Exception):
    """A quoted field is still open at the end of the file."""


class RecordTooLong(Exception):
    """A record was over the limits; it has been skipped to its end."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def looks_binary(sample: bytes) -> bool:
    """True for a file that is not text: a NUL in the header, or many bytes no text has.

    A NUL in a row is that row's problem, wherever in the file it is; only the
    header (which every row depends on) or a sample full of NULs (a binary
    file, or UTF-16 without its BOM) makes the whole file unreadable.
    """
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    header = re.split(rb"[\r\n]", sample, maxsplit=1)[0]
    if b"\x00" in header or _BINARY_BYTES.search(header):
        return True
    return len(_BINARY_BYTES.findall(sample)) > len(sample) // 50 or sample.count(b"\x00") > len(sample) // 4


class _CRReader:
    """readline() over a file whose lines end in a bare CR (classic Mac exports)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.buffer = b""

    def readline(self, limit: int) -> bytes:
        while b"\r" not in self.buffer and len(self.buffer) < limit:
            block = self.raw.read(64 * 1024)
            if not block:
                break
            self.buffer += block
        end = self.buffer.find(b"\r")
        cut = min(limit, end + 1 if end >= 0 else len(self.buffer))
        line, self.buffer = self.buffer[:cut], self.buffer[cut:]
        return line


class Lines:
    """Decoded physical lines for csv.reader, counting lines and bytes so errors name the right place."""

    def __init__(self, raw: IO[bytes], encoding: str, *, path: str, cr_only: bool = False) -> None:
        self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self.path = path
        self.line = 0  # physical lines handed out so far
        self.offset = 0  # bytes read so far
        self.wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
        self.text = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="") if self.wide else None
        self.raw: IO[bytes] | _CRReader = _CRReader(raw) if cr_only and not self.wide else raw
        self.end = b"\r" if cr_only else b"\n"
        self.bom = encoding == "utf-8-sig"
        self.quote: str | bytes = '"' if self.wide else b'"'
        self.in_record = 0
        self.record_bytes = 0
        self.record_quotes = 0

    def begin_record(self) -> None:
        """The next line starts a new record."""
        self.in_record = self.record_bytes = self.record_quotes = 0

    def __iter__(self) -> Lines:
        return self

    def _read(self, limit: int) -> str | bytes:
        if self.text is not None:
            try:
                return self.text.readline(limit)
            except UnicodeDecodeError:
                raise SubscriberError(f"not valid {self.encoding} text on line {self.line + 1}; use --encoding",
                                      path=self.path, line=self.line + 1) from None
        return self.raw.readline(limit)

    def _ends(self, data: str | bytes) -> bool:
        if isinstance(data, str):
            return data.endswith("\n")
        return data.endswith(self.end)

    def _quotes(self, data: str | bytes) -> int:
        return data.count('"') if isinstance(data, str) else data.count(b'"')

    def _skip(self, data: str | bytes) -> str | bytes:
        """Read on to the end of an absurd line without holding it; return its last piece."""
        while data and not self._ends(data):
            data = self._read(MAX_LINE)
            self.offset += len(data)
            self.record_quotes += self._quotes(data)
        return data

    def _skip_record(self, reason: str) -> RecordTooLong:
        """Read on to the line where the record's quotes balance; an open quote at the end of the file is fatal."""
        while self.record_quotes % 2:
            data = self._read(MAX_LINE + 1)
            if not data:
                raise Unterminated()
            self.line += 1
            self.offset += len(data)
            self.record_quotes += self._quotes(data)
            self._skip(data)
        return RecordTooLong(reason)

    def __next__(self) -> str:
        self.in_record += 1
        if self.in_record > MAX_RECORD_LINES or self.record_bytes > MAX_RECORD_BYTES:
            raise self._skip_record(f"a quoted field longer than {MAX_RECORD_LINES} lines or "
                                    f"{MAX_RECORD_BYTES // 1024} KB")
        data = self.raw.readline(MAX_LINE + 1) if self.text is None else self._read(MAX_LINE + 1)
        if not data:
            if self.in_record > 1:
                raise Unterminated()  # the end of the file inside a quoted field
            raise StopIteration
        start = self.offset
        size = len(data)
        self.offset += size
        self.line += 1
        self.record_bytes += size
        self.record_quotes += data.count(self.quote)  # type: ignore[arg-type]
        if size > MAX_LINE and not self._ends(data):
            self._skip(data)
            raise self._skip_record(f"line longer than {MAX_LINE // 1024} KB")
        if isinstance(data, str):
            text = data
        else:
            if start == 0 and self.bom and data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8):]
                start += len(codecs.BOM_UTF8)
            try:
                text = data.decode(self.encoding)
            except UnicodeDecodeError as exc:
                raise SubscriberError(
                    f"not valid {self.encoding} text at byte {start + exc.start} (line {self.line}); use --encoding",
                    path=self.path, line=self.line) from None
        # A CR inside a line is not a line end, and csv would stop the whole file on
        # it; as a control character it becomes that row's problem.
        if "\r" in text and self.end != b"\r":
            return _LONE_CR.sub("\x0b", text)
        return text
