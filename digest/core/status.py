"""RFC 3463 enhanced status codes, read out of SMTP replies and bounce diagnostics.

Shared by the store (which records the status of a refused recipient) and the
back stage (which classifies bounces): the reading of a code is a fact about
SMTP, not a policy of either.
"""

from __future__ import annotations

import re

__all__ = ["enhanced_status"]

_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")


def enhanced_status(text: str) -> str | None:
    """The first RFC 3463 status code (`5.1.1`) in a reply or diagnostic, if any."""
    match = _ENHANCED.search(text or "")
    return ".".join(match.groups()) if match else None
