"""Reading incoming mail the cheap way: header blocks and the leaves of a MIME tree, with bounds.

The standard parser costs most of the time of a bounce run and compiles a
regular expression for every boundary it meets; reports need far less. Every
loop here is bounded, so one hostile message (a header folded over a million
lines, 200,000 MIME parts) costs linear time and a capped amount of work.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass

__all__ = ["Headers", "Part", "headers_of", "split_head", "leaves", "MAX_PARTS"]

MAX_PARTS = 100  # leaves read per message: a report has three or four
_MAX_DEPTH = 5
_PARAM = re.compile(r';\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]+)')


class Headers:
    """A header block, read the simple way."""

    __slots__ = ("_fields",)

    def __init__(self, text: str) -> None:
        pieces: dict[str, list[list[str]]] = {}
        last: list[str] | None = None
        for line in text.splitlines():
            if not line.strip():
                break
            if line[0] in " \t":
                if last is not None:
                    last.append(line.strip())  # RFC 5322 2.2.3 unfolding, joined once below: linear
                continue
            name, sep, value = line.partition(":")
            if not sep:
                continue
            last = [value.strip()]
            pieces.setdefault(name.strip().lower(), []).append(last)
        self._fields = {name: [" ".join(value) for value in values] for name, values in pieces.items()}

    def get(self, name: str, default: str = "") -> str:
        """The first value of a field."""
        values = self._fields.get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        """Every value of a field."""
        return self._fields.get(name.lower(), [])

    def get_content_type(self) -> str:
        """`type/subtype`, text/plain by default (RFC 2045 5.2)."""
        value = self.get("Content-Type").partition(";")[0].strip().lower()
        return value if value.count("/") == 1 else "text/plain"

    def get_content_maintype(self) -> str:
        """The type before the slash."""
        return self.get_content_type().partition("/")[0]

    def get_param(self, name: str) -> str:
        """A Content-Type parameter (plain or quoted; RFC 2231 continuations are not used by reports)."""
        for match in _PARAM.finditer(self.get("Content-Type")):
            if match.group(1).lower() == name:
                quoted = match.group(2)
                return quoted[1:-1].replace('\\"', '"') if quoted.startswith('"') else quoted
        return ""

    def get_boundary(self) -> str | None:
        """The multipart boundary."""
        return self.get_param("boundary") or None

    def get_content_charset(self) -> str | None:
        """The charset parameter."""
        return self.get_param("charset").lower() or None


@dataclass(frozen=True, slots=True)
class Part:
    """One leaf of a MIME tree: its content type, headers and decoded body."""

    ctype: str
    headers: Headers
    body: bytes


def headers_of(block: bytes | str) -> Headers:
    """The header block of a message or part (bytes read as UTF-8, bad bytes replaced)."""
    return Headers(block.decode("utf-8", "replace") if isinstance(block, bytes) else block)


def split_head(data: bytes) -> tuple[bytes, bytes]:
    """(header block, body) at the first blank line."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = data.find(separator)
        if index >= 0:
            return data[:index + len(separator) // 2], data[index + len(separator):]
    return data, b""


def _decode(headers: Headers, body: bytes) -> bytes:
    encoding = str(headers.get("Content-Transfer-Encoding", "")).strip().lower()
    try:
        if encoding == "base64":
            return base64.b64decode(body, validate=False)
        if encoding == "quoted-printable":
            return quopri.decodestring(body)
    except (ValueError, binascii.Error):
        return body
    return body


def leaves(headers: Headers, body: bytes, *, limit: int = MAX_PARTS) -> tuple[list[Part], bool]:
    """The leaves of a message, found by splitting at its boundaries; (at most `limit` parts, whether
    the message had more: then it is no report of ours, and the caller reads no further)."""
    parts: list[Part] = []
    more = _collect(headers, body, parts, limit, 0)
    return parts, more


def _collect(headers: Headers, body: bytes, parts: list[Part], limit: int, depth: int) -> bool:
    ctype = headers.get_content_type()
    if headers.get_content_maintype() != "multipart" or depth > _MAX_DEPTH:
        parts.append(Part(ctype, headers, _decode(headers, body)))
        return False
    boundary = headers.get_boundary()
    if not boundary:
        parts.append(Part(ctype, headers, body))
        return False
    # At most limit + 1 pieces are cut: a message of a million parts costs no more than one of a hundred.
    chunks = (b"\n" + body).split(b"\n--" + boundary.encode("ascii", "replace"), limit - len(parts) + 1)
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            return False  # the close delimiter
        if len(parts) >= limit:
            return True
        chunk = chunk.partition(b"\n")[2]  # the rest of the delimiter line
        if chunk.endswith(b"\r"):
            chunk = chunk[:-1]  # the CR of the CRLF before the next delimiter
        head, inner = split_head(chunk)
        part_headers = headers_of(head)
        if part_headers.get_content_maintype() == "multipart":
            if _collect(part_headers, inner, parts, limit, depth + 1):
                return True
        else:
            parts.append(Part(part_headers.get_content_type(), part_headers, _decode(part_headers, inner)))
    return False
