"""Signed unsubscribe tokens: HMAC-SHA256 over (address, list, issue), URL-safe, checked in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

__all__ = ["UnsubscribeToken", "sign_token", "verify_token", "TokenError"]

_SEPARATOR = "\x1f"  # unit separator: cannot occur in a validated address or list name
_MAC_BYTES = 16
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
MAX_TOKEN_LENGTH = 1024


class TokenError(ValueError):
    """The token is malformed, altered or forged."""


@dataclass(frozen=True, slots=True)
class UnsubscribeToken:
    """What a valid token says: who, from which list, from which issue."""

    email: str
    list: str
    issue: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict, canonical, unpadded base64url: anything else is a different string, so it is refused.

    The stdlib decoder skips characters outside the alphabet and ignores the
    unused low bits of the last character, so 'YWRh!!!!QGV4' or a changed last
    character would decode to the same bytes; re-encoding must give the text back.
    """
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not canonical base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, b"digest-unsubscribe\x00" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def sign_token(secret: bytes, *, email: str, list_name: str, issue: int) -> str:
    """Make the token for one recipient of one issue."""
    payload = _SEPARATOR.join((email, list_name, str(issue))).encode("utf-8")
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def verify_token(secret: bytes, token: str) -> UnsubscribeToken:
    """Check a token and return what it says; raise TokenError for anything else."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise TokenError("malformed token")
    body, mac = token.split(".")
    try:
        payload, given = _unb64(body), _unb64(mac)
    except (ValueError, TypeError):
        raise TokenError("malformed token") from None
    if len(given) != _MAC_BYTES or not hmac.compare_digest(given, _mac(secret, payload)):
        raise TokenError("invalid token")
    try:
        email, list_name, issue = payload.decode("utf-8").split(_SEPARATOR)
        return UnsubscribeToken(email, list_name, int(issue))
    except ValueError:
        raise TokenError("malformed token") from None
