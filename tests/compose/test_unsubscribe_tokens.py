"""Unsubscribe tokens are read strictly: only the exact string we signed is accepted."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from digest.app.context import Context
from digest.compose import TokenError, sign_token, verify_token
from digest.web.server import create_app
from tests.helpers.web import http_request
from tests.web_helpers import ThreadedUvicorn

SECRET = b"k" * 32
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _same_bytes_other_last_char(part: str) -> str:
    """The part with its last character changed so that a lenient decoder reads the same bytes."""
    for c in ALPHABET:
        other = part[:-1] + c
        if c != part[-1] and _decode(other) == _decode(part):
            return other
    raise AssertionError(f"no alias for {part!r}")


def altered(token: str) -> dict[str, str]:
    body, mac = token.split(".")
    return {
        "junk in the body": f"{body[:4]}!!!!{body[4:]}.{mac}",
        "junk in the MAC": f"{body}.{mac[:3]}*~{mac[3:]}",
        "last MAC character changed": f"{body}.{_same_bytes_other_last_char(mac)}",
        "last body character changed": f"{_same_bytes_other_last_char(body)}.{mac}",
        "padding on the MAC": f"{body}.{mac}==",
        "padding on the body": f"{body}=.{mac}",
        "padding in the middle": f"{body[:8]}={body[8:]}.{mac}",
        "standard alphabet": f"{body}.{mac}".replace("-", "+").replace("_", "/")
        if any(c in token for c in "-_") else f"{body}.{mac}+",
    }


def test_the_token_used_below_has_aliases_for_a_lenient_decoder():
    token = sign_token(SECRET, email="ada@example.com", list_name="weekly", issue=12)
    body, mac = token.split(".")
    assert len(body) % 4 and len(mac) % 4  # both end in a character with unused bits


@pytest.mark.parametrize("kind", sorted(altered(sign_token(SECRET, email="ada@example.com", list_name="w",
                                                            issue=1))))
def test_altered_tokens_are_refused(kind: str):
    token = sign_token(SECRET, email="ada@example.com", list_name="weekly", issue=12)
    assert verify_token(SECRET, token).email == "ada@example.com"
    with pytest.raises(TokenError):
        verify_token(SECRET, altered(token)[kind])


def _unsubscribe_status(url: str, *, post: bool) -> int:
    """What an unsubscribe link answers to a click (GET) or to a one-click POST."""
    return http_request(url, b"List-Unsubscribe=One-Click" if post else None)[0]


def test_serve_answers_400_to_every_altered_token_and_records_nothing(workspace: Path, monkeypatch):
    monkeypatch.setenv("DIGEST_SECRET", SECRET.decode())
    ctx = Context(workspace)
    token = sign_token(ctx.secret, email="ada@example.com", list_name="example", issue=1)
    with ThreadedUvicorn(create_app(ctx)) as web:
        assert _unsubscribe_status(f"{web.url}/u/{token}", post=False) == 200
        statuses = {kind: (_unsubscribe_status(f"{web.url}/u/{bad}", post=False),
                           _unsubscribe_status(f"{web.url}/u/{bad}", post=True))
                    for kind, bad in altered(token).items()}
    # A '/' of the standard alphabet makes it another path: 404, still nothing accepted.
    assert statuses == {kind: (404, 404) if "/" in altered(token)[kind] else (400, 400) for kind in statuses}
    assert list(ctx.store.suppressions()) == []
    ctx.close()
