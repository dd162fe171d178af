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

import base64
import binascii
import email
import hashlib
import quopri
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header

from digest.back.policy import HARD, REFUSED, SOFT, classify_status, enhanced_status
from digest.back.verp import UNSUBSCRIBE_TAG, VerpToken, find_token

__all__ = ["Finding", "Report", "parse_report", "worst", "MAX_MESSAGE", "OUR_MESSAGE_ID"]

MAX_MESSAGE = 10 * 1024 * 1024  # larger mail is no bounce we need to read; it is left alone
# At most 9 digits: a hostile number must stay inside PostgreSQL's INTEGER when it is looked up.
OUR_MESSAGE_ID = re.compile(r"<digest\.(\d{1,9})\.([0-9a-f]{24})@[^>\s]+>")
_UNSUBSCRIBE_URL = re.compile(r"/u/([A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,})")
_UNSUBSCRIBE_SUBJECT = re.compile(r"\bunsubscribe\s+([A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,})", re.IGNORECASE)
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_AUTO_SUBJECT = re.compile(r"^\s*(out of (the )?office|automatic reply|auto[- ]?reply|autoresponse|vacation|"
                           r"abwesenheit|absence|r[ée]ponse automatique|away from)", re.IGNORECASE)
_PARAM = re.compile(r';\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]+)')
_BLANK_LINE = re.compile(r"\r?\n\s*\r?\n")
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
    if value and "=?" not in value:
        return value
    if not value:
        return ""
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return str(value)


_ADDRESS = re.compile(r"[^\s<>(),;:\"']+@[^\s<>(),;:\"']+")


def _addresses(values: list[str]) -> list[str]:
    # Addresses in To-like headers; a plain scan is enough here (every result is checked against the store).
    return [a.rstrip(".") for value in values for a in _ADDRESS.findall(str(value))]


@dataclass(frozen=True, slots=True)
class _Part:
    """One leaf of a MIME tree: its content type, headers and decoded body."""

    ctype: str
    headers: _Headers
    body: bytes


class _Headers:
    """A header block, read the simple way: the full parser costs most of the time of a bounce run."""

    __slots__ = ("_fields",)

    def __init__(self, text: str) -> None:
        fields: dict[str, list[str]] = {}
        last: list[str] | None = None
        for line in text.splitlines():
            if not line.strip():
                break
            if line[0] in " \t":
                if last is not None:
                    last[-1] += " " + line.strip()  # RFC 5322 2.2.3 unfolding
                continue
            name, sep, value = line.partition(":")
            if not sep:
                continue
            last = fields.setdefault(name.strip().lower(), [])
            last.append(value.strip())
        self._fields = fields

    def get(self, name: str, default: str = "") -> str:
        """The first value of a field."""
        values = self._fields.get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        """Every value of a field."""
        return self._fields.get(name.lower(), [])

    def get_content_type(self) -> str:
        """`type/subtype`, text/plain by default (RFC 2045 5.2)."""
        value = self.get("Content-Type").partition(";")[0].strip().lower()
        return value if value.count("/") == 1 else "text/plain"

    def get_content_maintype(self) -> str:
        """The type before the slash."""
        return self.get_content_type().partition("/")[0]

    def get_param(self, name: str) -> str:
        """A Content-Type parameter (plain or quoted; RFC 2231 continuations are not used by reports)."""
        for match in _PARAM.finditer(self.get("Content-Type")):
            if match.group(1).lower() == name:
                quoted = match.group(2)
                return quoted[1:-1].replace('\\"', '"') if quoted.startswith('"') else quoted
        return ""

    def get_boundary(self) -> str | None:
        """The multipart boundary."""
        return self.get_param("boundary") or None

    def get_content_charset(self) -> str | None:
        """The charset parameter."""
        return self.get_param("charset").lower() or None


def _headers(block: bytes | str) -> _Headers:
    return _Headers(block.decode("utf-8", "replace") if isinstance(block, bytes) else block)


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = data.find(separator)
        if index >= 0:
            return data[:index + len(separator) // 2], data[index + len(separator):]
    return data, b""


def _decode(headers: _Headers, body: bytes) -> bytes:
    encoding = str(headers.get("Content-Transfer-Encoding", "")).strip().lower()
    try:
        if encoding == "base64":
            return base64.b64decode(body, validate=False)
        if encoding == "quoted-printable":
            return quopri.decodestring(body)
    except (ValueError, binascii.Error):
        return body
    return body


def _leaves(headers: _Headers, body: bytes, depth: int = 0) -> list[_Part]:
    """The parts of a message, found by splitting at its boundaries: far cheaper than the full parser,
    which compiles a new regular expression for every boundary it meets."""
    ctype = headers.get_content_type()
    if headers.get_content_maintype() != "multipart" or depth > 5:
        return [_Part(ctype, headers, _decode(headers, body))]
    boundary = headers.get_boundary()
    if not boundary:
        return [_Part(ctype, headers, body)]
    parts: list[_Part] = []
    chunks = (b"\n" + body).split(b"\n--" + boundary.encode("ascii", "replace"))
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # the close delimiter
        chunk = chunk.partition(b"\n")[2]  # the rest of the delimiter line
        if chunk.endswith(b"\r"):
            chunk = chunk[:-1]  # the CR of the CRLF before the next delimiter
        head, inner = _split_head(chunk)
        part_headers = _headers(head)
        if part_headers.get_content_maintype() == "multipart":
            parts += _leaves(part_headers, inner, depth + 1)
        else:
            parts.append(_Part(part_headers.get_content_type(), part_headers, _decode(part_headers, inner)))
    return parts


def _returned_original(parts: list[_Part]) -> _Headers | None:
    """The headers of the original message a report carries."""
    for part in parts:
        if part.ctype in ("message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers",
                          "text/global-headers"):
            return _headers(_split_head(part.body)[0])
    return None


def _blocks(body: bytes) -> list[_Headers]:
    """The header blocks of a message/delivery-status (or feedback-report) part."""
    text = body.decode("utf-8", "replace")
    return [_Headers(chunk.strip()) for chunk in _BLANK_LINE.split(text) if chunk.strip()]


def _recipient(block: _Headers) -> str:
    for name in ("Final-Recipient", "Original-Recipient", "X-Actual-Recipient"):
        value = block.get(name)
        if value:
            kind, _, address = str(value).partition(";")
            address = (address if _ else kind).strip().strip("<>")
            if "@" in address:
                return address
    return ""


def _dsn_findings(parts: list[_Part]) -> list[Finding]:
    findings = []
    for part in parts:
        if part.ctype not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        blocks = _blocks(part.body)
        for block in blocks[1:] or blocks:
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


def _arf_findings(parts: list[_Part], original: _Headers | None) -> list[Finding]:
    feedback = "abuse"
    recipients: list[str] = []
    for part in parts:
        if part.ctype == "message/feedback-report":
            blocks = _blocks(part.body)
            fields = blocks[0] if blocks else _Headers("")
            feedback = str(fields.get("Feedback-Type", "abuse")).strip().lower() or "abuse"
            recipients += _addresses(fields.get_all("Original-Rcpt-To"))
    if original is not None:
        recipients += _addresses(original.get_all("To"))
    kind = "delivered" if feedback == "not-spam" else "complaint"  # not-spam: a complaint withdrawn
    return [Finding(kind, address, feedback) for address in recipients] or [Finding(kind, "", feedback)]


def _flufl_findings(raw: bytes) -> list[Finding]:
    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(email.message_from_bytes(raw))
    except Exception:  # nosec B112 - a detector crashing on odd mail means "not recognised", nothing more
        return []
    found = [Finding(HARD, a.decode("ascii", "replace"), "5.0.0", "non-standard bounce") for a in permanent]
    found += [Finding(SOFT, a.decode("ascii", "replace"), "4.0.0", "non-standard bounce (temporary)")
              for a in temporary if a not in permanent]
    return found


def _is_auto_reply(msg: _Headers) -> bool:
    # RFC 3834 section 5: any Auto-Submitted other than "no"; and the headers common responders add.
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if any(msg.get(name) for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")):
        return True
    if str(msg.get("Precedence", "")).strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.match(_decoded(msg.get("Subject"))))


def _body_text(parts: list[_Part], limit: int = 64 * 1024) -> str:
    for part in parts:
        if part.ctype == "text/plain":
            return part.body[:limit].decode(part.headers.get_content_charset() or "utf-8", "replace")
    return ""


def parse_report(raw: bytes, *, return_path: str, envelope_to: list[str] | tuple[str, ...] = ()) -> Report:
    """Classify one incoming message and collect what ties it to what we sent (nothing is trusted yet)."""
    report = Report("unrecognised", key=hashlib.sha256(raw).hexdigest()[:40])
    if len(raw) > MAX_MESSAGE:
        report.why = f"larger than {MAX_MESSAGE // (1024 * 1024)} MB"
        return report
    head, body = _split_head(raw)
    msg = _headers(head)
    parts = _leaves(msg, body)
    recipients = list(envelope_to) + _addresses(
        [v for name in _RECIPIENT_HEADERS for v in (msg.get_all(name))])
    base_local = return_path.lower().rpartition("@")[0]
    tagged_unsubscribe = False
    for address in recipients:
        token = find_token(address, return_path)
        if token is not None and token not in report.tokens:
            report.tokens.append(token)
        if address.lower().rpartition("@")[0] == f"{base_local}+{UNSUBSCRIBE_TAG}":
            tagged_unsubscribe = True
    original = _returned_original(parts)
    if original is not None:
        for value in original.get_all("Message-ID"):
            for match in OUR_MESSAGE_ID.finditer(str(value)):
                report.message_ids.append((int(match.group(1)), match.group(0)))
        for value in original.get_all("List-Unsubscribe"):
            report.unsubscribe_tokens += _UNSUBSCRIBE_URL.findall(str(value))
        for value in original.get_all("Return-Path"):
            token = find_token(str(value), return_path)
            if token is not None and token not in report.tokens:
                report.tokens.append(token)
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
        report.category = "complaint"
        report.findings = _arf_findings(parts, original)
        return report
    if report_type == "disposition-notification":
        report.category = "auto-reply"  # a read receipt (RFC 8098)
        return report
    subject = _decoded(msg.get("Subject"))
    asked = _UNSUBSCRIBE_SUBJECT.findall(subject) or (
        _UNSUBSCRIBE_SUBJECT.findall(_body_text(parts)) if tagged_unsubscribe else [])
    if asked and not _is_auto_reply(msg):
        report.category = "unsubscribe"
        report.unsubscribe_tokens = asked
        return report
    if (report.tokens or report.message_ids) and not _is_auto_reply(msg) or _looks_like_a_bounce(msg):
        findings = _flufl_findings(raw)
        if findings:
            report.category, report.findings = "bounce", findings
            return report
    if _is_auto_reply(msg):
        report.category = "auto-reply"
        return report
    report.why = "not a bounce, complaint, unsubscribe or auto-reply"
    return report


def _looks_like_a_bounce(msg: _Headers) -> bool:
    """Bounces that also say Auto-Submitted (Exim's do): from the mailer daemon, or naming failed recipients."""
    sender = str(msg.get("From", "")).lower()
    return bool(msg.get("X-Failed-Recipients")) or "mailer-daemon" in sender or "postmaster" in sender


def worst(findings: list[Finding]) -> Finding | None:
    """The finding that matters most: hard over soft over refused over delivered."""
    return max(findings, key=lambda f: _RANK.get(f.kind, 0), default=None)
