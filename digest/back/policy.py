"""What a refusal or a bounce means for an address: hard (suppress at once), soft (count) or refused (the message).

The server's own words decide first (`digest.back.reasons`: sisimai's reasons
and the phrases mail systems use): a refusal of the message, a full mailbox,
a rate limit or a passing fault is never a dead address, whatever the code.
Then RFC 3463 enhanced status codes say what failed: class 5 is permanent, 4
is transient; the subject (the middle number) says whether the address or
the message was at fault. A reader is suppressed at once only when the
server says plainly that the address is dead: the well-known words for an
unknown user or domain, or a specific code naming it (5.1.1, 5.1.10, …). A generic
code (5.0.0, which Exim writes in every DSN and Postfix for remote replies
without an enhanced code) says nothing by itself: the server's own words
(the Diagnostic-Code) decide, and without any, the failure only counts as
soft. A refusal of the message itself (a spam filter, a policy, relaying
denied, our sender's reputation) is recorded but never removes a reader:
fixing the cause is the sender's job, and suppressing for it would empty a
list after one bad day at one provider.
"""

from __future__ import annotations

import re

from digest.back.reasons import KIND_OF, reason_of
from digest.core.status import enhanced_status

__all__ = ["HARD", "SOFT", "REFUSED", "enhanced_status", "classify_status", "classify_reply", "rcpt_refusal_kind"]

HARD, SOFT, REFUSED = "hard", "soft", "refused"

_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# Amazon SES: "5.1.0 - Unknown address error 550-'5.2.2 <x>... Mailbox Full' (delivery attempts: 0)".
_WRAPPER = re.compile(r"^\s*(?:smtp;\s*)?\d\.\d{1,3}\.\d{1,3}\s+-\s+[A-Za-z ]{1,40}\berror\s+(\d{3}[- ].*)$", re.DOTALL)
_SMTP_CODE = re.compile(r"(?<!\d)([245]\d\d)(?:[ -]|$)")


def _is_generic(status: str) -> bool:
    # X.0.0 says only "permanent" or "transient"; 5.1.0 ("other address status") and 5.2.0 ("other
    # mailbox status") say no more about what: Postfix uses 5.1.0 for "Sender address rejected" too.
    # 5.5.0 ("other protocol status") is Outlook's "Requested action not taken: mailbox unavailable".
    return status.endswith(".0.0") or status[2:] in ("1.0", "2.0", "5.0")


def classify_status(status: str) -> str:
    """HARD, SOFT or REFUSED for a specific RFC 3463 status (`5.1.1`, `4.2.2`, …).

    * 5.1.1, 5.1.2, 5.1.3, 5.1.6 (no such mailbox or domain, bad syntax, moved), 5.1.10 (null MX,
      RFC 7505), 5.2.1 (mailbox disabled), 5.4.4 (no route to the domain): the address is dead → HARD.
    * every 4.x.x, 5.0.0 (nothing more said), 5.1.0, 5.1.4, 5.1.9, 5.2.0, 5.2.2 (mailbox full),
      5.2.4, the rest of 5.3.x (their system), the rest of 5.4.x (network): may pass later, or may
      be the address → SOFT (counted; suppressed after the soft limit).
    * 5.1.7 / 5.1.8 (our sender's address), 5.2.3 and 5.3.4 (message too big, for the mailbox or for
      the system), 5.5.x (protocol), 5.6.x (content), 5.7.x (policy, spam, authentication): the
      message was refused, never the reader's doing → REFUSED. (A generic 5.5.0 gives way to the
      server's words first, in `classify_reply`.)
    """
    parts = status.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return SOFT
    klass, subject, detail = (int(p) for p in parts)
    if klass == 4:
        return SOFT
    if klass != 5:
        return REFUSED  # 2.x.x is a success, not a bounce
    if (subject == 1 and detail in (1, 2, 3, 6, 10)) or (subject == 2 and detail == 1) or (subject, detail) == (4, 4):
        return HARD
    if (subject == 1 and detail in (7, 8)) or (subject, detail) in ((2, 3), (3, 4)) or subject >= 5:
        return REFUSED
    return SOFT


def _own_code(text: str) -> str | None:
    """The server's own enhanced code in its words: the first specific one (an ESP's wrapper puts its
    generic code first and the real reply after: `5.1.0 - Unknown address error 550-'5.2.2 … Full'`)."""
    codes = [".".join(m.groups()) for m in _ENHANCED.finditer(text[:4000])]
    return next((c for c in codes if not _is_generic(c)), codes[0] if codes else None)


def classify_reply(status: str | None, text: str, *, code: int | None = None,
                   earliest: bool = False) -> tuple[str, str]:
    """(HARD, SOFT or REFUSED, the status code that decided) for a permanent failure and the server's words.

    `status` is a DSN's Status (None at RCPT, where `code` is the reply code); `text` the reply
    or Diagnostic-Code. The server's words decide first (`digest.back.reasons`): a refusal of the
    message or of us, a full mailbox, a rate limit or a passing fault is never a dead address,
    whatever Status says. Then the server's own code, then Status; a generic code (5.0.0) says
    nothing by itself, and what says nothing more is SOFT (counted, never suppressed at once).
    `earliest`: the text is a plain notice's lines about one address; what it says first decides.
    """
    text = text or ""
    wrapped = _WRAPPER.match(text)
    if wrapped:
        text = wrapped.group(1)  # an ESP's generic words around the real reply: the reply decides
    own = _own_code(text)
    status = status or own or ("5.0.0" if code is None or 500 <= code < 600 else "4.0.0")
    if not status.startswith("5") and not (own or "").startswith("5"):
        return SOFT, status  # transient: it may pass later
    shown = own if own and own.startswith("5") and not _is_generic(own) else status
    reason = reason_of(text, code=shown, earliest=earliest)
    if reason:
        return KIND_OF[reason], shown
    specific = next((c for c in (own, status) if c and c.startswith("5") and not _is_generic(c)), None)
    if specific is not None:
        return classify_status(specific), specific
    if code is None:
        match = _SMTP_CODE.search(text)
        code = int(match.group(1)) if match else None
    if code == 554:
        return REFUSED, status  # "transaction failed": mostly a refusal of the message (RFC 5321 4.2.3)
    return SOFT, status


def rcpt_refusal_kind(code: int, reply: str) -> str:
    """HARD, SOFT or REFUSED for a 5xx answer to RCPT TO (or to the one recipient's DATA); "" for others.

    A dead address (HARD) needs a specific enhanced code naming it or the words of an unknown
    user: a bare `550 relay not permitted` (Exim's default) or a 550 without either is no proof
    about the reader, so it is only SOFT, or REFUSED when it is plainly about relaying or policy.
    """
    if not 500 <= code < 600:
        return ""
    kind, _ = classify_reply(None, reply, code=code)
    return kind
