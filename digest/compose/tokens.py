"""Signed reader tokens: unsubscribe (address, list, issue) and manage (address), HMAC-SHA256, URL-safe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from digest.core import signing

__all__ = ["UnsubscribeToken", "sign_token", "verify_token", "TokenError", "sign_manage_token", "verify_manage_token",
           "manage_url"]

_SEPARATOR = "\x1f"  # unit separator: cannot occur in a validated address or list name
_MAC_BYTES = 16
MAX_TOKEN_LENGTH = 1024


class TokenError(ValueError):
    """The token is malformed, altered or forged."""


@dataclass(frozen=True, slots=True)
class UnsubscribeToken:
    """What a valid token says: who, from which list, from which issue."""

    email: str
    list: str
    issue: int


def _mac(secret: bytes, payload: bytes) -> bytes:
    return signing.mac(secret, purpose=b"digest-unsubscribe", payload=payload, size=_MAC_BYTES)


def sign_token(secret: bytes, *, email: str, list_name: str, issue: int) -> str:
    """Make the token for one recipient of one issue."""
    payload = _SEPARATOR.join((email, list_name, str(issue))).encode("utf-8")
    return f"{signing.b64encode(payload)}.{signing.b64encode(_mac(secret, payload))}"


def _verified_payload(token: str, mac_of: Callable[[bytes], bytes]) -> bytes:
    """The payload of `body.mac` once its MAC (by `mac_of`) is proved; TokenError for anything else."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise TokenError("malformed token")
    body, mac = token.split(".")
    try:
        payload, given = signing.b64decode(body), signing.b64decode(mac)
    except (ValueError, TypeError):
        raise TokenError("malformed token") from None
    if len(given) != _MAC_BYTES or not signing.same(given, mac_of(payload)):
        raise TokenError("invalid token")
    return payload


def verify_token(secret: bytes, token: str) -> UnsubscribeToken:
    """Check a token and return what it says; raise TokenError for anything else."""
    payload = _verified_payload(token, lambda payload: _mac(secret, payload))
    try:
        email, list_name, issue = payload.decode("utf-8").split(_SEPARATOR)
        return UnsubscribeToken(email, list_name, int(issue))
    except ValueError:
        raise TokenError("malformed token") from None


def _manage_mac(secret: bytes, payload: bytes) -> bytes:
    return signing.mac(secret, purpose=b"digest-manage", payload=payload, size=_MAC_BYTES)


def sign_manage_token(secret: bytes, *, email: str) -> str:
    """The long-lived token of a reader's manage page: it names the address (its key), no list, no expiry."""
    payload = email.strip().lower().encode("utf-8")
    return f"{signing.b64encode(payload)}.{signing.b64encode(_manage_mac(secret, payload))}"


def verify_manage_token(secret: bytes, token: str) -> str:
    """The address key a manage token names; TokenError for anything else (an unsubscribe token included)."""
    payload = _verified_payload(token, lambda payload: _manage_mac(secret, payload))
    try:
        email = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise TokenError("malformed token") from None
    if not email or _SEPARATOR in email:
        raise TokenError("malformed token")
    return email


def manage_url(base_url: str, token: str) -> str:
    """The reader's manage page for a token."""
    return f"{base_url.rstrip('/')}/manage/{token}"
