"""ESP notifications in `digest serve` (issue 22): real HTTP, real signatures, replays and forgeries refused."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import time
from pathlib import Path

import httpx2
import pytest

from digest.core.errors import ConfigError
from digest.core.settings import load_settings
from digest.web.server import create_app
from tests.esp_helpers import (
    TOPIC,
    FakeSNS,
    ec_keys,
    sendgrid_headers,
    sent_issue,
    ses_bounce,
    ses_complaint,
    soft_counts,
    suppressed,
)
from tests.web_helpers import ThreadedUvicorn

SES = f'provider = "ses"\ntopic_arn = "{TOPIC}"'


def _post(server: ThreadedUvicorn, path: str, body: bytes | dict | list, **headers: str) -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx2.post(server.url + path, content=content, headers={"Content-Type": "application/json", **headers},
                       timeout=30)


def test_ses_through_sns_bounces_complaints_confirmations_and_forgeries(workspace: Path):
    ctx, ids, _ = sent_issue(workspace, SES)
    with FakeSNS().serving() as sns, ThreadedUvicorn(create_app(ctx, sns_test_prefix=sns.prefix)) as server:
        confirm = sns.sign({"Type": "SubscriptionConfirmation", "MessageId": "m-sub", "TopicArn": TOPIC,
                            "Message": "You have chosen to subscribe", "Token": "t0k3n",
                            "SubscribeURL": sns.prefix + f"?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=t0k3n",
                            "Timestamp": datetime.datetime.now(datetime.UTC).isoformat()[:23] + "Z"})
        assert _post(server, "/esp/ses", confirm).status_code == 200
        assert sns.confirmations == [f"/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=t0k3n"]

        # A dead address (5.1.1), signed with SignatureVersion 1 (SHA1): suppressed at once.
        dead = sns.notification(ses_bounce("grace@example.org", ids["grace@example.org"]), message_id="m1",
                                version="1")
        answer = _post(server, "/esp/ses", dead)
        assert answer.status_code == 200 and answer.json()["suppressed"] == 1, answer.text
        assert suppressed(ctx) == {"grace@example.org": "bounced"}
        assert _post(server, "/esp/ses", dead).status_code == 409  # the same call again: a replay

        # A full mailbox: soft, counted, not suppressed, as the bounce policy says.
        full = ses_bounce("ada@example.com", ids["ada@example.com"], kind="Transient", subtype="MailboxFull",
                          status="4.2.2", diagnostic="smtp; 452 4.2.2 Mailbox full")
        assert _post(server, "/esp/ses", sns.notification(full, message_id="m2")).status_code == 200
        assert soft_counts(ctx)["ada@example.com"] == 1 and "ada@example.com" not in suppressed(ctx)

        # Words that say the message was refused, not the address: recorded, never suppressed.
        policy = ses_bounce("ada@example.com", ids["ada@example.com"], status="5.7.1",
                            diagnostic="smtp; 550 5.7.1 Message rejected due to content policy")
        assert _post(server, "/esp/ses", sns.notification(policy, message_id="m2b")).json()["suppressed"] == 0

        # A complaint: suppressed.
        complaint = sns.notification(ses_complaint("linus@example.com", ids["linus@example.com"]), message_id="m3")
        assert _post(server, "/esp/ses", complaint).json()["suppressed"] == 1
        assert suppressed(ctx)["linus@example.com"] == "complained"

        # Forged and altered calls change nothing.
        forged_id = ids["ada@example.com"].replace("digest.1.", "digest.1.0")[:-1]
        for ses, name in ((ses_bounce("ada@example.com", "<digest.1.0123456789abcdef01234567@news.example.com>"),
                           "unknown message"),
                          (ses_bounce("ada@example.com", ids["grace@example.org"]), "another reader's Message-ID"),
                          (ses_bounce("ada@example.com", forged_id), "altered Message-ID"),
                          ({**ses_bounce("ada@example.com", ""), "mail": {}}, "no headers")):
            answer = _post(server, "/esp/ses", sns.notification(ses, message_id=f"forged-{name}"))
            assert answer.status_code == 200 and answer.json()["recorded"] == 0, name
        altered = sns.notification(ses_bounce("grace@example.org", ids["grace@example.org"]), message_id="m4")
        altered["Message"] = json.dumps(ses_bounce("ada@example.com", ids["ada@example.com"]))
        assert _post(server, "/esp/ses", altered).status_code == 403
        stale = sns.notification(ses_bounce("ada@example.com", ids["ada@example.com"]), message_id="m5",
                                 when=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=20))
        assert _post(server, "/esp/ses", stale).status_code == 400
        unsigned = {k: v for k, v in sns.notification(ses_bounce("ada@example.com", ids["ada@example.com"]),
                                                      message_id="m6").items() if k != "Signature"}
        assert _post(server, "/esp/ses", unsigned).status_code == 403
        other_topic = sns.sign({**unsigned, "TopicArn": TOPIC.replace("digest-bounces", "theirs")})
        assert _post(server, "/esp/ses", other_topic).status_code == 403
        elsewhere = {**sns.notification(ses_bounce("ada@example.com", ids["ada@example.com"]), message_id="m7"),
                     "SigningCertURL": "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem"}
        assert _post(server, "/esp/ses", elsewhere).status_code == 403
        for url in ("http://169.254.169.254/latest", "https://sns.eu-west-1.amazonaws.com/?Action=Publish",
                    "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:x"):
            bad_confirm = sns.sign({**confirm, "MessageId": "m-sub2", "SubscribeURL": url})
            assert _post(server, "/esp/ses", bad_confirm).status_code == 403, url
        not_a_cert = {**sns.notification(ses_bounce("ada@example.com", ids["ada@example.com"]), message_id="m8"),
                      "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/any/page"}
        assert _post(server, "/esp/ses", not_a_cert).status_code == 403
        assert _post(server, "/esp/postmark", {}).status_code == 404  # only the configured provider
    assert "ada@example.com" not in suppressed(ctx)
    assert len(sns.confirmations) == 1


def test_postmark_basic_auth_bounces_complaints_and_replays(workspace: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DIGEST_ESP_PASSWORD", "hook-pass")
    ctx, ids, data = sent_issue(workspace, 'provider = "postmark"\nusername = "hooks"')
    reference = ids["grace@example.org"].strip("<>").partition("@")[0]
    assert f"X-PM-Metadata-digest-id: {reference}\r\n".encode() in data["grace@example.org"]
    auth = "Basic " + base64.b64encode(b"hooks:hook-pass").decode()
    bounce = {"RecordType": "Bounce", "ID": 42, "Type": "HardBounce", "TypeCode": 1, "Email": "grace@example.org",
              "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist",
              "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Metadata": {"digest-id": reference}}
    with ThreadedUvicorn(create_app(ctx)) as server:
        assert _post(server, "/esp/postmark", bounce).status_code == 401
        wrong = "Basic " + base64.b64encode(b"hooks:guess").decode()
        assert _post(server, "/esp/postmark", bounce, Authorization=wrong).status_code == 401
        assert _post(server, "/esp/postmark", bounce, Authorization=auth).json()["suppressed"] == 1
        assert _post(server, "/esp/postmark", bounce, Authorization=auth).status_code == 409
        spam = {"RecordType": "SpamComplaint", "ID": 43, "Type": "SpamComplaint", "Email": "ada@example.com",
                "Metadata": {"digest-id": ids["ada@example.com"].strip("<>").partition("@")[0]}}
        assert _post(server, "/esp/postmark", spam, Authorization=auth).json()["suppressed"] == 1
        forged = {**bounce, "ID": 44, "Email": "linus@example.com"}  # grace's reference, linus's address
        assert _post(server, "/esp/postmark", forged, Authorization=auth).json() == {
            "recorded": 0, "suppressed": 0, "ignored": 1}
    assert suppressed(ctx) == {"grace@example.org": "bounced", "ada@example.com": "complained"}


def test_sendgrid_signed_event_webhook(workspace: Path):
    key, public = ec_keys()
    ctx, ids, _ = sent_issue(workspace, f'provider = "sendgrid"\npublic_key = "{public}"')
    events = [{"email": "grace@example.org", "event": "bounce", "type": "bounce", "status": "5.1.1",
               "reason": "550 5.1.1 The email account that you tried to reach does not exist",
               "smtp-id": ids["grace@example.org"], "sg_event_id": "ev1", "timestamp": int(time.time())},
              {"email": "ada@example.com", "event": "delivered", "smtp-id": ids["ada@example.com"],
               "sg_event_id": "ev2"}]
    body = json.dumps(events).encode()
    now = int(time.time())
    with ThreadedUvicorn(create_app(ctx)) as server:
        assert _post(server, "/esp/sendgrid", body).status_code == 403  # unsigned
        altered = body.replace(b"grace@example.org", b"linus@example.com")
        assert _post(server, "/esp/sendgrid", altered, **sendgrid_headers(key, body, now)).status_code == 403
        old = now - 3600
        assert _post(server, "/esp/sendgrid", body, **sendgrid_headers(key, body, old)).status_code == 400
        signed = sendgrid_headers(key, body, now)
        assert _post(server, "/esp/sendgrid", body, **signed).json()["suppressed"] == 1
        assert _post(server, "/esp/sendgrid", body, **signed).status_code == 409
        # ECDSA signatures are malleable: (r, n - s) verifies too, and is still the same call.
        assert _post(server, "/esp/sendgrid", body, **_malleated(signed)).status_code == 409
        other_key, _ = ec_keys()
        assert _post(server, "/esp/sendgrid", body, **sendgrid_headers(other_key, body, now)).status_code == 403
    assert suppressed(ctx) == {"grace@example.org": "bounced"}


def _malleated(headers: dict[str, str]) -> dict[str, str]:
    """The same ECDSA signature in its other valid form, (r, n - s)."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

    name = "X-Twilio-Email-Event-Webhook-Signature"
    r, s = decode_dss_signature(base64.b64decode(headers[name]))
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256's group order
    return {**headers, name: base64.b64encode(encode_dss_signature(r, order - s)).decode()}


def test_a_malformed_sns_certificate_url_is_a_403_not_a_500(workspace: Path):
    ctx, _, _ = sent_issue(workspace, SES)
    with ThreadedUvicorn(create_app(ctx)) as server:
        for url in ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem\n",
                    "https://[::1/SimpleNotificationService-abc.pem"):
            body = json.dumps({"Type": "Notification", "MessageId": "m-x", "TopicArn": TOPIC, "Message": "{}",
                               "Timestamp": datetime.datetime.now(datetime.UTC).isoformat()[:23] + "Z",
                               "SignatureVersion": "2", "Signature": "AAAA", "SigningCertURL": url}).encode()
            assert _post(server, "/esp/ses", body).status_code == 403


def _mailgun(key: str, event: dict, *, token: str, stamp: int | None = None) -> dict:
    stamp = int(time.time()) if stamp is None else stamp
    signature = hmac.new(key.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": str(stamp), "token": token, "signature": signature}, "event-data": event}


def test_mailgun_signed_webhooks(workspace: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DIGEST_ESP_SIGNING_KEY", "key-0123456789")
    ctx, ids, _ = sent_issue(workspace, 'provider = "mailgun"')
    header = ids["linus@example.com"].strip("<>")
    failed = {"id": "e1", "event": "failed", "severity": "permanent", "recipient": "linus@example.com",
              "reason": "bounce", "message": {"headers": {"message-id": header}},
              "delivery-status": {"code": 550, "message": "5.1.1 No such user", "description": ""}}
    temporary = {**failed, "id": "e2", "severity": "temporary", "recipient": "ada@example.com",
                 "message": {"headers": {"message-id": ids["ada@example.com"].strip("<>")}},
                 "delivery-status": {"code": 452, "message": "4.2.2 Mailbox full"}}
    with ThreadedUvicorn(create_app(ctx)) as server:
        assert _post(server, "/esp/mailgun", {"event-data": failed}).status_code == 403
        bad = _mailgun("not-the-key", failed, token="t1")
        assert _post(server, "/esp/mailgun", bad).status_code == 403
        stale = _mailgun("key-0123456789", failed, token="t2", stamp=int(time.time()) - 3600)
        assert _post(server, "/esp/mailgun", stale).status_code == 400
        good = _mailgun("key-0123456789", failed, token="t3")
        assert _post(server, "/esp/mailgun", good).json()["suppressed"] == 1
        assert _post(server, "/esp/mailgun", good).status_code == 409
        altered = {**good, "event-data": {**failed, "recipient": "ada@example.com"}}  # the signature covers no body
        assert _post(server, "/esp/mailgun", altered).status_code == 409  # same token: refused as a replay
        altered_new = _mailgun("key-0123456789", {**failed, "id": "e3", "recipient": "ada@example.com"}, token="t4")
        assert _post(server, "/esp/mailgun", altered_new).json()["recorded"] == 0  # linus's Message-ID, not ada's
        assert _post(server, "/esp/mailgun", _mailgun("key-0123456789", temporary, token="t5")).status_code == 200
    assert suppressed(ctx) == {"linus@example.com": "bounced"}
    assert soft_counts(ctx)["ada@example.com"] == 1


@pytest.mark.parametrize("section, message", [
    ('provider = "sparkpost"', "[esp] provider must be one of"),
    ('provider = "ses"', "[esp] topic_arn is missing"),
    ('provider = "ses"\ntopic_arn = "arn:aws:sns:x"', "[esp] topic_arn must be"),
    ('provider = "postmark"', "[esp] username is missing"),
    ('provider = "sendgrid"\npublic_key = "not base64!"', "[esp] public_key must be"),
    ('provider = "sendgrid"\npublic_key = "AAAA"', "[esp] public_key must be"),
    (f'{SES}\nmax_age = 5', "[esp] max_age must be between"),
    (f'{SES}\nsecret = "x"', "unknown key 'secret' in [esp]"),
])
def test_esp_settings_are_checked(workspace: Path, section: str, message: str):
    with (workspace / "digest.toml").open("a") as f:
        f.write(f"\n[esp]\n{section}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(workspace)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_hostile_bodies_get_a_4xx_and_change_nothing(workspace: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DIGEST_ESP_SIGNING_KEY", "key-0123456789")
    ctx, _, _ = sent_issue(workspace, 'provider = "mailgun"')
    with ThreadedUvicorn(create_app(ctx)) as server:
        for body in (b"[" * 100_000, b"\xff\xfe", b"null", b"[]", b'{"signature": []}', b"x" * (2 << 20)):
            answer = _post(server, "/esp/mailgun", body)
            assert 400 <= answer.status_code < 500, (body[:20], answer.status_code)
    assert suppressed(ctx) == {}
