"""Optional DKIM signatures (RFC 6376) with dkimpy over each message's final bytes."""

from __future__ import annotations

from pathlib import Path

from digest.config import DKIMSettings
from digest.errors import ConfigError

__all__ = ["DKIMSigner", "SIGNED_HEADERS"]

# RFC 8058 section 4: the signature must cover List-Unsubscribe and List-Unsubscribe-Post.
SIGNED_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"list-id",
    b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version", b"content-type",
)


class DKIMSigner:
    """Signs messages for one selector and domain with a private key read once."""

    def __init__(self, settings: DKIMSettings, *, root: Path) -> None:
        path = Path(settings.private_key_path)
        if not path.is_absolute():
            path = root / path
        try:
            self.key = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"[dkim] private_key_path: cannot read: {exc.strerror}", path=str(path)) from None
        if b"PRIVATE KEY" not in self.key:
            raise ConfigError("[dkim] private_key_path is not a PEM private key", path=str(path))
        self.selector = settings.selector.encode("ascii")
        self.domain = settings.domain.encode("ascii")

    def sign(self, data: bytes) -> bytes:
        """Return the message with its DKIM-Signature header in front."""
        import dkim

        try:
            signature = dkim.sign(data, self.selector, self.domain, self.key, include_headers=list(SIGNED_HEADERS),
                                  linesep=b"\r\n")
        except dkim.DKIMException as exc:
            raise ConfigError(f"[dkim] cannot sign: {exc}") from None
        return bytes(signature) + data
