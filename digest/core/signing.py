"""One MAC and one strict base64url codec for every signed token the workspace issues.

VERP return paths, unsubscribe links, confirmation links and any later token
(manage, click) are signed here, each under its own purpose label so that a
MAC made for one kind of token never verifies as another. The output of each
token format is pinned by tests: a token mailed last year must still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

__all__ = ["mac", "keyed_hex", "same", "b64encode", "b64decode", "b32encode"]

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def mac(secret: bytes, *, purpose: bytes, payload: bytes, size: int) -> bytes:
    """HMAC-SHA256 of `purpose NUL payload`, cut to `size` bytes.

    The purpose label keeps token kinds apart: an unsubscribe MAC and a
    confirmation MAC over the same bytes differ.
    """
    return hmac.new(secret, purpose + b"\x00" + payload, hashlib.sha256).digest()[:size]


def keyed_hex(secret: bytes, data: bytes, *, chars: int = 64) -> str:
    """HMAC-SHA256 of `data` in hex, cut to `chars`: stable ids (Message-ID, nonces), not tokens to verify."""
    return hmac.new(secret, data, hashlib.sha256).hexdigest()[:chars]


def same(given: bytes | str, expected: bytes | str) -> bool:
    """Constant-time comparison, so a forger learns nothing from how long a refusal takes."""
    if isinstance(given, str):
        given = given.encode("utf-8", "surrogateescape")
    if isinstance(expected, str):
        expected = expected.encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given, expected)


def b64encode(data: bytes) -> str:
    """Unpadded base64url text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict, canonical, unpadded base64url: anything else is a different string, so ValueError.

    The stdlib decoder skips characters outside the alphabet and ignores the
    unused low bits of the last character, so 'YWRh!!!!QGV4' or a changed last
    character would decode to the same bytes; re-encoding must give the text back.
    """
    if not isinstance(text, str) or not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not canonical base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64encode(data) != text:
        raise ValueError("not canonical base64url")
    return data


def b32encode(data: bytes) -> str:
    """Lower-case base32 without padding characters (for local parts, where case may be folded)."""
    return base64.b32encode(data).decode("ascii").lower().rstrip("=")
