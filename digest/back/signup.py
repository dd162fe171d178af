"""Double opt-in: signed confirmation links and the confirmation mail, rendered once and filled per signup.

The link `/confirm/{token}` carries the signup id and its expiry, signed with
HMAC-SHA256 over them and the address (keyed by the workspace secret): a
forged, altered or expired link is refused before the store is asked, and a
used one is refused by the store (the signup is no longer pending).

The mail is rendered from `confirm.mjml.j2` and `confirm.txt.j2` (built in,
overridable in the workspace's templates/) through the issue's own machinery —
Jinja2 sandboxed, MJML, CSS inlined — once per list; each signup only fills
in its link and address. It has its own Message-ID, goes through the
configured relay or the embedded mailbox, and is DKIM-signed when [dkim] is.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

from markupsafe import Markup

from digest.compose import ComposedMessage
from digest.core import signing
from digest.core.settings import Settings, SignupSettings
from digest.core.verp import confirm_token as verp_confirm_token
from digest.core.verp import verp_address
from digest.core.workspace import Workspace
from digest.render import compile_mjml, fill_markers, inline_css, template_dirs
from digest.render.environment import make_environment
from digest.store.issues import email_key
from digest.store.signups import Signup, SignupLimits

__all__ = ["make_link_token", "read_link_token", "LinkToken", "ConfirmationMail", "limits_for", "offered_lists"]

_MAC_BYTES = 16
MAX_LINK_TOKEN = 200


@dataclass(frozen=True, slots=True)
class LinkToken:
    """What a confirmation link says (its MAC still to be checked against the signup's address)."""

    signup: int
    expires: int
    mac: bytes

    def valid_for(self, secret: bytes, email: str, *, now: float) -> bool:
        """True when we signed it for this address and it has not expired (constant-time compare)."""
        expected = _mac(secret, self.signup, self.expires, email_key(email))
        return signing.same(self.mac, expected) and now <= self.expires


def _mac(secret: bytes, signup: int, expires: int, key: str) -> bytes:
    payload = f"{signup:x}.{expires:x}\x00{key}".encode()
    return signing.mac(secret, purpose=b"digest-confirm", payload=payload, size=_MAC_BYTES)


def make_link_token(secret: bytes, signup: Signup) -> str:
    """The token of a signup's confirmation link."""
    expires = int(signup.expires_at)
    mac = signing.b64encode(_mac(secret, signup.id, expires, email_key(signup.email)))
    return f"{signup.id:x}.{expires:x}.{mac}"


# Canonical forms only, as make_link_token writes them: hex without leading zeros (15 digits at most for
# the id, so it stays inside PostgreSQL's BIGINT), and a MAC whose last base64url character carries no
# stray low bits (22 characters hold 132 bits for 128: the last one is one of 4 of its group of 16).
_LINK_TOKEN = re.compile(r"(0|[1-9a-f][0-9a-f]{0,14})\.([1-9a-f][0-9a-f]{0,15})\.([A-Za-z0-9_-]{21}[AQgw])")


def read_link_token(token: str) -> LinkToken | None:
    """Parse a link token; None when it is not one of ours, character for character.

    Another spelling of the same numbers or MAC (a leading zero, a changed last character
    that decodes to the same bytes) is refused: there is exactly one text per link.
    """
    match = _LINK_TOKEN.fullmatch(token) if len(token) <= MAX_LINK_TOKEN else None
    if match is None:
        return None
    signup, expires, mac = match.groups()
    try:
        data = signing.b64decode(mac)
    except ValueError:
        return None
    return LinkToken(int(signup, 16), int(expires, 16), data)


class Workplace(Protocol):
    """What the confirmation mail needs of a workspace (the app's Context is one)."""

    @property
    def settings(self) -> Settings:
        """digest.toml, read and checked."""
        ...

    @property
    def workspace(self) -> Workspace:
        """The folder layout: templates, outbox."""
        ...

    @property
    def secret(self) -> bytes:
        """The key that signs links and return paths."""
        ...


def offered_lists(signup: SignupSettings, *, subscribers: Path) -> tuple[str, ...]:
    """The lists the form offers: [signup] lists, else the names of subscribers/*.csv, else "newsletter"."""
    configured = signup.lists
    if configured:
        return configured
    found = tuple(sorted(p.stem for p in subscribers.glob("*.csv")
                         if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", p.stem)))
    return found or ("newsletter",)


def limits_for(s: SignupSettings) -> SignupLimits:
    """The abuse limits [signup] sets."""
    return SignupLimits(per_address=s.per_address, per_client=s.per_client, max_pending=s.max_pending,
                        ttl=s.confirm_days * 86400.0)


class ConfirmationMail:
    """Renders the confirmation mail once per list and sends one per signup."""

    def __init__(self, ctx: Workplace) -> None:
        self.ctx = ctx
        self.marker = "dgstc" + secrets.token_hex(6)
        self._rendered: dict[str, tuple[str, str, str]] = {}

    def _slot(self, index: int) -> Markup:
        # Our own random ASCII word, never content: safe to leave unescaped; values are escaped when filled.
        return Markup(f"{self.marker}f{index}z")  # nosec B704

    def render(self, list_name: str) -> tuple[str, str, str]:
        """(subject, html, text) with markers for the link (0) and the address (1), made once per list."""
        done = self._rendered.get(list_name)
        if done is not None:
            return done
        from digest.render import _render_template  # the issue's own error handling (file:line)

        settings = self.ctx.settings
        templates = self.ctx.workspace.templates
        env = make_environment(templates)
        context = {
            "newsletter": settings.newsletter, "theme": settings.theme, "list_name": list_name,
            "confirm_url": self._slot(0), "email": self._slot(1), "days": settings.signup.confirm_days,
            "year": time.gmtime().tm_year,
        }
        source = _render_template(env, "confirm.mjml.j2", context)
        page = inline_css(compile_mjml(source, "confirm.mjml.j2", template_dirs=template_dirs(templates)))
        text = _render_template(env, "confirm.txt.j2", context).strip() + "\n"
        subject = f"Confirm your subscription to {settings.newsletter.name}"
        self._rendered[list_name] = done = (subject, page, text)
        return done

    def compose(self, signup: Signup, url: str) -> ComposedMessage:
        """One signup's confirmation mail, ready for DATA."""
        settings = self.ctx.settings
        newsletter = settings.newsletter
        subject, page, text = self.render(signup.list)
        message = EmailMessage(policy=SMTP)
        message["From"] = newsletter.sender
        message["To"] = signup.email
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        nonce = signing.keyed_hex(self.ctx.secret, f"confirm\x1f{signup.id}".encode(), chars=24)
        message_id = f"<digest.confirm.{signup.id}.{nonce}@{newsletter.domain}>"
        message["Message-ID"] = message_id
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: responders must not answer it
        message.set_content(fill_markers(text, self.marker, [url, signup.email]))
        message.add_alternative(fill_markers(page, self.marker, [html.escape(url), html.escape(signup.email)]),
                                subtype="html")
        data = bytes(message)
        if settings.dkim:
            from digest.compose.dkim import DKIMSigner

            data = DKIMSigner(settings.dkim, root=self.ctx.workspace.root).sign(data)
        # Our SMTP connection sends the bytes as they are: stuff the dots here (RFC 5321 4.5.2).
        data = re.sub(rb"(?m)^\.", b"..", data)
        return_path = settings.bounces.return_path(newsletter)
        token = verp_confirm_token(self.ctx.secret, signup=signup.id, email_key=email_key(signup.email))
        return ComposedMessage(signup.email, message_id, data, not signup.email.isascii(),
                               verp_address(return_path, token))

    async def send(self, signup: Signup, url: str) -> None:
        """Send it through the relay, or the embedded mailbox; raise DeliveryError when refused."""
        from digest.deliver.outlet import send_one_message

        message = self.compose(signup, url)
        await send_one_message(self.ctx.settings.smtp, outbox=self.ctx.workspace.outbox, message=message,
                               sender=message.sender)
