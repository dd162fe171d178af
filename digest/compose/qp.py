"""Quoted-printable (RFC 2045 6.7) that also never starts a line with '.', so DATA needs no dot-stuffing."""

from __future__ import annotations

__all__ = ["qp_encode", "qp_value"]

MAX_LINE = 76  # RFC 2045 6.7 (5): encoded lines are at most 76 characters

# One token per byte: printable ASCII stays, '=' and everything else is =XX.
_TOKENS = tuple(
    chr(b) if (33 <= b <= 126 and b != 61) or b in (9, 32) else f"={b:02X}" for b in range(256)
)


def _encode_line(data: bytes, out: list[str]) -> None:
    tokens = [_TOKENS[b] for b in data]
    if tokens and tokens[-1] in (" ", "\t"):
        # RFC 2045 6.7 (3): whitespace at the end of a line must be encoded.
        tokens[-1] = "=20" if tokens[-1] == " " else "=09"
    line = ""
    # (bandit B105 below: "token" is a QP token, not a password.)
    for token in tokens:
        if len(line) + len(token) > MAX_LINE - 1:  # keep room for the soft-break '='
            out.append(line + "=")
            line = ""
        if not line and token == ".":  # nosec B105
            # RFC 5321 4.5.2: a line starting with '.' would need dot-stuffing; encode it instead.
            token = "=2E"  # nosec B105
        line += token
    out.append(line)


def qp_encode(text: str) -> bytes:
    """Encode text (LF or CRLF line ends) as quoted-printable with CRLF line ends."""
    out: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        _encode_line(line.encode("utf-8"), out)
    return "\r\n".join(out).encode("ascii")


def qp_value(value: str) -> bytes:
    """Encode a one-line value cheaply; plain ASCII (URLs, most names) is only cut into lines."""
    if value.isascii() and value.isprintable() and "=" not in value and not value.endswith((" ", "\t")):
        if len(value) < MAX_LINE:
            if not value.startswith("."):
                return value.encode("ascii")
        else:
            step = MAX_LINE - 1
            chunks = [value[i : i + step] for i in range(0, len(value), step)]
            if not any(chunk.startswith(".") for chunk in chunks):
                return "=\r\n".join(chunks).encode("ascii")
    out: list[str] = []
    _encode_line(value.encode("utf-8"), out)
    return "\r\n".join(out).encode("ascii")
