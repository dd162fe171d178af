"""Reports in the shapes that are no RFC 3464 or RFC 5965 report: plain bounce notices, SES JSON, non-ARF complaints.

A bounce is recognised by what it is — sent by the mail system (the mailer
daemon, the postmaster, "Mail Delivery System"), or titled like a notice of
non-delivery, and naming a recipient with the server's words — never by the
absence of `Auto-Submitted`: Postfix, DragonFly and others mark their
bounces `Auto-Submitted: auto-replied`, exactly like a vacation message.
"""

from __future__ import annotations

import re

from digest.back.finding import Finding, block_finding
from digest.back.mime import Headers, Part
from digest.back.plain import embedded_fields, is_warning, notice_text, plain_failures
from digest.back.policy import classify_reply, enhanced_status
from digest.back.reasons import reason_of
from digest.back.ses import read_ses

__all__ = ["looks_like_a_bounce", "plain_findings", "ses_findings", "complaint_findings", "notice_of", "SES_KINDS",
           "with_notice_words"]

_SYSTEM_SENDER = re.compile(
    r"mailer-daemon|post_?master|mail\s*delivery\s*(?:system|subsystem|service)|mail\.delivery|\bmdaemon\b"
    r"|\bmail\s+administrator|\bsystem\s+administrator|\bmail\s*system\b|\bnetwork\s+postmaster", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|not\s+(?:be\s+)?delivered|delivery\s+(?:status\s+notification|fail|failure|problem"
    r"|report|notification)|failure\s+notice|returned\s+mail|mail\s+delivery\s+failed|returned\s+to\s+sender"
    r"|non[- ]?remis|unzustellbar|nondeliverable|mail\s+system\s+error|delivery\s+has\s+failed"
    r"|could\s+not\s+send|message\s+(?:delivery\s+)?(?:failure|rejected)|permanent\s+(?:delivery\s+)?(?:error|failure)"
    r"|warning:\s+could\s+not|rejected\s+mail|mail\s+(?:error|failure)|bounced?\s+mail|error\s+sending"
    r"|delivery\s+notification|notification\s+d'?[eé]chec|\bdsn\b"
    r"|メールエラー|エラー通知|配信エラー|送信エラー|配送エラー|不達|未達", re.IGNORECASE)
_COMPLAINT_SUBJECT = re.compile(
    r"complaint\s+about\s+message\s+from|\b(?:abuse|spam)\s+(?:report|complaint)|client\s+tos\s+notification"
    r"|email\s+abuse\s+report|feedback\s+loop", re.IGNORECASE)
_COMPLAINT_RECIPIENT = ("X-HmXmrOriginalRecipient", "X-Original-Recipient", "Original-Rcpt-To")
_SES_SUBTYPE = {"noemail": "no such address (SES NoEmail)", "mailboxfull": "mailbox full (SES MailboxFull)",
                "messagetoolarge": "message too large (SES)", "contentrejected": "content rejected (SES)",
                "attachmentrejected": "content rejected, attachment (SES)"}
_ADDRESS = re.compile(r"[^\s<>(),;:\"'@]{1,64}@[^\s<>(),;:\"']{1,255}")  # bounded: linear on hostile input
SES_KINDS = {"bounce": "dsn", "complaint": "complaint", "delivery": "dsn"}


def looks_like_a_bounce(msg: Headers, subject: str, *, auto_subject: bool = False) -> bool:
    """Sent by the mail system or titled as a notice of non-delivery; a person's reply never is.

    `auto_subject`: titled like an out-of-office reply, which some responders send with a null
    sender and no Auto-Submitted: then only the mail system's own address makes it a bounce.
    """
    if msg.get("X-Failed-Recipients"):
        return True
    sender = str(msg.get("From", ""))
    if _SYSTEM_SENDER.search(sender):
        return True
    null_sender = msg.get("Return-Path").strip() in ("<>", "")
    if auto_subject:
        return False
    if null_sender and not _auto_replied(msg):
        return True  # RFC 5321 4.5.5: only notices are sent with a null sender (an auto-reply should be too)
    return bool(_BOUNCE_SUBJECT.search(subject)) and (null_sender or "@" not in sender or "daemon" in sender.lower())


def _auto_replied(msg: Headers) -> bool:
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    return bool(auto) and not auto.startswith("no")


def notice_of(parts: list[Part], limit: int = 64 * 1024) -> str:
    """The human-readable notice: the text parts outside the returned original, cut before any copy of it."""
    texts: list[str] = []
    for part in parts:
        if part.ctype == "text/plain" or (part.ctype == "text/html" and not texts):
            charset = part.headers.get_content_charset() or "utf-8"
            try:
                text = part.body[:limit].decode(charset, "replace")
            except LookupError:
                text = part.body[:limit].decode("utf-8", "replace")
            if part.ctype == "text/html":
                text = re.sub(r"<[^>]{0,2000}>", " ", text)
            texts.append(text)
        if sum(map(len, texts)) >= limit:
            break
    if not texts:
        # A part whose header is broken (a boundary on an unfolded line) is one leaf: read it as text.
        texts = [p.body[:limit].decode("utf-8", "replace") for p in parts[:3] if not p.ctype.startswith("message/")]
    return "\n\n".join(notice_text(t) for t in texts)


def _fields_findings(text: str) -> list[Finding]:
    return [f for f in map(block_finding, embedded_fields(text)) if f is not None]


def plain_findings(text: str, *, exclude: set[str], wanted: list[str], subject: str = "") -> list[Finding]:
    """The failed recipients of a plain notice, each judged by the server's words about it."""
    fields = _fields_findings(text)
    if fields:
        return fields
    warning = is_warning(text)
    found = []
    failures = plain_failures(text, exclude=exclude, wanted=wanted)
    for address, words in failures:
        if warning:
            found.append(Finding("delayed", address, enhanced_status(words) or "4.0.0", words[:500]))
            continue
        # Nothing said near this address: the whole notice (and its subject) speaks for it.
        said = words if reason_of(words) else f"{words} {subject} {' '.join(text.split())[:2000]}"
        kind, status = classify_reply(None, said, earliest=True)
        found.append(Finding(kind, address, status, words[:500] or "non-standard bounce"))
    return found


def with_notice_words(findings: list[Finding], text: str) -> list[Finding]:
    """A DSN that gives no Diagnostic-Code for a failed recipient (OpenSMTPD, some gateways) often says
    why in its text part: those words decide then."""
    if not any(f.kind in ("hard", "soft", "refused") and not f.diagnostic for f in findings):
        return findings
    words = dict((a.lower(), w) for a, w in plain_failures(text, exclude=set(), wanted=[f.email for f in findings]))
    result = []
    for finding in findings:
        said = words.get(finding.email.lower(), "")
        if finding.kind in ("hard", "soft", "refused") and not finding.diagnostic and said:
            kind, status = classify_reply(finding.status, said, earliest=True)
            finding = Finding(kind, finding.email, status, said[:500], finding.original)
        result.append(finding)
    return result


def ses_findings(text: str) -> tuple[str, list[Finding], list[str]] | None:
    """(category, findings, the original's Message-IDs) of an Amazon SES notification, or None."""
    notice = read_ses(text)
    if notice is None:
        return None
    findings = []
    for action, address, status, diagnostic in notice.entries:
        if action == "failed":
            words = diagnostic if diagnostic.lower() not in _SES_SUBTYPE else _SES_SUBTYPE[diagnostic.lower()]
            kind, status = classify_reply(enhanced_status(status) or "5.0.0", words)
            findings.append(Finding(kind, address, status, words[:500]))
        elif action == "delayed":
            findings.append(Finding("soft", address, enhanced_status(status) or "4.0.0", diagnostic[:500]))
        else:
            findings.append(Finding(action, address, status, diagnostic[:500]))
    return SES_KINDS[notice.category], findings, notice.message_ids


def complaint_findings(msg: Headers, subject: str, parts: list[Part], original: Headers | None) -> list[Finding]:
    """A complaint in a non-ARF shape (Hotmail's "complaint about message from …", AOL's TOS notification):
    a copy of our message under a complaint's subject; [] when it is none."""
    if original is None or not _COMPLAINT_SUBJECT.search(subject):
        return []
    named: dict[str, None] = {}
    for name in _COMPLAINT_RECIPIENT:
        for value in original.get_all(name) + msg.get_all(name):
            if "@" in value:
                named[value.strip().strip("<>")] = None
    for value in original.get_all("To"):
        for address in _ADDRESS.findall(value):
            named[address] = None
    return [Finding("complaint", address, "abuse") for address in list(named)[:100]] or [Finding("complaint", "",
                                                                                                  "abuse")]
