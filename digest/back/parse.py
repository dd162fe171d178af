"""Reading what comes back: delivery status notifications, other bounces, complaints, unsubscribes, auto-replies.

Pure functions over message bytes; nothing here touches the store. The kind
of a message is told by its report type and content, never by
`Auto-Submitted` alone: real DSNs carry `Auto-Submitted: auto-replied` too
(Postfix's do), exactly like a vacation message.

* RFC 3464 DSN (`multipart/report; report-type=delivery-status`): each
  per-recipient block's Action and Status (RFC 3463) decide.
* RFC 5965 ARF (`report-type=feedback-report`): a complaint, except
  Feedback-Type `not-spam`.
* Anything else that flufl.bounce recognises as a bounce (qmail, Exim's
  plain bounces, old Exchange, …): permanent or temporary as it says.
* Mail to the List-Unsubscribe mailto address, or whose subject is
  `unsubscribe TOKEN`: an unsubscribe.
* RFC 3834 auto-replies (vacation, out of office) and read receipts: ignored.
"""

from __future__ import annotations

import email
import hashlib
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser

from digest.back.policy import HARD, REFUSED, SOFT, classify_status, enhanced_status
from digest.back.verp import UNSUBSCRIBE_TAG, VerpToken, find_token

__all__ = ["Finding", "Report", "parse_report", "worst", "MAX_MESSAGE", "OUR_MESSAGE_ID"]

MAX_MESSAGE = 10 * 1024 * 1024  # larger mail is no bounce we need to read; it is left alone
OUR_MESSAGE_ID = re.compile(r"<digest\.(\d+)\.([0-9a-f]{24})@[^>\s]+>")
_UNSUBSCRIBE_URL = re.compile(r"/u/([A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,})")
_UNSUBSCRIBE_SUBJECT = re.compile(r"\bunsubscribe\s+([A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,})", re.IGNORECASE)
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_AUTO_SUBJECT = re.compile(r"^\s*(out of (the )?office|automatic reply|auto[- ]?reply|autoresponse|vacation|"
                           r"abwesenheit|absence|r[ée]ponse automatique|away from)", re.IGNORECASE)
_RANK = {HARD: 4, SOFT: 3, REFUSED: 2, "delivered": 1}


@dataclass(frozen=True, slots=True)
class Finding:
    """One recipient's fate as a report tells it."""

    kind: str  # hard | soft | refused | delivered | complaint
    email: str  # as the report names it (may differ from ours after forwarding)
    status: str = ""  # RFC 3463 code, or a complaint's feedback type
    diagnostic: str = ""  # the remote server's words


@dataclass
class Report:
    """What one incoming message is, and what in it can tie it to a message we sent."""

    category: str  # dsn | bounce | complaint | unsubscribe | auto-reply | unrecognised
    findings: list[Finding] = field(default_factory=list)
    tokens: list[VerpToken] = field(default_factory=list)  # VERP tokens it was addressed to
    unsubscribe_tokens: list[str] = field(default_factory=list)  # signed /u/ tokens in it or its subject
    message_ids: list[tuple[int, str]] = field(default_factory=list)  # (issue, Message-ID) of ours it returns
    original_to: list[str] = field(default_factory=list)  # To of the returned original
    key: str = ""  # the same message read twice has the same key
    why: str = ""  # for unrecognised mail: why not


def _decoded(value: str | None) -> str:
    if not value:
        return ""
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return str(value)


def _addresses(values: list[str]) -> list[str]:
    found = []
    for value in values:
        for _, address in email.utils.getaddresses([str(value)]):
            if address:
                found.append(address)
    return found


def _returned_original(msg: Message) -> Message | None:
    """The original message (or its headers) a report carries."""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if ctype in ("text/rfc822-headers", "message/rfc822-headers", "text/global-headers"):
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                return HeaderParser().parsestr(raw.decode("utf-8", "replace"))
    return None


def _status_blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status part, however the sender encoded it."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    return [HeaderParser().parsestr(chunk.strip() + "\n")
            for chunk in re.split(r"\r?\n\s*\r?\n", text) if chunk.strip()]


def _recipient(block: Message) -> str:
    for name in ("Final-Recipient", "Original-Recipient", "X-Actual-Recipient"):
        value = block.get(name)
        if value:
            kind, _, address = str(value).partition(";")
            address = (address if _ else kind).strip().strip("<>")
            if "@" in address:
                return address
    return ""


def _dsn_findings(msg: Message) -> list[Finding]:
    findings = []
    for part in msg.walk():
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        for block in _status_blocks(part)[1:] or _status_blocks(part):
            address = _recipient(block)
            action = str(block.get("Action", "")).strip().lower()
            if not address or not action:
                continue
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
            status = (enhanced_status(str(block.get("Status", ""))) or enhanced_status(diagnostic) or
                      ("5.0.0" if action.startswith(("fail", "error")) else "4.0.0"))
            if action.startswith(("fail", "error")):  # opensmtpd says "error"
                kind = classify_status(status)
            elif action.startswith("delayed"):
                kind = SOFT
            elif action.startswith(("delivered", "relayed", "expanded")):
                kind = "delivered"
            else:
                continue
            findings.append(Finding(kind, address, status, diagnostic))
    return findings


def _arf_findings(msg: Message, original: Message | None) -> list[Finding]:
    feedback = "abuse"
    recipients: list[str] = []
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            blocks = _status_blocks(part)
            fields = blocks[0] if blocks else Message()
            feedback = str(fields.get("Feedback-Type", "abuse")).strip().lower() or "abuse"
            recipients += _addresses(fields.get_all("Original-Rcpt-To") or [])
    if original is not None:
        recipients += _addresses(original.get_all("To") or [])
    kind = "delivered" if feedback == "not-spam" else "complaint"  # not-spam: a complaint withdrawn
    return [Finding(kind, address, feedback) for address in recipients] or [Finding(kind, "", feedback)]


def _flufl_findings(msg: Message) -> list[Finding]:
    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # nosec B112 - a detector crashing on odd mail means "not recognised", nothing more
        return []
    found = [Finding(HARD, a.decode("ascii", "replace"), "5.0.0", "non-standard bounce") for a in permanent]
    found += [Finding(SOFT, a.decode("ascii", "replace"), "4.0.0", "non-standard bounce (temporary)")
              for a in temporary if a not in permanent]
    return found


def _is_auto_reply(msg: Message) -> bool:
    # RFC 3834 section 5: any Auto-Submitted other than "no"; and the headers common responders add.
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if any(msg.get(name) for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")):
        return True
    if str(msg.get("Precedence", "")).strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.match(_decoded(msg.get("Subject"))))


def _body_text(msg: Message, limit: int = 64 * 1024) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                return raw[:limit].decode(part.get_content_charset() or "utf-8", "replace")
    return ""


def parse_report(raw: bytes, *, return_path: str, envelope_to: list[str] | tuple[str, ...] = ()) -> Report:
    """Classify one incoming message and collect what ties it to what we sent (nothing is trusted yet)."""
    report = Report("unrecognised", key=hashlib.sha256(raw).hexdigest()[:40])
    if len(raw) > MAX_MESSAGE:
        report.why = f"larger than {MAX_MESSAGE // (1024 * 1024)} MB"
        return report
    msg = email.message_from_bytes(raw)
    recipients = list(envelope_to) + _addresses(
        [v for name in _RECIPIENT_HEADERS for v in (msg.get_all(name) or [])])
    tagged_unsubscribe = False
    for address in recipients:
        token = find_token(address, return_path)
        if token is not None and token not in report.tokens:
            report.tokens.append(token)
        local = address.lower().rpartition("@")[0]
        if local.endswith("+" + UNSUBSCRIBE_TAG) and local.startswith(return_path.lower().rpartition("@")[0] + "+"):
            tagged_unsubscribe = True
    original = _returned_original(msg)
    if original is not None:
        for value in original.get_all("Message-ID") or []:
            for match in OUR_MESSAGE_ID.finditer(str(value)):
                report.message_ids.append((int(match.group(1)), match.group(0)))
        for value in original.get_all("List-Unsubscribe") or []:
            report.unsubscribe_tokens += _UNSUBSCRIBE_URL.findall(str(value))
        for value in original.get_all("Return-Path") or []:
            token = find_token(str(value), return_path)
            if token is not None and token not in report.tokens:
                report.tokens.append(token)
        report.original_to = _addresses(original.get_all("To") or [])
    ctype = msg.get_content_type()
    report_type = str(msg.get_param("report-type", "") or "").lower() if ctype == "multipart/report" else ""
    if report_type == "delivery-status" or any(
            p.get_content_type() == "message/delivery-status" for p in msg.walk()):
        report.findings = _dsn_findings(msg)
        report.category = "dsn" if report.findings else "unrecognised"
        report.why = "" if report.findings else "a delivery report naming no recipient"
        return report
    if report_type == "feedback-report":
        report.category = "complaint"
        report.findings = _arf_findings(msg, original)
        return report
    if report_type == "disposition-notification":
        report.category = "auto-reply"  # a read receipt (RFC 8098)
        return report
    subject = _decoded(msg.get("Subject"))
    asked = _UNSUBSCRIBE_SUBJECT.findall(subject) or (
        _UNSUBSCRIBE_SUBJECT.findall(_body_text(msg)) if tagged_unsubscribe else [])
    if asked and not _is_auto_reply(msg):
        report.category = "unsubscribe"
        report.unsubscribe_tokens = asked
        return report
    if report.tokens or report.message_ids:
        findings = _flufl_findings(msg)
        if findings:
            report.category, report.findings = "bounce", findings
            return report
    if _is_auto_reply(msg):
        report.category = "auto-reply"
        return report
    report.why = "not a bounce, complaint, unsubscribe or auto-reply"
    return report


def worst(findings: list[Finding]) -> Finding | None:
    """The finding that matters most: hard over soft over refused over delivered."""
    return max(findings, key=lambda f: _RANK.get(f.kind, 0), default=None)
