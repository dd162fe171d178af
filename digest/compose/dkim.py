"""Optional DKIM signatures (RFC 6376, rsa-sha256, relaxed/simple) over each message's final bytes.

Signing uses OpenSSL through `cryptography`: dkimpy does its RSA in pure Python
(bench/compose.py printed 102 signed msg/s with it on one core). The tests verify
every signature with dkimpy against the public key.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import time
from pathlib import Path

from digest.core.errors import ConfigError
from digest.core.names import ascii_domain, check_selector
from digest.core.settings import DKIMSettings

__all__ = ["DKIMSigner", "SIGNED_HEADERS", "MIN_KEY_BITS", "canonical_header", "canonical_body"]

# RFC 8058 section 4: the signature must cover List-Unsubscribe and List-Unsubscribe-Post.
# RFC 6376 5.4.1 lists what a signer should cover; Sender, Cc and the top-level
# Content-Transfer-Encoding are among them: absent from our messages, they are oversigned,
# so one added on the way breaks the signature.
SIGNED_HEADERS = (
    "from", "sender", "to", "cc", "subject", "date", "message-id", "reply-to", "list-id",
    "list-unsubscribe", "list-unsubscribe-post", "mime-version", "content-type", "content-transfer-encoding",
)
MIN_KEY_BITS = 1024  # RFC 8301 3.2: verifiers must not accept less
GOOD_KEY_BITS = 2048  # RFC 8301 3.2: signers should use at least this
_WSP = re.compile(rb"[ \t]+")
_FOLD = re.compile(rb"\r\n(?=[ \t])")
_TRAILING_EMPTY_LINES = re.compile(rb"(\r\n)+\Z")


def canonical_header(name: bytes, value: bytes) -> bytes:
    """RFC 6376 3.4.2 relaxed: lower-case name, unfold, one space per WSP run, trim; with CRLF."""
    value = _WSP.sub(b" ", _FOLD.sub(b"", value)).strip(b" ")
    return name.strip().lower() + b":" + value + b"\r\n"


def canonical_body(body: bytes) -> bytes:
    """RFC 6376 3.4.3 simple: empty lines at the end reduced to a single CRLF."""
    return _TRAILING_EMPTY_LINES.sub(b"", body) + b"\r\n"


def _headers(block: bytes) -> dict[bytes, list[bytes]]:
    """Every field's values by lower-case name, in message order."""
    found: dict[bytes, list[bytes]] = {}
    for field in re.split(rb"\r\n(?![ \t])", block):
        name, sep, value = field.partition(b":")
        if sep:
            found.setdefault(name.strip().lower(), []).append(value)
    return found


def _check_crlf(data: bytes) -> None:
    # Signed as-is, an LF-only message verifies nowhere once a relay turns its LFs into CRLFs.
    if data.count(b"\n") != data.count(b"\r\n"):
        raise ValueError("DKIM signing needs CRLF line ends; this message has bare LFs")


def read_private_key(path: Path) -> bytes:
    """The key file's bytes; refused when group or others may read it (as ssh refuses such a key).

    A signing key anyone on the machine can read lets them sign mail as the domain;
    it is checked on the open file, so a swap after the check cannot slip through.
    """
    try:
        with path.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if os.name == "posix" and mode & 0o077:
                raise ConfigError(
                    f"[dkim] the private key is readable by {'others' if mode & 0o007 else 'its group'} "
                    f"(mode {stat.S_IMODE(mode):04o}); run chmod 600 on it", path=str(path))
            return handle.read()
    except OSError as exc:
        raise ConfigError(f"[dkim] private_key_path: cannot read: {exc.strerror}", path=str(path)) from None


class DKIMSigner:
    """Signs messages for one selector and domain with a private key loaded once."""

    def __init__(self, settings: DKIMSettings, *, root: Path) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        path = Path(settings.private_key_path)
        if not path.is_absolute():
            path = root / path
        data = read_private_key(path)
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise ConfigError("[dkim] private_key_path is not an unencrypted PEM private key", path=str(path)) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError("[dkim] the key must be an RSA key (rsa-sha256)", path=str(path))
        if key.key_size < MIN_KEY_BITS:
            raise ConfigError(f"[dkim] the key has {key.key_size} bits; receivers ignore DKIM keys under "
                              f"{MIN_KEY_BITS} bits (RFC 8301): make a {GOOD_KEY_BITS}-bit key", path=str(path))
        self.key = key
        #: Something to tell the editor about the key (None when there is nothing to say).
        self.warning = (f"{path}: the DKIM key has {key.key_size} bits; use {GOOD_KEY_BITS} or more (RFC 8301)"
                        if key.key_size < GOOD_KEY_BITS else None)
        try:
            # Checked here too, for signers made without digest.toml: a ';' would add a tag.
            self.selector = check_selector(settings.selector)
            self.domain = ascii_domain(settings.domain)  # d= in DNS form: A-labels for an IDN
        except ValueError as exc:
            raise ConfigError(f"[dkim] {exc}") from None

    def sign(self, data: bytes, *, now: float | None = None) -> bytes:
        """Return the message with its DKIM-Signature header in front; `now` is its t= (default: the clock)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        _check_crlf(data)
        block, _, body = data.partition(b"\r\n\r\n")
        present = _headers(block)
        names: list[str] = []
        signed = b""
        for name in SIGNED_HEADERS:
            # RFC 6376 5.4.2: repeated fields are signed from the last one up; a name listed once
            # more than it occurs (oversigning, 8.15) makes any added copy break the signature.
            for value in reversed(present.get(name.encode(), [])):
                names.append(name)
                signed += canonical_header(name.encode(), value)
            names.append(name)
        body_hash = base64.b64encode(hashlib.sha256(canonical_body(body)).digest()).decode()
        listed = ":\r\n   ".join(":".join(names[i : i + 5]) for i in range(0, len(names), 5))
        tags = (f"v=1; a=rsa-sha256; c=relaxed/simple; d={self.domain}; s={self.selector};\r\n"
                f" t={int(time.time() if now is None else now)};\r\n h={listed};\r\n bh={body_hash};\r\n b=")
        # RFC 6376 3.7: the signature header itself, b= empty, canonicalised, without its CRLF.
        signed += canonical_header(b"DKIM-Signature", tags.encode())[:-2]
        signature = base64.b64encode(self.key.sign(signed, padding.PKCS1v15(), hashes.SHA256())).decode()
        folded = "\r\n  ".join(signature[i : i + 70] for i in range(0, len(signature), 70))
        return f"DKIM-Signature: {tags}{folded}\r\n".encode("ascii") + data
