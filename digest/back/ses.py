"""Amazon SES notifications that arrive by mail (SNS to an e-mail endpoint): bounces, complaints, deliveries.

The body is one JSON object (`notificationType` Bounce, Complaint or
Delivery). SNS mail wraps long lines with `!` and a newline plus a space;
those breaks are taken out before the JSON is read. Only what the object
says is used: the recipients, SES's own status and diagnostic, and the
original's Message-ID (our signed one ties the report to our message).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SesNotice", "read_ses"]

_WRAP = re.compile(r"!\r?\n ")
_MAX_JSON = 512 * 1024
_MAX_RECIPIENTS = 100


@dataclass
class SesNotice:
    """What one SES notification says: (kind, address, status, diagnostic) per recipient, the original's ids."""

    category: str  # bounce | complaint | delivery
    entries: list[tuple[str, str, str, str]] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    to: list[str] = field(default_factory=list)


def _object(text: str) -> dict[str, Any] | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start or end - start > _MAX_JSON or '"notificationType"' not in text:
        return None
    try:
        value = json.loads(_WRAP.sub("", text[start:end + 1]))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _strings(value: object) -> list[str]:
    return [str(v) for v in value[:_MAX_RECIPIENTS]] if isinstance(value, list) else []


def _original(mail: dict[str, Any]) -> tuple[list[str], list[str]]:
    ids, to = [], _strings(mail.get("destination"))
    for header in mail.get("headers") or []:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id":
            ids.append(str(header.get("value", "")))
    common = mail.get("commonHeaders")
    if isinstance(common, dict) and common.get("messageId"):
        ids.append(str(common["messageId"]))
    return ids[:20], to


def read_ses(text: str) -> SesNotice | None:
    """The SES notification in a message body, or None when the body is none."""
    value = _object(text)
    if value is None:
        return None
    kind = str(value.get("notificationType") or value.get("eventType") or "").lower()
    mail: dict[str, Any] = value["mail"] if isinstance(value.get("mail"), dict) else {}
    ids, to = _original(mail)
    if kind == "bounce" and isinstance(value.get("bounce"), dict):
        bounce = value["bounce"]
        permanent = str(bounce.get("bounceType", "")).lower() == "permanent"
        entries = []
        for rcpt in (bounce.get("bouncedRecipients") or [])[:_MAX_RECIPIENTS]:
            if isinstance(rcpt, dict) and rcpt.get("emailAddress"):
                status = str(rcpt.get("status") or ("5.0.0" if permanent else "4.0.0"))
                diagnostic = str(rcpt.get("diagnosticCode") or "")
                subtype = str(bounce.get("bounceSubType", ""))
                if not diagnostic and subtype and subtype.lower() != "general":
                    diagnostic = subtype  # "NoEmail", "MailboxFull", "Suppressed", …: SES's own words
                entries.append(("failed" if permanent else "delayed", str(rcpt["emailAddress"]), status, diagnostic))
        return SesNotice("bounce", entries, ids, to)
    if kind == "complaint" and isinstance(value.get("complaint"), dict):
        complaint = value["complaint"]
        feedback = str(complaint.get("complaintFeedbackType") or "abuse").lower()[:40]
        entries = [("complaint", str(r["emailAddress"]), feedback, "")
                   for r in (complaint.get("complainedRecipients") or [])[:_MAX_RECIPIENTS]
                   if isinstance(r, dict) and r.get("emailAddress")]
        return SesNotice("complaint", entries, ids, to)
    if kind == "delivery" and isinstance(value.get("delivery"), dict):
        delivery = value["delivery"]
        entries = [("delivered", address, "2.0.0", str(delivery.get("smtpResponse", "")))
                   for address in _strings(delivery.get("recipients"))]
        return SesNotice("delivery", entries, ids, to)
    return None
