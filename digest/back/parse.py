"""Reading what comes back: delivery status notifications, other bounces, complaints, unsubscribes, auto-replies.

Pure functions over message bytes; nothing here touches the store. The kind
of a message is told by its report type and content, never by
`Auto-Submitted` alone: real DSNs carry `Auto-Submitted: auto-replied` too
(Postfix's do), exactly like a vacation message.

* RFC 3464 DSN (`multipart/report; report-type=delivery-status`): each
  per-recipient block's Action, and the remote server's own words and code
  over its Status (`digest.back.reasons`, `policy.classify_reply`); also
  when the boundary does not match (the fields are found in the raw body).
* RFC 5965 ARF (`report-type=feedback-report`): a complaint (`abuse`,
  `fraud`), an unsubscribe (`opt-out`), a withdrawn complaint (`not-spam`);
  other types are for a human.
* Amazon SES notifications by mail, non-ARF complaints, and the plain notices
  of every mail system (`digest.back.notices`, `digest.back.plain`); what
  none of those places, flufl.bounce as the last resort.
* Mail to the List-Unsubscribe mailto address, or whose subject is
  `unsubscribe TOKEN`: an unsubscribe.
* RFC 3834 auto-replies (vacation, out of office) and read receipts: ignored.
"""

from __future__ import annotations

import email
import hashlib
import logging
import re
from dataclasses import dataclass, field, replace
from email.header import decode_header, make_header

from digest.back.finding import Finding, block_finding
from digest.back.mime import Headers, Part, headers_of, leaves, split_head
from digest.back.notices import (
    complaint_findings,
    looks_like_a_bounce,
    notice_of,
    plain_findings,
    ses_findings,
    with_notice_words,
)
from digest.back.plain import embedded_fields, inline_copy
from digest.back.policy import HARD, REFUSED, SOFT, classify_reply
from digest.back.reasons import AFTER_DATA, reason_of
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
# A reader's "unsubscribe me" sent through the provider's feedback loop: the one-click unsubscribe, by mail.
OPT_OUT_TYPES = ("opt-out", "unsubscribe")
_UNSUBSCRIBE_URL = re.compile(r"/u/([A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,})")
_UNSUBSCRIBE_SUBJECT = re.compile(r"\bunsubscribe\s+([A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,})", re.IGNORECASE)
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_AUTO_SUBJECT = re.compile(r"^\s*(out of (the )?office|automatic reply|auto[- ]?reply|autoresponse|vacation|"
                           r"abwesenheit|absence|r[ée]ponse automatique|away from)", re.IGNORECASE)
_BLANK_LINE = re.compile(r"\r?\n\s*\r?\n")
_RANK = {HARD: 4, SOFT: 3, REFUSED: 2, "delayed": 1, "delivered": 1}
# Bounded on both sides of the "@": a header of a million letters without one costs linear time (an
# unbounded `[^…]+@` retries from every position: quadratic, minutes for one hostile 200 KB header).
_ADDRESS = re.compile(r"[^\s<>(),;:\"'@]{1,64}@[^\s<>(),;:\"']{1,255}")

logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())
logging.getLogger("flufl.bounce").propagate = False  # its detectors log tracebacks of odd mail: not ours to print


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


def _dsn_findings(parts: list[Part]) -> list[Finding]:
    findings: list[Finding] = []
    for part in parts:
        if part.ctype not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        blocks = _blocks(part.body)
        if any(len(block.get_all("Final-Recipient")) > 1 for block in blocks):
            # Recipients not parted by blank lines (AOL): split at each Final-Recipient instead.
            blocks = [Headers("")] + embedded_fields(part.body.decode("utf-8", "replace"))
        for block in blocks[1:] or blocks:
            finding = block_finding(block)
            if finding is not None:
                findings.append(finding)
            if len(findings) >= MAX_FINDINGS:
                return findings
    return findings


def _field_findings(text: str) -> list[Finding]:
    """Per-recipient fields found anywhere in a text: a DSN whose MIME boundary does not match its header's,
    or RFC 3464 fields written into a plain notice (Amazon WorkMail)."""
    findings = [f for f in map(block_finding, embedded_fields(text)) if f is not None]
    return findings[:MAX_FINDINGS]


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
    return _classify(report, msg, parts, original, raw=raw, body=body, return_path=return_path,
                     tagged_unsubscribe=tagged_unsubscribe)


def _classify(report: Report, msg: Headers, parts: list[Part], original: Headers | None, *, raw: bytes, body: bytes,
              return_path: str, tagged_unsubscribe: bool) -> Report:
    """What the message is, by what it holds: a report type, a notice's shape, a subject — in that order."""
    ctype = msg.get_content_type()
    report_type = msg.get_param("report-type").lower() if ctype == "multipart/report" else ""
    types = {part.ctype for part in parts}
    subject = _decoded(msg.get("Subject"))
    if report_type == "delivery-status" or "message/delivery-status" in types:
        # A DSN whose MIME boundary does not match its header's hides its fields in one big part.
        report.findings = _dsn_findings(parts) or _field_findings(body.decode("utf-8", "replace")[:256 * 1024])
        if report.findings:
            report.category = "dsn"
            notice = notice_of(parts)
            if len(report.original_to) == 1:
                # A Final-Recipient without its local part (sendmail's "@mx.example.org"): the one
                # recipient of the returned original is meant.
                report.findings = [replace(f, email=report.original_to[0]) if f.email.startswith("@") else f
                                   for f in report.findings]
            report.findings = _after_data(with_notice_words(report.findings, notice), notice)
            return report
    if report_type == "feedback-report" or "message/feedback-report" in types:
        return _feedback(report, parts, original)
    if report_type == "disposition-notification":
        report.category = "auto-reply"  # a read receipt (RFC 8098)
        return report
    text = notice_of(parts)
    ses = ses_findings(text) if '"notificationType"' in text else None
    if ses is not None:
        report.category, report.findings, ids = ses
        report.message_ids = list(dict.fromkeys(report.message_ids + _our_message_ids(ids)))[:MAX_IDS]
        return report
    asked = _UNSUBSCRIBE_SUBJECT.findall(subject) or (
        _UNSUBSCRIBE_SUBJECT.findall(_body_text(parts)) if tagged_unsubscribe else [])
    if asked and not _is_auto_reply(msg):
        report.category = "unsubscribe"
        report.unsubscribe_tokens = list(dict.fromkeys(asked))[:MAX_IDS]
        return report
    complaint = complaint_findings(msg, subject, parts, original)
    if complaint:
        report.category, report.findings = "complaint", complaint
        return report
    auto_subject = bool(_AUTO_SUBJECT.match(subject))
    if looks_like_a_bounce(msg, subject, auto_subject=auto_subject) or "message/delivery-status" in types:
        if original is None:  # a single-part notice quotes the original after its marker line
            quoted = headers_of(inline_copy(_body_text(parts)))
            report.original_to = _addresses(quoted.get_all("To"))
            report.message_ids = list(dict.fromkeys(
                report.message_ids + _our_message_ids(quoted.get_all("Message-ID"))))[:MAX_IDS]
        exclude = {a.lower() for a in report.senders + (_addresses(original.get_all("From")) if original else [])}
        exclude |= {return_path.lower()} | {a.lower() for a in _addresses(msg.get_all("To"))}
        findings = plain_findings(text, exclude=exclude, wanted=report.original_to, subject=subject)
        if not findings and len(raw) <= _MAX_FLUFL:
            findings = _flufl_findings(raw, _body_text(parts))
        if findings:
            report.category, report.findings = "bounce", findings
            return report
        if "message/delivery-status" in types:
            report.why = "a delivery report naming no recipient"
            return report
    if _is_auto_reply(msg):
        report.category = "auto-reply"
        return report
    report.why = "not a bounce, complaint, unsubscribe or auto-reply"
    return report


def _after_data(findings: list[Finding], notice: str) -> list[Finding]:
    """An unknown user the notice says was answered after DATA (Postfix: "in reply to end of DATA command";
    sendmail's transcript: ">>> DATA") is a filter at the recipient's, not a dead address."""
    if not AFTER_DATA.search(notice):
        return findings
    paragraphs = [p for p in _BLANK_LINE.split(notice) if AFTER_DATA.search(p)]
    result = []
    for finding in findings:
        told = len(findings) == 1 or any(finding.email.lower() in p.lower() for p in paragraphs)
        filtered = reason_of(finding.diagnostic, after_data=True, code=finding.status) == "filtered"
        if finding.kind == HARD and told and filtered:
            finding = replace(finding, kind=SOFT, diagnostic=f"{finding.diagnostic} (after DATA: a filter)")
        result.append(finding)
    return result


def _feedback(report: Report, parts: list[Part], original: Headers | None) -> Report:
    """An ARF report: a complaint, an opt-out (an unsubscribe from the list of our message), or for a human."""
    feedback, named = _feedback_type(parts)
    if feedback in OPT_OUT_TYPES:
        report.category = "unsubscribe"
        report.findings = [Finding("unsubscribe", address, feedback) for address in named]
        return report
    if feedback not in COMPLAINT_TYPES and feedback != "not-spam":
        report.why = f"a feedback report of type {feedback}, not a complaint: for a human"
        return report
    report.category = "complaint"
    report.findings = _arf_findings(feedback, named, original)
    return report


def worst(findings: list[Finding]) -> Finding | None:
    """The finding that matters most: hard over soft over refused over delayed and delivered."""
    return max(findings, key=lambda f: _RANK.get(f.kind, 0), default=None)
