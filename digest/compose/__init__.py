"""Compose stage: one RFC 5322 message per recipient from a skeleton built once per issue."""

from digest.compose.skeleton import ComposedMessage, MessageSkeleton, unsubscribe_url
from digest.compose.tokens import (
    TokenError,
    UnsubscribeToken,
    manage_url,
    sign_manage_token,
    sign_token,
    verify_manage_token,
    verify_token,
)

__all__ = [
    "ComposedMessage",
    "MessageSkeleton",
    "unsubscribe_url",
    "TokenError",
    "UnsubscribeToken",
    "sign_token",
    "verify_token",
    "sign_manage_token",
    "verify_manage_token",
    "manage_url",
]
