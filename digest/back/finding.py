"""One recipient's fate as a report tells it, and how RFC 3464 per-recipient fields tell it."""

from __future__ import annotations

from dataclasses import dataclass

from digest.back.mime import Headers
from digest.back.policy import classify_reply, enhanced_status

__all__ = ["Finding", "address_in", "block_finding"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One recipient's fate as a report tells it."""

    kind: str  # hard | soft | refused | delayed | delivered | complaint
    email: str  # as the report names it (may differ from ours after forwarding)
    status: str = ""  # RFC 3463 code, or a complaint's feedback type
    diagnostic: str = ""  # the remote server's words
    original: str = ""  # the DSN's Original-Recipient, when it names another address than `email`


def address_in(value: str) -> str:
    """The address in `rfc822; a@b` (or a bare address); "" when there is none."""
    kind, sep, address = str(value).partition(";")
    address = (address if sep else kind).strip().strip("<>")
    return address if "@" in address else ""


def block_finding(block: Headers) -> Finding | None:
    """One recipient's fate from its per-recipient fields (RFC 3464 section 2.3)."""
    final = address_in(block.get("Final-Recipient")) or address_in(block.get("X-Actual-Recipient"))
    original = address_in(block.get("Original-Recipient"))
    address = final or original
    action = str(block.get("Action", "")).strip().lower()
    if not address or not action:
        return None
    diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
    status = enhanced_status(str(block.get("Status", "")))
    if action.startswith(("fail", "error")):  # opensmtpd says "error"
        # The remote server's own code and words decide over Status (Exim writes 5.0.0 in every DSN;
        # others 5.1.1 for any refusal).
        kind, status = classify_reply(status or "5.0.0", diagnostic)
    elif action.startswith("delayed"):
        kind, status = "delayed", status or enhanced_status(diagnostic) or "4.0.0"  # never counted
    elif action.startswith(("delivered", "relayed", "expanded")):
        kind, status = "delivered", status or "2.0.0"
    else:
        return None
    other = original if original and original.lower() != address.lower() else ""
    return Finding(kind, address, status, diagnostic, other)
