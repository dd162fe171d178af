"""ESP notification tests: a workspace that sent an issue, real keys and certificates, a local stand-in for SNS."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from digest.app.context import Context
from digest.app.send import send_to_lists
from digest.cli import main
from digest.deliver.sender import SendOptions
from digest.deliver.transport import MemoryTransport
from digest.web.esp import sns_string_to_sign

TOPIC = "arn:aws:sns:eu-west-1:123456789012:digest-bounces"


def sent_issue(workspace: Path, esp_section: str) -> tuple[Context, dict[str, str], dict[str, bytes]]:
    """Configure [esp], build and send issue 1 to the example list; (context, Message-ID and message by address)."""
    with (workspace / "digest.toml").open("a", encoding="utf-8") as f:
        f.write("\n[esp]\n" + esp_section + "\n")
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 0, result.output
    ctx = Context(workspace)
    transport = MemoryTransport()
    asyncio.run(send_to_lists(ctx, workspace / "issues" / "1", [workspace / "subscribers" / "example.csv"],
                              options=SendOptions(), on_problem=print, transport=transport))
    ids = {m.recipient: m.message_id for _, m in transport.delivered}
    data = {m.recipient: m.data for _, m in transport.delivered}
    return ctx, ids, data


def suppressed(ctx: Context) -> dict[str, str]:
    return {s.email: s.reason for s in ctx.store.suppressions()}


def soft_counts(ctx: Context) -> dict[str, int]:
    return {s.email: s.soft for s in ctx.store.bounce_summaries()}


@dataclass
class FakeSNS:
    """The certificate SNS would serve, and a SubscribeURL that records being fetched: a local HTTP server."""

    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537,
                                                                                    key_size=2048))
    confirmations: list[str] = field(default_factory=list)
    port: int = 0

    def certificate(self) -> bytes:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30)).sign(self.key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM)

    @property
    def prefix(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def sign(self, message: dict[str, Any], *, version: str = "2") -> dict[str, Any]:
        cert_url = self.prefix + "SimpleNotificationService.pem"
        message = {**message, "SignatureVersion": version, "SigningCertURL": cert_url}
        algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # SNS's version 1 is SHA1
        signature = self.key.sign(sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
        return {**message, "Signature": base64.b64encode(signature).decode()}

    def notification(self, ses: dict[str, Any], *, message_id: str, when: datetime.datetime | None = None,
                     version: str = "2") -> dict[str, Any]:
        stamp = (when or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return self.sign({"Type": "Notification", "MessageId": message_id, "TopicArn": TOPIC,
                          "Message": json.dumps(ses), "Timestamp": stamp}, version=version)

    @contextmanager
    def serving(self) -> Iterator[FakeSNS]:
        pem = self.certificate()
        sns = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path.endswith(".pem"):
                    body = pem
                else:
                    sns.confirmations.append(self.path)
                    body = b"<ConfirmSubscriptionResponse/>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


def ses_bounce(email: str, message_id: str, *, kind: str = "Permanent", subtype: str = "General",
               status: str = "5.1.1", diagnostic: str = "smtp; 550 5.1.1 user unknown") -> dict[str, Any]:
    return {"notificationType": "Bounce",
            "bounce": {"bounceType": kind, "bounceSubType": subtype, "feedbackId": f"fb-{email}-{status}",
                       "bouncedRecipients": [{"emailAddress": email, "action": "failed", "status": status,
                                              "diagnosticCode": diagnostic}],
                       "timestamp": "2026-12-07T11:05:06.477Z"},
            "mail": {"messageId": "0102015fd91a5ca3", "destination": [email], "headersTruncated": False,
                     "commonHeaders": {"messageId": message_id, "subject": "Weekly"}}}


def ses_complaint(email: str, message_id: str) -> dict[str, Any]:
    return {"notificationType": "Complaint",
            "complaint": {"complainedRecipients": [{"emailAddress": email}], "complaintFeedbackType": "abuse",
                          "feedbackId": f"c-{email}", "timestamp": "2026-12-07T11:05:06.477Z"},
            "mail": {"messageId": "0102015fd91a5ca4", "commonHeaders": {"messageId": message_id}}}


def ec_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key pair; the public key base64 as SendGrid shows it."""
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, base64.b64encode(der).decode()


def sendgrid_headers(key: ec.EllipticCurvePrivateKey, body: bytes, stamp: int) -> dict[str, str]:
    signature = key.sign(str(stamp).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": str(stamp), "Content-Type": "application/json"}
