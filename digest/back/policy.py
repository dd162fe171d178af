"""What a refusal or a bounce means for an address: hard (suppress at once), soft (count) or refused (the message).

RFC 3463 enhanced status codes say what failed: class 5 is permanent, 4 is
transient; the subject (the middle number) says whether the address or the
message was at fault. A reader is suppressed at once only when the server
says plainly that the address is dead: a specific code naming it (5.1.1,
5.1.10, 5.2.1, …) or the well-known words for an unknown user. A generic
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

from digest.core.status import enhanced_status

__all__ = ["HARD", "SOFT", "REFUSED", "enhanced_status", "classify_status", "classify_reply", "rcpt_refusal_kind"]

HARD, SOFT, REFUSED = "hard", "soft", "refused"

_SMTP_CODE = re.compile(r"(?<!\d)([245]\d\d)(?:[ -]|$)")

# Refusals about relaying or about our sender: the relay or our setup is at fault, never the reader.
# ("User unknown in relay recipient table" is Postfix's word for a dead address: not matched here.)
_ABOUT_US = re.compile(
    r"\brelay(?:ing)?\s+(?:access\s+)?(?:denied|not\s+(?:permitted|allowed)|prohibited|refused)"
    r"|\b(?:unable|not\s+allowed|not\s+permitted)\s+to\s+relay|\bno\s+relaying|\bwe\s+do\s+not\s+relay"
    r"|\ballowed\s+rcpthosts"  # qmail's relay refusal
    r"|\bsender\s+address\s+rejected|\bsender\s+verify\s+failed|\bauthentication\s+required"
    r"|\bnot\s+(?:logged\s+in|authenticated)|\bsending\s+(?:quota|limit)|\bdaily\s+(?:user\s+)?sending",
    re.IGNORECASE)
# The well-known words of a dead address.
_UNKNOWN_USER = re.compile(
    r"\buser\s+unknown|\bunknown\s+(?:user|recipient|mailbox|address|local[\s-]part)"
    r"|\bno\s+such\s+(?:user|mailbox|recipient|account|address|person)"
    r"|\b(?:user|mailbox|recipient|account|address)\s+(?:does\s+not|doesn'?t)\s+exist"
    r"|\b(?:user|mailbox|recipient|account)\s+(?:not\s+found|unknown|disabled|deactivated|inactive)"
    r"|\bthe\s+email\s+account\s+that\s+you\s+tried\s+to\s+reach\s+does\s+not\s+exist"
    r"|\binvalid\s+(?:recipient|mailbox)\b|\baddress\s+rejected:\s+user\s+unknown"
    # Yahoo: "554 delivery error: dd This user doesn't have a yahoo.com account", "… Requested mailbox is not valid"
    r"|\b(?:user|recipient)\s+(?:does\s+not|doesn'?t)\s+have\s+an?\s+[\w.-]+\s+account"
    r"|\bmailbox\s+is\s+(?:not\s+valid|invalid)\b",
    re.IGNORECASE)
_MAILBOX_FULL = re.compile(
    r"\bmailbox\s+(?:is\s+)?full|\bover\s*quota|\bquota\s+exceeded|\bexceeded\s+(?:storage|(?:the\s+)?quota)"
    r"|\binsufficient\s+(?:system\s+)?storage|\bmailbox\s+size\s+limit",
    re.IGNORECASE)
# Refusals of the message: spam filters, blocklists, policies, authentication of our domain, rate limits.
_ABOUT_MESSAGE = re.compile(
    r"\bspam\b|\bblock(?:ed|list)|\bblack\s?list|\bdeny\s?list|\bpolicy\b|\breputation\b|\bdmarc\b|\bspf\b"
    r"|\bdkim\b|\bcontent\s+(?:filter|rejected)|\bvirus\b|\bmalware\b|\bphish|\brate\s+limit|\btoo\s+many\b"
    r"|\bmessage\s+(?:rejected|refused|not\s+accepted)|\bnot\s+accepted\s+due\s+to|\bunsolicited\b",
    re.IGNORECASE)


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


def classify_reply(status: str | None, text: str, *, code: int | None = None) -> tuple[str, str]:
    """(HARD, SOFT or REFUSED, the status code that decided) for a permanent failure and the server's words.

    `status` is a DSN's Status (None at RCPT, where `code` is the reply code); `text` the reply
    or Diagnostic-Code. Words about relaying or our sender mean REFUSED whatever the code: that
    refusal says nothing about the reader. Then a specific status decides; a generic one (5.0.0)
    gives way to a specific code in the text, then to the text's words; what says nothing more
    is SOFT (counted, never suppressed at once).
    """
    text = text or ""
    status = status or enhanced_status(text) or ("5.0.0" if code is None or 500 <= code < 600 else "4.0.0")
    if not status.startswith("5"):
        return SOFT, status  # transient: it may pass later
    if _ABOUT_US.search(text):
        return REFUSED, status
    specific = next((c for c in (status, enhanced_status(text)) if c and c.startswith("5") and not _is_generic(c)),
                    None)
    if specific is not None:
        return classify_status(specific), specific
    if _UNKNOWN_USER.search(text):
        return HARD, status
    if _MAILBOX_FULL.search(text):
        return SOFT, status
    if _ABOUT_MESSAGE.search(text):
        return REFUSED, status
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
