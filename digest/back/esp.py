"""What an ESP's notifications say, and applying it: Amazon SES (through SNS), Postmark, SendGrid, Mailgun.

The HTTP side (digest.web.esp) proves a call came from the provider; this
module reads its JSON into notices and ties each to a message of ours. A
provider's word about an address alone is never enough: the notice must
carry our Message-ID (`<digest.ISSUE.MAC@…>`, an HMAC over the issue and
the address) as the provider reports it — SES's `commonHeaders.messageId`,
SendGrid's `smtp-id`, Mailgun's `message.headers.message-id`, or Postmark's
metadata `digest-id` (X-PM-Metadata-digest-id, which digest adds for
Postmark) — and that MAC must fit the address the notice names and a
message the journal sent. Anything else is ignored.

What a bounce means is the bounce policy's call (`classify_reply`), from the
status and the receiving server's words the provider passes on; the
provider's own verdict only decides when the server said nothing usable.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from digest.back.policy import HARD, REFUSED, SOFT, classify_reply, enhanced_status
from digest.compose.skeleton import message_id_mac
from digest.store import Store
from digest.store.bounces import BounceEvent
from digest.store.issues import email_key

__all__ = ["Notice", "NoticeError", "ses_notices", "postmark_notices", "sendgrid_notices", "mailgun_notices",
           "apply_notices", "Applied"]

_OUR_ID = re.compile(r"digest\.(\d{1,9})\.([0-9a-f]{24})(?![0-9a-f])")
_MAX_NOTICES = 500  # one call: SendGrid batches events, SES lists recipients; more is no real call


class NoticeError(ValueError):
    """The payload is not what the provider sends."""


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing the provider says about one address."""

    email: str
    kind: str  # hard | soft | refused | complaint | unsubscribe
    reference: str  # where our Message-ID should be: the provider's copy of it
    key: str  # the provider's name for this event: applied once
    status: str = ""
    diagnostic: str = ""


@dataclass(frozen=True, slots=True)
class Applied:
    """What became of one notice."""

    email: str
    kind: str
    recorded: bool = False
    suppressed: bool = False
    why: str = ""  # why it was ignored


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int = 1000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _judge(status: str, diagnostic: str, fallback: str) -> tuple[str, str]:
    """(kind, status): the bounce policy on the server's words; the provider's verdict when they carry no code."""
    status = status.strip() if enhanced_status(status or "") == status.strip() else ""
    words = re.sub(r"^\s*smtp\s*;\s*", "", diagnostic, flags=re.IGNORECASE)
    code = status or enhanced_status(words)
    reply = re.search(r"(?<![\d.])[45]\d\d(?![\d.])", words)
    if not code and reply is None:
        return fallback, ""
    if (code or (reply.group(0) if reply else "5")).startswith("4"):
        return SOFT, code or ""  # transient: it may pass later
    return classify_reply(status or None, words)


def _loads(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise NoticeError("the body is not JSON") from None


_SES_TRANSIENT_REFUSED = {"MessageTooLarge", "ContentRejected", "AttachmentRejected"}


def ses_notices(message: str, *, key: str) -> list[Notice]:
    """The notices in an SES notification (the SNS Message): Bounce and Complaint; others say nothing."""
    data = _loads(message)
    if not isinstance(data, dict):
        raise NoticeError("the SES notification is not a JSON object")
    kind = data.get("notificationType") or data.get("eventType")
    mail = _obj(data.get("mail"))
    common = _obj(mail.get("commonHeaders"))
    reference = _text(common.get("messageId"))
    if not reference:  # only the raw headers (or none: "include original headers" is off)
        for header in _items(mail.get("headers")):
            if str(header.get("name", "")).lower() == "message-id":
                reference = _text(header.get("value"))
    notices = []
    if kind == "Bounce" and isinstance(data.get("bounce"), dict):
        bounce = data["bounce"]
        permanent = bounce.get("bounceType") == "Permanent"
        subtype = _text(bounce.get("bounceSubType"))
        if permanent:
            fallback = HARD if subtype in ("NoEmail", "Suppressed", "OnAccountSuppressionList") else SOFT
        else:
            fallback = REFUSED if subtype in _SES_TRANSIENT_REFUSED else SOFT
        for n, who in enumerate(_items(bounce.get("bouncedRecipients"))):
            diagnostic = _text(who.get("diagnosticCode"))
            verdict, status = _judge(_text(who.get("status")), diagnostic, fallback)
            if not permanent and verdict == HARD:
                verdict = SOFT  # SES says it may pass: never suppress at once on a transient bounce
            notices.append(Notice(_text(who.get("emailAddress"), 320), verdict, reference,
                                  f"ses:{_text(bounce.get('feedbackId'), 150) or key}:{n}", status,
                                  diagnostic or f"SES {bounce.get('bounceType')}/{subtype}"))
    elif kind == "Complaint" and isinstance(data.get("complaint"), dict):
        complaint = data["complaint"]
        if complaint.get("complaintFeedbackType") == "not-spam":
            return []
        for n, who in enumerate(_items(complaint.get("complainedRecipients"))):
            notices.append(Notice(_text(who.get("emailAddress"), 320), "complaint", reference,
                                  f"ses:{_text(complaint.get('feedbackId'), 150) or key}:{n}",
                                  _text(complaint.get("complaintFeedbackType"), 64) or "abuse",
                                  "SES complaint"))
    return notices


def _items(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        for item in value[:_MAX_NOTICES]:
            if isinstance(item, dict):
                yield item


_POSTMARK_TYPES = {
    "HardBounce": HARD, "BadEmailAddress": HARD, "ManuallyDeactivated": HARD,
    "SoftBounce": SOFT, "Transient": SOFT, "DnsError": SOFT, "Unknown": SOFT,
    "SpamNotification": REFUSED, "VirusNotification": REFUSED, "Blocked": REFUSED, "DMARCPolicy": REFUSED,
    "SMTPApiError": REFUSED, "ContentRelated": REFUSED,
    "SpamComplaint": "complaint", "Unsubscribe": "unsubscribe",
}
_POSTMARK_SUPPRESSION = {"HardBounce": HARD, "SpamComplaint": "complaint", "ManualSuppression": "unsubscribe"}


def postmark_notices(body: bytes) -> list[Notice]:
    """The notice in a Postmark webhook: Bounce, SpamComplaint, SubscriptionChange; others say nothing."""
    data = _loads(body)
    if not isinstance(data, dict):
        raise NoticeError("the Postmark webhook is not a JSON object")
    record = data.get("RecordType")
    metadata = _obj(data.get("Metadata"))
    reference = _text(metadata.get("digest-id"))
    email = _text(data.get("Email") or data.get("Recipient"), 320)
    event_id = _text(str(data.get("ID") or data.get("MessageID") or ""), 150)
    if record in ("Bounce", "SpamComplaint"):
        fallback = _POSTMARK_TYPES.get(_text(data.get("Type")), "")
        if not fallback:
            return []  # an auto-reply, a challenge, an address change: nothing about the address
        diagnostic = _text(data.get("Details")) or _text(data.get("Description"))
        if fallback in ("complaint", "unsubscribe"):
            return [Notice(email, fallback, reference, f"postmark:{record}:{event_id}", "abuse", diagnostic)]
        kind, status = _judge("", diagnostic, fallback)
        if fallback == SOFT and kind == HARD and data.get("Type") == "Transient":
            kind = SOFT
        return [Notice(email, kind, reference, f"postmark:{record}:{event_id}", status, diagnostic)]
    if record == "SubscriptionChange" and data.get("SuppressSending") is True:
        kind = _POSTMARK_SUPPRESSION.get(_text(data.get("SuppressionReason")), "")
        if kind:
            changed = _text(data.get("ChangedAt"), 40)
            return [Notice(email, kind, reference, f"postmark:change:{event_id}:{changed}", "",
                           f"Postmark suppression: {data.get('SuppressionReason')}")]
    return []


_SENDGRID_KINDS = {"spamreport": "complaint", "unsubscribe": "unsubscribe", "group_unsubscribe": "unsubscribe"}


def sendgrid_notices(body: bytes) -> list[Notice]:
    """The notices in a SendGrid Event Webhook batch: bounce, dropped, spamreport, unsubscribe."""
    data = _loads(body)
    if not isinstance(data, list):
        raise NoticeError("the SendGrid event batch is not a JSON array")
    notices = []
    for n, event in enumerate(_items(data)):
        name = event.get("event")
        email = _text(event.get("email"), 320)
        reference = _text(event.get("smtp-id"))
        key = f"sendgrid:{_text(event.get('sg_event_id'), 150) or n}"
        if name in _SENDGRID_KINDS:
            notices.append(Notice(email, _SENDGRID_KINDS[name], reference, key, _text(name, 64), "SendGrid " + name))
        elif name == "bounce":
            blocked = event.get("type") == "blocked"
            diagnostic = _text(event.get("reason"))
            kind, status = _judge(_text(event.get("status")), diagnostic, REFUSED if blocked else SOFT)
            notices.append(Notice(email, REFUSED if blocked and kind == SOFT else kind, reference, key, status,
                                  diagnostic))
    return notices


def mailgun_notices(event: dict[str, Any]) -> list[Notice]:
    """The notice in a Mailgun webhook's event-data: failed, complained, unsubscribed."""
    name = event.get("event")
    email = _text(event.get("recipient"), 320)
    message = _obj(event.get("message"))
    headers = _obj(message.get("headers"))
    reference = _text(headers.get("message-id"))
    key = f"mailgun:{_text(event.get('id'), 150)}"
    if name == "complained":
        return [Notice(email, "complaint", reference, key, "abuse", "Mailgun complaint")]
    if name == "unsubscribed":
        return [Notice(email, "unsubscribe", reference, key, "", "Mailgun unsubscribe")]
    if name != "failed":
        return []
    status = _obj(event.get("delivery-status"))
    code = status.get("code")
    diagnostic = " ".join(p for p in (str(code) if isinstance(code, int) else "", _text(status.get("message")),
                                      _text(status.get("description"))) if p)
    if event.get("severity") != "permanent":
        return [Notice(email, SOFT, reference, key, enhanced_status(diagnostic) or "", diagnostic)]
    reason = _text(event.get("reason"))
    fallback = REFUSED if reason in ("suppress-complaint", "suppress-unsubscribe", "old") else SOFT
    kind, found = _judge("", diagnostic, HARD if reason == "suppress-bounce" else fallback)
    return [Notice(email, kind, reference, key, found, diagnostic or f"Mailgun failed: {reason}")]


def _tie(notice: Notice, store: Store, secret: bytes) -> int | str:
    """The issue when the notice carries our signed Message-ID for its address and we sent it; else why not."""
    match = _OUR_ID.search(notice.reference)
    if match is None or not notice.email:
        return "no Message-ID of ours"
    issue, mac = int(match.group(1)), match.group(2)
    if not hmac.compare_digest(mac, message_id_mac(secret, issue, email_key(notice.email))):
        return "a Message-ID not made for that address"
    delivery = store.delivery_for(issue, notice.email)
    if delivery is None or mac not in delivery.message_id:
        return "no message of ours to that address"
    return issue


def apply_notices(notices: list[Notice], *, store: Store, secret: bytes, source: str, now: float,
                  soft_limit: int, soft_window: float,
                  log: Callable[[str], None] | None = None) -> list[Applied]:
    """Record every notice that ties to a message of ours, under the bounce policy; ignore the rest."""
    events, results = [], []
    for notice in notices[:_MAX_NOTICES]:
        tie = _tie(notice, store, secret)
        if not isinstance(tie, int):
            results.append(Applied(notice.email, notice.kind, why=tie))
            continue
        events.append(BounceEvent(notice.email, notice.kind, source, notice.key, issue=tie, status=notice.status,
                                  diagnostic=notice.diagnostic))
        results.append(Applied(notice.email, notice.kind, recorded=True))
    verdicts = iter(store.record_bounces(events, now=now, soft_limit=soft_limit, soft_window=soft_window))
    applied = []
    for result in results:
        if result.recorded:
            verdict = next(verdicts)
            result = Applied(result.email, result.kind, recorded=not verdict.duplicate, suppressed=verdict.suppressed)
        applied.append(result)
    return applied
