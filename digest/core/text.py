"""Untrusted text made safe to show: every control character spelled out, for terminals and logs alike."""

from __future__ import annotations

import re

__all__ = ["printable"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """The text with every control character (ESC, BEL, CR, bidi overrides …) shown as an escape.

    Lone surrogates (bytes a decoder could not read) are spelled out too: a terminal takes UTF-8 only.
    """
    text = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)
