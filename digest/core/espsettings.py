"""[esp]: notifications from an email service provider (Amazon SES, Postmark, SendGrid, Mailgun) in `digest serve`.

Secrets never go into digest.toml: Postmark's basic-auth password comes from
DIGEST_ESP_PASSWORD, Mailgun's webhook signing key from DIGEST_ESP_SIGNING_KEY.
SendGrid's verification key is public and goes here as SendGrid shows it.
"""

from __future__ import annotations

import base64
import math
import os
import re
from dataclasses import dataclass

from digest.core.errors import ConfigError

__all__ = ["ESPSettings", "PROVIDERS", "check_esp"]

PROVIDERS = ("ses", "postmark", "sendgrid", "mailgun")
_TOPIC_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True, slots=True)
class ESPSettings:
    """[esp]: which provider posts to /esp/<provider>, and what verifies its calls."""

    provider: str = ""  # ses | postmark | sendgrid | mailgun
    max_age: float = 600.0  # seconds a signed call stays fresh (SNS Timestamp, SendGrid / Mailgun timestamp)
    topic_arn: str = ""  # ses: the one SNS topic whose notifications count
    username: str = ""  # postmark: the basic-auth user of the webhook URL (the password: DIGEST_ESP_PASSWORD)
    public_key: str = ""  # sendgrid: the Signed Event Webhook's verification key (base64, as SendGrid shows it)

    @property
    def password(self) -> str:
        """Postmark's basic-auth password, read from the environment only when needed."""
        return os.environ.get("DIGEST_ESP_PASSWORD", "")

    @property
    def signing_key(self) -> str:
        """Mailgun's HTTP webhook signing key, read from the environment only when needed."""
        return os.environ.get("DIGEST_ESP_SIGNING_KEY", "")


def check_esp(esp: ESPSettings, path: str) -> ESPSettings:
    """The section checked key by key; ConfigError names the key."""
    if esp.provider not in PROVIDERS:
        raise ConfigError(f"[esp] provider must be one of {', '.join(PROVIDERS)}", path=path)
    if not math.isfinite(esp.max_age) or not 60 <= esp.max_age <= 900:
        raise ConfigError("[esp] max_age must be between 60 and 900 seconds (a signed call older than that is "
                          "refused as stale)", path=path)
    if esp.provider == "ses" and not esp.topic_arn:
        raise ConfigError("[esp] topic_arn is missing: the SNS topic SES publishes to (anyone can subscribe this "
                          "server to a topic of their own)", path=path)
    if esp.topic_arn and not _TOPIC_ARN.fullmatch(esp.topic_arn):
        raise ConfigError("[esp] topic_arn must be an SNS topic ARN like arn:aws:sns:eu-west-1:123456789012:bounces",
                          path=path)
    if esp.provider == "postmark" and not esp.username:
        raise ConfigError("[esp] username is missing: Postmark's webhook URL carries a user and a password "
                          "(DIGEST_ESP_PASSWORD)", path=path)
    if esp.provider == "sendgrid":
        if not esp.public_key:
            raise ConfigError("[esp] public_key is missing: the verification key of SendGrid's Signed Event Webhook",
                              path=path)
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_der_public_key

        try:
            key = load_der_public_key(base64.b64decode(esp.public_key, validate=True))
        except ValueError:
            key = None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ConfigError("[esp] public_key must be the base64 elliptic-curve key SendGrid shows (MFkw…)",
                              path=path)
    return esp
