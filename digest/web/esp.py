"""ESP notifications in `digest serve`: POST /esp/<provider>, for the one provider `[esp]` names.

Every call is proved before anything in it is read as a fact:

* Amazon SES through SNS: the SNS signature (SignatureVersion 1, SHA1, or 2,
  SHA256; RSA PKCS#1 v1.5) checked with the certificate at SigningCertURL,
  which must be https://sns.<region>.amazonaws.com/….pem; the TopicArn must
  be `[esp] topic_arn`. A SubscriptionConfirmation is confirmed by fetching
  its SubscribeURL (same host rule).
* Postmark: HTTP basic auth, `[esp] username` and DIGEST_ESP_PASSWORD.
* SendGrid: the Signed Event Webhook, ECDSA P-256 over timestamp + body,
  with `[esp] public_key`.
* Mailgun: HMAC-SHA256 of timestamp + token with DIGEST_ESP_SIGNING_KEY.

A call without its proof, with a bad one, older than `[esp] max_age` or
already seen (SNS MessageId, Mailgun token, SendGrid signature, Postmark
body) gets a 4xx and changes nothing. Then digest.back.esp ties each notice
to a message of ours by its signed Message-ID; the rest is ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from digest.app.context import Context
from digest.back.esp import (
    Notice,
    NoticeError,
    apply_notices,
    mailgun_notices,
    postmark_notices,
    sendgrid_notices,
    ses_notices,
)
from digest.core.espsettings import ESPSettings
from digest.web.guard import BodyRefused, read_body

__all__ = ["esp_routes", "Refused", "sns_string_to_sign", "SNS_HOST", "MAX_ESP_BODY"]

_log = logging.getLogger("uvicorn.error")
MAX_ESP_BODY = 1024 * 1024  # SNS caps a message at 256 KB; SendGrid batches are larger
SNS_HOST = re.compile(r"sns\.[a-z]{2}(?:-[a-z]+)+-\d\.amazonaws\.com(?:\.cn)?")
_SNS_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
_CERT_PATH = re.compile(r"/SimpleNotificationService-[0-9A-Za-z]{1,64}\.pem")
_KEEP = 7 * 86400.0  # how long a call's name is remembered (signed calls are stale long before)
_MAX_CERTS = 16


class Refused(Exception):
    """The call is refused: the status and a short reason (never anything from the call itself)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sns_string_to_sign(message: dict[str, Any]) -> bytes:
    """The text SNS signs: each field's name and value on lines of their own, in name order."""
    kind = message.get("Type")
    if kind not in _SNS_FIELDS:
        raise Refused(400, "not an SNS message type")
    lines = []
    for name in _SNS_FIELDS[kind]:
        value = message.get(name)
        if value is None and name == "Subject":
            continue
        if not isinstance(value, str):
            raise Refused(400, f"the SNS message has no {name}")
        lines += [name, value]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _fresh(stamp: float, esp: ESPSettings, now: float) -> None:
    if abs(now - stamp) > esp.max_age:
        raise Refused(400, "stale: the call's timestamp is too far from now")


class _Verifier:
    """The checks of one provider; holds what is fetched once (SNS certificates)."""

    def __init__(self, esp: ESPSettings, *, sns_test_prefix: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        self.esp = esp
        self.clock = clock
        self.test_prefix = sns_test_prefix  # tests only: a local http:// URL standing in for SNS
        self.certs: dict[str, rsa.RSAPublicKey] = {}

    def _sns_url(self, url: Any, what: str) -> str:
        if isinstance(url, str) and self.test_prefix and url.startswith(self.test_prefix):
            return url
        try:
            parsed = httpx2.URL(url) if isinstance(url, str) and url.isascii() and url.isprintable() else None
        except (httpx2.InvalidURL, ValueError, TypeError):
            parsed = None  # "https://[::1/…", a control character: no URL SNS sends
        if parsed is None or parsed.scheme != "https" or parsed.port not in (None, 443) or parsed.userinfo \
                or not SNS_HOST.fullmatch(parsed.host):
            raise Refused(403, f"the {what} is not an https URL on sns.<region>.amazonaws.com")
        # Only what SNS really sends: no call makes this server fetch any other page there.
        if what == "SigningCertURL" and not _CERT_PATH.fullmatch(parsed.path):
            raise Refused(403, "the SigningCertURL is not an SNS certificate")
        if what == "SubscribeURL" and (parsed.params.get("Action") != "ConfirmSubscription"
                                       or parsed.params.get("TopicArn") != self.esp.topic_arn):
            raise Refused(403, "the SubscribeURL does not confirm a subscription to [esp] topic_arn")
        return str(url)

    async def _fetch(self, url: str, *, limit: int = 64 * 1024) -> bytes:
        try:
            async with httpx2.AsyncClient(timeout=10.0, follow_redirects=False) as client, \
                    client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise Refused(502, f"SNS answered {response.status_code}")
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise Refused(502, "SNS sent too much")
                return body
        except httpx2.HTTPError as exc:
            raise Refused(502, f"cannot reach SNS: {type(exc).__name__}") from None

    async def _sns_key(self, url: str) -> rsa.RSAPublicKey:
        key = self.certs.get(url)
        if key is None:
            try:
                cert = x509.load_pem_x509_certificate(await self._fetch(url))
            except ValueError:
                raise Refused(403, "the signing certificate cannot be read") from None
            now = datetime.fromtimestamp(self.clock()).astimezone()
            public = cert.public_key()
            if not isinstance(public, rsa.RSAPublicKey) or not (
                    cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
                raise Refused(403, "the signing certificate is not a valid RSA certificate now")
            if len(self.certs) >= _MAX_CERTS:
                self.certs.clear()
            self.certs[url] = key = public
        return key

    async def sns(self, body: bytes) -> tuple[str, dict[str, Any]]:
        """(the call's name, the SNS message) once its signature, topic and age are proved."""
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):
            raise Refused(400, "the body is not JSON") from None
        if not isinstance(message, dict):
            raise Refused(400, "not an SNS message")
        # SignatureVersion 1 is SHA1 by SNS's definition (a topic's default); 2 is SHA256.
        version = str(message.get("SignatureVersion"))
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256() if version == "2" else None  # nosec B303
        if algorithm is None or not isinstance(message.get("Signature"), str):
            raise Refused(403, "unsigned, or an unknown SignatureVersion")
        signed = sns_string_to_sign(message)
        if message.get("TopicArn") != self.esp.topic_arn:
            raise Refused(403, "not the topic in [esp] topic_arn")
        key = await self._sns_key(self._sns_url(message.get("SigningCertURL"), "SigningCertURL"))
        try:
            key.verify(base64.b64decode(message["Signature"], validate=True), signed, padding.PKCS1v15(),
                       algorithm)
        except (InvalidSignature, binascii.Error, ValueError):
            raise Refused(403, "bad signature") from None
        try:
            stamp = datetime.fromisoformat(str(message["Timestamp"]).replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise Refused(400, "the Timestamp is not a date") from None
        _fresh(stamp, self.esp, self.clock())
        return str(message["MessageId"]), message

    async def confirm(self, message: dict[str, Any]) -> None:
        """Confirm a subscription by fetching its SubscribeURL."""
        url = self._sns_url(message.get("SubscribeURL"), "SubscribeURL")
        await self._fetch(url)

    def postmark(self, request: Request, body: bytes) -> str:
        """The call's name once its basic-auth credentials are proved."""
        password = self.esp.password
        if not password:
            raise Refused(503, "DIGEST_ESP_PASSWORD is not set on this server")
        given = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.esp.username}:{password}".encode()).decode()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Refused(401, "missing or wrong credentials")
        return hashlib.sha256(body).hexdigest()

    def sendgrid(self, request: Request, body: bytes) -> str:
        """The call's name once its ECDSA signature and timestamp are proved."""
        signature = request.headers.get("x-twilio-email-event-webhook-signature", "")
        stamp = request.headers.get("x-twilio-email-event-webhook-timestamp", "")
        if not signature or not stamp.isdigit():
            raise Refused(403, "unsigned")
        key = load_der_public_key(base64.b64decode(self.esp.public_key))
        if not isinstance(key, ec.EllipticCurvePublicKey):  # checked with the settings already (check_esp)
            raise Refused(503, "[esp] public_key is not an elliptic-curve key")
        try:
            key.verify(base64.b64decode(signature, validate=True), stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, binascii.Error, ValueError):
            raise Refused(403, "bad signature") from None
        _fresh(float(stamp), self.esp, self.clock())
        # The call's content names it, not the signature: ECDSA signatures are malleable ((r, s) and
        # (r, n - s) both verify), so a replay with the other form must still be seen as a replay.
        return hashlib.sha256(stamp.encode() + b"\n" + body).hexdigest()

    def mailgun(self, body: bytes) -> tuple[str, dict[str, Any]]:
        """(the call's name, the event data) once its HMAC and timestamp are proved."""
        key = self.esp.signing_key
        if not key:
            raise Refused(503, "DIGEST_ESP_SIGNING_KEY is not set on this server")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise Refused(400, "the body is not JSON") from None
        signature = data.get("signature") if isinstance(data, dict) else None
        if not isinstance(signature, dict) or not all(isinstance(signature.get(k), str)
                                                       for k in ("timestamp", "token", "signature")):
            raise Refused(403, "unsigned")
        stamp, token = signature["timestamp"], signature["token"]
        expected = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature["signature"].encode()) or not stamp.isdigit():
            raise Refused(403, "bad signature")
        _fresh(float(stamp), self.esp, self.clock())
        event = data.get("event-data")
        return token, event if isinstance(event, dict) else {}


def esp_routes(ctx: Context, *, sns_test_prefix: str = "", clock: Callable[[], float] = time.time) -> list[Route]:
    """POST /esp/<provider> for the provider `[esp]` names; none without an [esp] section.

    `sns_test_prefix` lets tests stand a local http:// server in for SNS; `digest serve` never sets it.
    """
    esp = ctx.settings.esp
    if esp is None:
        return []
    verifier = _Verifier(esp, sns_test_prefix=sns_test_prefix, clock=clock)
    provider = esp.provider

    async def prove(request: Request, body: bytes) -> tuple[str, list[Notice]] | Response:
        """The call's name and its notices, or the answer to a call that needs no more (SNS confirmations)."""
        try:
            if provider == "ses":
                name, message = await verifier.sns(body)
                if message["Type"] == "SubscriptionConfirmation":
                    await verifier.confirm(message)
                    _log.info("ESP ses: subscribed to %s", esp.topic_arn)
                    return JSONResponse({"confirmed": True})
                if message["Type"] != "Notification":
                    # Unsubscribed from the topic: said once in the log; re-subscribing is the operator's choice.
                    _log.warning("ESP ses: this server was unsubscribed from %s", esp.topic_arn)
                    return JSONResponse({"confirmed": False})
                return name, ses_notices(message["Message"], key=name)
            if provider == "postmark":
                return verifier.postmark(request, body), postmark_notices(body)
            if provider == "sendgrid":
                return verifier.sendgrid(request, body), sendgrid_notices(body)
            name, event = verifier.mailgun(body)
            return name, mailgun_notices(event)
        except NoticeError as exc:
            raise Refused(400, str(exc)) from None

    async def notify(request: Request) -> Response:
        """POST /esp/<provider>: prove the call, refuse a replay, apply what it says about our messages."""
        try:
            body = await read_body(request, limit=MAX_ESP_BODY)
            proved = await prove(request, body)
            if isinstance(proved, Response):
                return proved
            name, notices = proved
            now = clock()
            if not await run_in_threadpool(ctx.store.first_sight, provider, name, now=now, keep=_KEEP):
                raise Refused(409, "replayed: this call was seen before")
        except BodyRefused as refused:
            return JSONResponse({"error": refused.message}, status_code=refused.status)
        except Refused as refused:
            _log.warning("ESP %s call refused: %s", provider, refused.reason)
            return JSONResponse({"error": refused.reason}, status_code=refused.status,
                                headers={"WWW-Authenticate": 'Basic realm="digest"'} if refused.status == 401 else {})
        bounces = ctx.settings.bounces
        applied = await run_in_threadpool(
            apply_notices, notices, store=ctx.store, secret=ctx.secret, source=f"esp:{provider}", now=now,
            soft_limit=bounces.soft_limit, soft_window=bounces.soft_window_days * 86400.0)
        return JSONResponse({"recorded": sum(a.recorded for a in applied),
                             "suppressed": sum(a.suppressed for a in applied),
                             "ignored": sum(1 for a in applied if a.why)})

    async def wrong_provider(request: Request) -> Response:
        return JSONResponse({"error": f"this server takes notifications from {provider} only"}, status_code=404)

    return [Route(f"/esp/{provider}", notify, methods=["POST"]),
            Route("/esp/{other}", wrong_provider, methods=["POST"])]


