"""Personalised messages per second on one core: our skeleton vs a stdlib EmailMessage per recipient."""

from __future__ import annotations

import time
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate

from _sample import Row, rendered_sample, run_script

from digest.compose import MessageSkeleton
from digest.core.model import Subscriber
from digest.core.settings import Newsletter
from digest.render import fill_markers

N = 3000


def naive(rendered, subscribers):
    """Baseline: fill the text, build and serialise an EmailMessage for every recipient."""
    for i, sub in enumerate(subscribers):
        values = [sub.email if f == "email" else sub.name if f == "name" else f"https://x/u/{i}"
                  for f in rendered.fields]
        msg = EmailMessage(policy=SMTP)
        msg["From"] = "Weekly <weekly@news.example.com>"
        msg["To"] = formataddr((sub.name, sub.email))
        msg["Subject"] = rendered.subject
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = f"<{i}@news.example.com>"
        msg["List-Unsubscribe"] = f"<https://x/u/{i}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(fill_markers(rendered.text, rendered.marker, values), cte="quoted-printable")
        msg.add_alternative(fill_markers(rendered.html, rendered.marker, values), subtype="html",
                            cte="quoted-printable")
        yield msg.as_bytes()


def measure() -> list[Row]:
    """Personalised messages per second, ours and the baseline, in CPU time on one core."""
    rendered = rendered_sample(40)
    subscribers = [Subscriber(f"reader{i}@example.com", f"Reader Nummer {i} Zoë") for i in range(N)]
    skeleton = MessageSkeleton(rendered, Newsletter(), secret=b"bench-secret")
    start = time.process_time()
    size = sum(len(skeleton.compose(s).data) for s in subscribers)
    ours = N / (time.process_time() - start)
    n_naive = N // 10
    start = time.process_time()
    for _ in naive(rendered, subscribers[:n_naive]):
        pass
    baseline = n_naive / (time.process_time() - start)
    rows = [Row(f"compose, {size / N / 1024:.0f} KB message (vs EmailMessage each)", ours, baseline, "msg/s, 1 core")]
    signed = dkim_rates(rendered, subscribers[:200])
    if signed is not None:
        rows.append(Row("compose + DKIM, OpenSSL signer (vs dkimpy.sign)", *signed, "msg/s, 1 core"))
    return rows


def dkim_rates(rendered, subscribers) -> tuple[float, float] | None:
    """Signed messages per second (RSA 2048): our signer, and dkimpy signing the same messages."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:
        print("  DKIM: needs the cryptography package to make a key; skipped")
        return None
    import tempfile
    from pathlib import Path

    from digest.compose.dkim import DKIMSigner
    from digest.core.settings import DKIMSettings

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "k.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
        (Path(tmp) / "k.pem").chmod(0o600)  # a key others can read is refused
        signer = DKIMSigner(DKIMSettings("mail", "news.example.com", "k.pem"), root=Path(tmp))
    skeleton = MessageSkeleton(rendered, Newsletter(), secret=b"bench-secret", signer=signer)
    start = time.process_time()
    for subscriber in subscribers:
        skeleton.compose(subscriber)
    ours = len(subscribers) / (time.process_time() - start)

    import dkim

    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    plain = MessageSkeleton(rendered, Newsletter(), secret=b"bench-secret")
    headers = [h.encode() for h in ("from", "to", "subject", "date", "message-id", "list-id",
                                    "list-unsubscribe", "list-unsubscribe-post", "mime-version", "content-type")]
    start = time.process_time()
    for subscriber in subscribers:
        data = plain.compose(subscriber).data
        dkim.sign(data, b"mail", b"news.example.com", pem, include_headers=headers) + data
    return ours, len(subscribers) / (time.process_time() - start)


if __name__ == "__main__":
    run_script(measure)
