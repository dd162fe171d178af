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
import logging
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header

from digest.back.mime import Headers, Part, headers_of, leaves, split_head
from digest.back.policy import HARD, REFUSED, SOFT, classify_reply, enhanced_status
from digest.core.verp import UNSUBSCRIBE_TAG, VerpToken, find_token

__all__ = ["Finding", "Report", "parse_report", "worst", "MAX_MESSAGE", "OUR_MESSAGE_ID", "COMPLAINT_TYPES"]

MAX_MESSAGE = 10 * 1024 * 1024  # larger mail is no bounce we need to read; it is left alone
# Bounds on what one message can make us look at: a real report names one or two of each. A hostile
# message listing thousands must cost no more than these (every one may become a store lookup).
MAX_ADDRESSES = 100
MAX_IDS = 20
MAX_FINDINGS = 100
_MAX_FLUFL = 2 * 1024 * 1024  # the full parser flufl.bounce needs is slow on big messages
# At most 9 digits: a hostile number must stay inside PostgreSQL's INTEGER when it is looked up.
OUR_MESSAGE_ID = re.compile(r"<digest\.(\d{1,9})\.([0-9a-f]{24})@[^>\s]+>")
# RFC 5965 section 7.3 and RFC 6591: only a person's report on our message is a complaint; an
# auth-failure (DMARC) report, a virus report or "other" is about our setup or theirs, for a human.
COMPLAINT_TYPES = ("abuse", "fraud")
_UNSUBSCRIBE_URL = re.compile(r"/u/([A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,})")
_UNSUBSCRIBE_SUBJECT = re.compile(r"\bunsubscribe\s+([A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,})", re.IGNORECASE)
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_AUTO_SUBJECT = re.compile(r"^\s*(out of (the )?office|automatic reply|auto[- ]?reply|autoresponse|vacation|"
                           r"abwesenheit|absence|r[ée]ponse automatique|away from)", re.IGNORECASE)
_BLANK_LINE = re.compile(r"\r?\n\s*\r?\n")
_RANK = {HARD: 4, SOFT: 3, REFUSED: 2, "delayed": 1, "delivered": 1}
_ADDRESS = re.compile(r"[^\s<>(),;:\"']+@[^\s<>(),;:\"']+")

logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())
logging.getLogger("flufl.bounce").propagate = False  # its detectors log tracebacks of odd mail: not ours to print


@dataclass(frozen=True, slots=True)
class Finding:
    """One recipient's fate as a report tells it."""

    kind: str  # hard | soft | refused | delayed | delivered | complaint
    email: str  # as the report names it (may differ from ours after forwarding)
    status: str = ""  # RFC 3463 code, or a complaint's feedback type
    diagnostic: str = ""  # the remote server's words
    original: str = ""  # the DSN's Original-Recipient, when it names another address than `email`


@dataclass
class Report:
    """What one incoming message is, and what in it can tie it to a message we sent."""

    category: str  # dsn | bounce | complaint | unsubscribe | auto-reply | unrecognised
    findings: list[Finding] = field(default_factory=list)
    tokens: list[VerpToken] = field(default_factory=list)  # VERP tokens it was addressed to
    unsubscribe_tokens: list[str] = field(default_factory=list)  # signed /u/ tokens in it or its subject
    message_ids: list[tuple[int, str]] = field(default_factory=list)  # (issue, Message-ID) of ours it returns
    original_to: list[str] = field(default_factory=list)  # To of the returned original
    senders: list[str] = field(default_factory=list)  # From of the message (an auto-reply's reader)
    key: str = ""  # the same message read twice has the same key
    why: str = ""  # for unrecognised mail: why not


def _decoded(value: str | None) -> str:
    if value and "=?" not in value:
        return value
    if not value:
        return ""
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return str(value)


def _addresses(values: list[str], limit: int = MAX_ADDRESSES) -> list[str]:
    """Addresses in To-like headers, each once, at most `limit` (every one is checked against the store)."""
    found: dict[str, None] = {}
    for value in values:
        for match in _ADDRESS.finditer(str(value)):
            found[match.group(0).rstrip(".")] = None
            if len(found) >= limit:
                return list(found)
    return list(found)


def _returned_original(parts: list[Part]) -> Headers | None:
    """The headers of the original message a report carries."""
    for part in parts:
        if part.ctype in ("message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers",
                          "text/global-headers"):
            return headers_of(split_head(part.body)[0])
    return None


def _blocks(body: bytes) -> list[Headers]:
    """The header blocks of a message/delivery-status (or feedback-report) part, at most MAX_FINDINGS + 1."""
    text = body.decode("utf-8", "replace")
    chunks = _BLANK_LINE.split(text, maxsplit=MAX_FINDINGS + 1)[:MAX_FINDINGS + 1]
    return [Headers(chunk.strip()) for chunk in chunks if chunk.strip()]


def _address_in(value: str) -> str:
    kind, sep, address = str(value).partition(";")
    address = (address if sep else kind).strip().strip("<>")
    return address if "@" in address else ""


def _dsn_findings(parts: list[Part]) -> list[Finding]:
    findings: list[Finding] = []
    for part in parts:
        if part.ctype not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        blocks = _blocks(part.body)
        for block in blocks[1:] or blocks:
            final = _address_in(block.get("Final-Recipient")) or _address_in(block.get("X-Actual-Recipient"))
            original = _address_in(block.get("Original-Recipient"))
            address = final or original
            action = str(block.get("Action", "")).strip().lower()
            if not address or not action:
                continue
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
            status = enhanced_status(str(block.get("Status", "")))
            if action.startswith(("fail", "error")):  # opensmtpd says "error"
                # Exim writes 5.0.0 in every DSN; the remote server's own code and words decide then.
                kind, status = classify_reply(status or "5.0.0", diagnostic)
            elif action.startswith("delayed"):
                kind, status = "delayed", status or enhanced_status(diagnostic) or "4.0.0"  # never counted
            elif action.startswith(("delivered", "relayed", "expanded")):
                kind, status = "delivered", status or "2.0.0"
            else:
                continue
            other = original if original and original.lower() != address.lower() else ""
            findings.append(Finding(kind, address, status, diagnostic, other))
            if len(findings) >= MAX_FINDINGS:
                return findings
    return findings


def _feedback_type(parts: list[Part]) -> tuple[str, list[str]]:
    """The ARF report's Feedback-Type and the recipients it names."""
    for part in parts:
        if part.ctype == "message/feedback-report":
            blocks = _blocks(part.body)
            fields = blocks[0] if blocks else Headers("")
            feedback = str(fields.get("Feedback-Type", "abuse")).strip().lower()[:40] or "abuse"
            return feedback, _addresses(fields.get_all("Original-Rcpt-To"))
    return "abuse", []


def _arf_findings(feedback: str, recipients: list[str], original: Headers | None) -> list[Finding]:
    if original is not None:
        recipients = list(dict.fromkeys(recipients + _addresses(original.get_all("To"))))[:MAX_ADDRESSES]
    kind = "delivered" if feedback == "not-spam" else "complaint"  # not-spam: a complaint withdrawn
    return [Finding(kind, address, feedback) for address in recipients] or [Finding(kind, "", feedback)]


def _flufl_findings(raw: bytes, text: str) -> list[Finding]:
    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(email.message_from_bytes(raw))
    except Exception:  # nosec B112 - a detector crashing on odd mail means "not recognised", nothing more
        return []
    found = []
    for address in sorted(permanent)[:MAX_ADDRESSES]:
        # flufl.bounce names the address, not the reason: the words after it in the bounce say why
        # (qmail: "Sorry, no mailbox here by that name. (#5.1.1)"); with none, it only counts as soft.
        email_address = address.decode("ascii", "replace")
        words = _words_after(text, email_address)
        kind, status = classify_reply("5.0.0", words)
        found.append(Finding(kind, email_address, status, words or "non-standard bounce (permanent)"))
    found += [Finding(SOFT, a.decode("ascii", "replace"), "4.0.0", "non-standard bounce (temporary)")
              for a in sorted(temporary)[:MAX_ADDRESSES] if a not in permanent]
    return found


def _words_after(text: str, address: str) -> str:
    """The server's words that follow an address in a plain bounce, up to the copy of the message."""
    index = text.lower().find(address.lower())
    if index < 0:
        return ""
    lines = []
    for line in text[index + len(address):index + len(address) + 600].splitlines()[:6]:
        if line.strip().startswith("---"):
            break
        lines.append(line.strip(" >:<"))
    return " ".join(" ".join(lines).split())


def _is_auto_reply(msg: Headers) -> bool:
    # RFC 3834 section 5: any Auto-Submitted other than "no"; and the headers common responders add.
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if any(msg.get(name) for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")):
        return True
    if str(msg.get("Precedence", "")).strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.match(_decoded(msg.get("Subject"))))


def _body_text(parts: list[Part], limit: int = 64 * 1024) -> str:
    for part in parts:
        if part.ctype == "text/plain":
            return part.body[:limit].decode(part.headers.get_content_charset() or "utf-8", "replace")
    return ""


def _our_message_ids(values: list[str]) -> list[tuple[int, str]]:
    found: dict[str, int] = {}
    for value in values:
        for match in OUR_MESSAGE_ID.finditer(str(value)):
            found.setdefault(match.group(0), int(match.group(1)))
            if len(found) >= MAX_IDS:
                return [(issue, mid) for mid, issue in found.items()]
    return [(issue, mid) for mid, issue in found.items()]


def _tokens(addresses: list[str], return_path: str) -> list[VerpToken]:
    found: dict[VerpToken, None] = {}
    for address in addresses:
        token = find_token(address, return_path)
        if token is not None:
            found[token] = None
            if len(found) >= MAX_IDS:
                break
    return list(found)


def parse_report(raw: bytes, *, return_path: str, envelope_to: list[str] | tuple[str, ...] = ()) -> Report:
    """Classify one incoming message and collect what ties it to what we sent (nothing is trusted yet).

    Bounded: at most MAX_ADDRESSES addresses, MAX_IDS tokens and Message-IDs, MAX_FINDINGS
    recipients and MAX_PARTS MIME parts are looked at, whatever the message holds.
    """
    report = Report("unrecognised", key=hashlib.sha256(raw).hexdigest()[:40])
    if len(raw) > MAX_MESSAGE:
        report.why = f"larger than {MAX_MESSAGE // (1024 * 1024)} MB"
        return report
    head, body = split_head(raw)
    msg = headers_of(head)
    parts, too_many = leaves(msg, body)
    recipients = _addresses(list(envelope_to)[:MAX_ADDRESSES] +
                            [v for name in _RECIPIENT_HEADERS for v in msg.get_all(name)])
    report.tokens = _tokens(recipients, return_path)
    base_local = return_path.lower().rpartition("@")[0]
    tagged_unsubscribe = any(a.lower().rpartition("@")[0] == f"{base_local}+{UNSUBSCRIBE_TAG}" for a in recipients)
    report.senders = _addresses(msg.get_all("From"), limit=5)
    # An auto-reply names the message it answers (RFC 3834 section 3.1.5).
    report.message_ids = _our_message_ids(msg.get_all("In-Reply-To") + msg.get_all("References"))
    if too_many:
        report.why = "a message of more MIME parts than any report has"
        return report
    original = _returned_original(parts)
    if original is not None:
        report.message_ids = _our_message_ids(original.get_all("Message-ID") + [mid for _, mid in report.message_ids])
        report.unsubscribe_tokens = list(dict.fromkeys(
            t for value in original.get_all("List-Unsubscribe")
            for t in _UNSUBSCRIBE_URL.findall(str(value))))[:MAX_IDS]
        report.tokens = list(dict.fromkeys(
            report.tokens + _tokens(_addresses(original.get_all("Return-Path")), return_path)))[:MAX_IDS]
        report.original_to = _addresses(original.get_all("To"))
    ctype = msg.get_content_type()
    report_type = msg.get_param("report-type").lower() if ctype == "multipart/report" else ""
    types = {part.ctype for part in parts}
    if report_type == "delivery-status" or "message/delivery-status" in types:
        report.findings = _dsn_findings(parts)
        report.category = "dsn" if report.findings else "unrecognised"
        report.why = "" if report.findings else "a delivery report naming no recipient"
        return report
    if report_type == "feedback-report" or "message/feedback-report" in types:
        feedback, named = _feedback_type(parts)
        if feedback not in COMPLAINT_TYPES and feedback != "not-spam":
            report.why = f"a feedback report of type {feedback}, not a complaint: for a human"
            return report
        report.category = "complaint"
        report.findings = _arf_findings(feedback, named, original)
        return report
    if report_type == "disposition-notification":
        report.category = "auto-reply"  # a read receipt (RFC 8098)
        return report
    subject = _decoded(msg.get("Subject"))
    asked = _UNSUBSCRIBE_SUBJECT.findall(subject) or (
        _UNSUBSCRIBE_SUBJECT.findall(_body_text(parts)) if tagged_unsubscribe else [])
    if asked and not _is_auto_reply(msg):
        report.category = "unsubscribe"
        report.unsubscribe_tokens = list(dict.fromkeys(asked))[:MAX_IDS]
        return report
    if _looks_like_a_bounce(msg, head) and len(raw) <= _MAX_FLUFL:
        findings = _flufl_findings(raw, _body_text(parts))
        if findings:
            report.category, report.findings = "bounce", findings
            return report
    if _is_auto_reply(msg):
        report.category = "auto-reply"
        return report
    report.why = "not a bounce, complaint, unsubscribe or auto-reply"
    return report


def _looks_like_a_bounce(msg: Headers, head: bytes) -> bool:
    """A non-standard bounce comes from the mail system: the mailer daemon or postmaster, naming failed
    recipients, or with a null return path and no auto-reply header; a person's reply never does."""
    sender = str(msg.get("From", "")).lower()
    if msg.get("X-Failed-Recipients") or "mailer-daemon" in sender or "postmaster" in sender:
        return True
    return msg.get("Return-Path").strip() == "<>" and not _is_auto_reply(msg)


def worst(findings: list[Finding]) -> Finding | None:
    """The finding that matters most: hard over soft over refused over delayed and delivered."""
    return max(findings, key=lambda f: _RANK.get(f.kind, 0), default=None)
