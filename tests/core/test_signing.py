"""Tokens already mailed must still verify: the output of every token format is pinned, byte for byte."""

from __future__ import annotations

import pytest

from digest.back.signup import make_link_token, read_link_token
from digest.compose.tokens import TokenError, sign_token, verify_token
from digest.core.signing import b64decode, b64encode
from digest.core.verp import confirm_token, find_token, message_token
from digest.store.signups import Signup

SECRET = b"pinned-secret-0123456789abcdef"


def test_verp_tokens_are_the_ones_mailed_before_the_signing_module() -> None:
    assert message_token(SECRET, issue=7, row=4242, email_key="ada@example.com") == "m7.1092.ijcykoeuhlywjoc4"
    assert confirm_token(SECRET, signup=99, email_key="bob@example.org") == "c0.63.twrkdo2qot2ecuh5"
    token = find_token("bounces+m7.1092.ijcykoeuhlywjoc4@news.example.com", "bounces@news.example.com")
    assert token is not None and token.verify(SECRET, "ada@example.com")
    assert not token.verify(SECRET, "eve@example.com")


def test_unsubscribe_tokens_are_the_ones_mailed_before_the_signing_module() -> None:
    old = "YWRhQGV4YW1wbGUuY29tH25ld3NsZXR0ZXIfMTI.z_2bAUeS6Cm_AfnRJTGhQA"
    assert sign_token(SECRET, email="ada@example.com", list_name="newsletter", issue=12) == old
    assert sign_token(SECRET, email="zoë@exämple.com", list_name="weekly-2026", issue=0) == (
        "em_Dq0BleMOkbXBsZS5jb20fd2Vla2x5LTIwMjYfMA.SdN_QZXsuuopq7m4GVAHoQ")
    said = verify_token(SECRET, old)
    assert (said.email, said.list, said.issue) == ("ada@example.com", "newsletter", 12)
    with pytest.raises(TokenError):
        verify_token(b"another-secret", old)


def test_confirmation_links_are_the_ones_mailed_before_the_signing_module() -> None:
    signup = Signup(id=5, list="newsletter", email="Ada@Example.com", name="", state="pending",
                    expires_at=1800000000.5, requested_at="", source="")
    assert make_link_token(SECRET, signup) == "5.6b49d200.0BFMGLZwbKo0HkMVJbVfig"
    link = read_link_token("5.6b49d200.0BFMGLZwbKo0HkMVJbVfig")
    assert link is not None and link.valid_for(SECRET, "ada@example.com", now=1700000000)
    assert not link.valid_for(SECRET, "ada@example.com", now=1800000001)


def test_one_text_per_value_in_base64url() -> None:
    assert b64decode(b64encode(b"ada\x00")) == b"ada\x00"
    for other in ("YWRh!!!!QGV4", "YWRhAB", "YWRhAA=", "Y"):  # junk, stray low bits, padding, impossible length
        with pytest.raises(ValueError):
            b64decode(other)
