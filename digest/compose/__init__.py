"""Compose stage: one RFC 5322 message per recipient from a skeleton built once per issue."""

from digest.compose.skeleton import ComposedMessage, MessageSkeleton, unsubscribe_url
from digest.compose.tokens import TokenError, UnsubscribeToken, sign_token, verify_token

__all__ = [
    "ComposedMessage",
    "MessageSkeleton",
    "unsubscribe_url",
    "TokenError",
    "UnsubscribeToken",
    "sign_token",
    "verify_token",
]
