"""What a refusal or a bounce means for an address: hard (suppress at once), soft (count) or refused (the message).

RFC 3463 enhanced status codes say what failed: class 5 is permanent, 4 is
transient; the subject (the middle number) says whether the address or the
message was at fault. A reader is suppressed only for what concerns their
address; a refusal of the message itself (a spam filter, a policy, our
sender's reputation) is recorded but never removes a reader: fixing the cause
is the sender's job, and suppressing for it would empty a list after one bad
day at one provider.
"""

from __future__ import annotations

import re

__all__ = ["HARD", "SOFT", "REFUSED", "enhanced_status", "classify_status", "rcpt_refusal_is_hard"]

HARD, SOFT, REFUSED = "hard", "soft", "refused"

_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")


def enhanced_status(text: str) -> str | None:
    """The first RFC 3463 status code (`5.1.1`) in a reply or diagnostic, if any."""
    match = _ENHANCED.search(text or "")
    return ".".join(match.groups()) if match else None


def classify_status(status: str) -> str:
    """HARD, SOFT or REFUSED for an RFC 3463 status (`5.1.1`, `4.2.2`, …).

    * 5.1.x (bad mailbox or domain), 5.2.0/5.2.1 (mailbox disabled), 5.4.4 (no route
      to the domain), 5.0.0 and anything unclassified in class 5: the address is dead → HARD.
    * every 4.x.x, and 5.2.2 (mailbox full), 5.3.x (their system), the rest of 5.4.x
      (network): may pass later → SOFT.
    * 5.5.x (protocol), 5.6.x (content), 5.7.x (policy, spam, authentication), 5.2.3
      (message too big): the message was refused, not the address → REFUSED.
    """
    parts = status.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return SOFT
    klass, subject, detail = (int(p) for p in parts)
    if klass == 4:
        return SOFT
    if klass != 5:
        return REFUSED  # 2.x.x is a success, not a bounce
    if subject == 1 or (subject == 2 and detail in (0, 1)) or (subject == 4 and detail == 4) or subject == 0:
        return HARD
    if (subject == 2 and detail == 2) or subject in (3, 4):
        return SOFT
    return REFUSED


def rcpt_refusal_is_hard(code: int, reply: str) -> bool:
    """True when a 5xx answer to RCPT TO says the address itself is dead (suppress it at once).

    The enhanced code decides when the server gives one; without it, 550 (mailbox
    unavailable), 551 (user not local) and 553 (mailbox name not allowed) are taken as
    the address (RFC 5321 4.2.3), and 552 / 554 as not.
    """
    if not 500 <= code < 600:
        return False
    status = enhanced_status(reply)
    if status is not None and status.startswith("5."):
        return classify_status(status) == HARD
    return code in (550, 551, 553)
