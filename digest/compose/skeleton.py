"""Build each recipient's message from a skeleton made once per issue.

The rendered HTML and text are split at their personal-field markers once;
the static pieces are quoted-printable encoded once. Per recipient only the
field values are escaped and encoded, and each is framed by soft line breaks
(`=\\r\\n`) so every line stays within 76 characters whatever the value's
length. No line of the result starts with '.', so DATA needs no dot-stuffing.
"""

from __future__ import annotations

import hashlib
import html
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate
from urllib.parse import quote

from digest.compose.dkim import DKIMSigner
from digest.compose.qp import qp_encode, qp_value
from digest.compose.subject import fold_subject, list_id_field
from digest.compose.tokens import manage_url, sign_manage_token, sign_token
from digest.core import signing
from digest.core.model import Rendered, Subscriber
from digest.core.names import derive_list_id
from digest.core.settings import Newsletter
from digest.core.verp import message_token, unsubscribe_address, verp_address
from digest.render.tracking import CLICK_READER_FIELD, sign_reader

__all__ = ["ComposedMessage", "MessageSkeleton", "unsubscribe_url", "message_id_mac", "ESP_METADATA_HEADER"]

# Postmark reports a bounce with its own MessageID and the message's metadata only: ours goes there.
ESP_METADATA_HEADER = "X-PM-Metadata-digest-id"

_SOFT_BREAK = b"=\r\n"
_UNSAFE_HEADER = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class ComposedMessage:
    """One recipient's message, ready for DATA (CRLF line ends, no dot-stuffing needed)."""

    recipient: str
    message_id: str
    data: bytes
    smtputf8: bool = False
    sender: str = ""  # the envelope sender (VERP return path); "" = the transport's default


def message_id_mac(secret: bytes, issue: int, email_key: str) -> str:
    """The signed part of an issue's Message-ID for one reader: `<digest.ISSUE.MAC@domain>`."""
    return signing.keyed_hex(secret, f"{issue}\x1f{email_key}".encode(), chars=24)


def unsubscribe_url(base_url: str, token: str) -> str:
    """The one-click unsubscribe URL for a token."""
    return f"{base_url.rstrip('/')}/u/{token}"


class _Part:
    """One MIME body part split at its markers: static bytes and field slots."""

    def __init__(self, text: str, marker: str, escape: Callable[[str], str]) -> None:
        chunks = re.split(re.escape(marker) + r"f(\d+)z", text)
        self.static = [qp_encode(chunk) for chunk in chunks[0::2]]
        self.slots = [int(index) for index in chunks[1::2]]
        self.escape = escape

    def fill(self, values: list[str], out: list[bytes]) -> None:
        """Append this part for one recipient: static pieces and encoded values."""
        static, escape = self.static, self.escape
        out.append(static[0])
        for position, index in enumerate(self.slots, start=1):
            out.append(_SOFT_BREAK)
            out.append(qp_value(escape(values[index])))
            out.append(_SOFT_BREAK)
            out.append(static[position])


def _text_escape(value: str) -> str:
    return _UNSAFE_HEADER.sub(" ", value)


def _html_escape(value: str) -> str:
    return html.escape(_UNSAFE_HEADER.sub(" ", value), quote=True)


class MessageSkeleton:
    """Everything about an issue's message that is the same for every recipient."""

    def __init__(
        self,
        rendered: Rendered,
        newsletter: Newsletter,
        *,
        secret: bytes,
        list_name: str = "",
        clock: Callable[[], float] = time.time,
        signer: DKIMSigner | None = None,
        return_path: str = "",
        esp: str = "",
    ) -> None:
        self.rendered = rendered
        self.newsletter = newsletter
        self.secret = secret
        self.list_name = list_name
        self.clock = clock
        self.signer = signer
        # With a return path, each journaled message's envelope sender is bounces+TOKEN@… (VERP)
        # and the mailto unsubscribe goes to the bounce mailbox, where `digest serve --smtp` reads it.
        self.return_path = return_path
        self.esp = esp  # "postmark": our Message-ID also goes where its bounce webhook reports it (metadata)
        self._mailto = unsubscribe_address(return_path) if return_path else newsletter.sender_address
        self.fields = rendered.fields
        self._wants_manage = "manage_url" in rendered.fields
        self.domain = newsletter.domain
        # '=_' never occurs in QP text, so any boundary starting with it is safe; derived from the
        # render's marker (random per render, or derived from the issue) a rebuild repeats it.
        self.boundary = f"=_digest_{hashlib.sha256(rendered.marker.encode()).hexdigest()[:24]}"
        self._date_second = -1
        self._date_header = b""
        self._static_headers = self._encode_static_headers()
        self._text = _Part(rendered.text, rendered.marker, _text_escape)
        self._html = _Part(rendered.html, rendered.marker, _html_escape)
        self._body_open = (
            f"MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/alternative; boundary="{self.boundary}"\r\n'
            f"X-Digest-Issue: {rendered.number}\r\n"
            f"\r\n"
            f"This is a multi-part message in MIME format.\r\n"
            f"\r\n--{self.boundary}\r\n"
            f'Content-Type: text/plain; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode("ascii")
        self._between = (
            f"\r\n--{self.boundary}\r\n"
            f'Content-Type: text/html; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode("ascii")
        self._close = f"\r\n--{self.boundary}--\r\n".encode("ascii")

    def _encode_static_headers(self) -> bytes:
        # Built once with the stdlib so folding and RFC 2047 are right; the Subject is folded
        # by fold_subject, which keeps its first words on the first line as mail clients do.
        senders = EmailMessage(policy=SMTP)
        senders["From"] = self.newsletter.sender
        if self.newsletter.reply_to:
            senders["Reply-To"] = self.newsletter.reply_to
        subject = fold_subject(_UNSAFE_HEADER.sub(" ", self.rendered.subject))
        # RFC 2919: a phrase, then <label.namespace> in dot-atom text; a list file called
        # "My List (2026).csv" becomes my-list-2026.<domain>.
        list_id = self.newsletter.list_id or derive_list_id(self.list_name or "digest", self.domain)
        lists = list_id_field(self.newsletter.name, list_id) + b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        # bytes() ends each header block with a blank line: drop it.
        return bytes(senders)[:-2] + subject + lists

    def _date(self) -> bytes:
        now = self.clock()
        second = int(now)
        if second != self._date_second:
            self._date_second = second
            self._date_header = f"Date: {formatdate(now, usegmt=True)}\r\n".encode("ascii")
        return self._date_header

    def message_id(self, email_key: str) -> str:
        """Deterministic per (issue, recipient), so a resend after a crash is recognisable."""
        digest = message_id_mac(self.secret, self.rendered.number, email_key)
        return f"<digest.{self.rendered.number}.{digest}@{self.domain}>"

    def manage_link(self, email_key: str) -> str:
        """The reader's manage page (signed, long-lived): only made when the templates ask for it."""
        return manage_url(self.newsletter.base_url, sign_manage_token(self.secret, email=email_key))

    def values_for(self, subscriber: Subscriber, unsubscribe: str) -> list[str]:
        """The raw values of the template's personal fields for one subscriber."""
        values: list[str] = []
        # One HMAC per recipient, and only when a template shows the link: no template work per recipient.
        links = {"unsubscribe_url": unsubscribe,
                 "manage_url": self.manage_link(subscriber.key) if self._wants_manage else ""}
        for name in self.fields:
            if name.startswith("url:"):
                values.append(self._link_value(name[4:], values, subscriber, links))
            elif name == CLICK_READER_FIELD:  # [tracking] per_reader: who clicked, signed
                values.append(sign_reader(self.secret, subscriber.key))
            else:
                values.append(self.field_value(subscriber, name, links))
        return values

    def _link_value(self, link: str, values: list[str], subscriber: Subscriber, links: dict[str, str]) -> str:
        """A link made with personal fields, put together whole and checked now that its values are known."""
        from digest.render.environment import safe_url

        marker = re.compile(re.escape(self.rendered.marker) + r"f(\d+)z")
        if marker.search(link) is None:
            # Issues rendered before links were checked whole name one field: `url:attrs.site`.
            return safe_url(self.field_value(subscriber, link, links))
        # A link's markers name fields listed before it (the filter registers it after them).
        filled = marker.sub(lambda m: values[int(m.group(1))] if int(m.group(1)) < len(values) else "", link)
        return safe_url(filled)

    def envelope_sender(self, email_key: str, row: int | None) -> str:
        """The Return-Path of one message: VERP for a journal row, else the bounce mailbox (or From)."""
        if not self.return_path:
            return ""
        if row is None:
            return self.return_path
        token = message_token(self.secret, issue=self.rendered.number, row=row, email_key=email_key)
        return verp_address(self.return_path, token)

    @staticmethod
    def field_value(subscriber: Subscriber, name: str, links: dict[str, str]) -> str:
        """The raw value of one personal field ('' for an unknown one); `links`: the reader's own URLs."""
        if name == "email":
            return subscriber.email
        if name == "name":
            return subscriber.name
        if name in links:
            return links[name]
        if name.startswith("attrs."):
            return str(subscriber.attrs.get(name[6:], ""))
        return ""

    def personalised(self, subscriber: Subscriber, unsubscribe: str) -> tuple[str, str]:
        """The HTML and text as this subscriber reads them, escaped exactly as in the message (for previews)."""
        values = self.values_for(subscriber, unsubscribe)
        marker = re.compile(re.escape(self.rendered.marker) + r"f(\d+)z")
        html = marker.sub(lambda m: _html_escape(values[int(m.group(1))]), self.rendered.html)
        text = marker.sub(lambda m: _text_escape(values[int(m.group(1))]), self.rendered.text)
        return html, text

    def test_message_id(self) -> str:
        """A fresh Message-ID for a test copy: never the one the real message to that address will carry."""
        return f"<digest.{self.rendered.number}.test.{secrets.token_hex(12)}@{self.domain}>"

    def compose(self, subscriber: Subscriber, *, list_name: str | None = None, row: int | None = None,
                message_id: str | None = None) -> ComposedMessage:
        """Build one subscriber's message bytes; `row` (the journal row) makes the VERP return path.

        The Message-ID is the deterministic one of (issue, recipient) unless one is given (test copies).
        """
        email = subscriber.email
        key = subscriber.key
        token = sign_token(
            self.secret, email=key, list_name=list_name or self.list_name, issue=self.rendered.number
        )
        message_id = message_id or self.message_id(key)
        smtputf8 = not email.isascii()
        name = _UNSAFE_HEADER.sub(" ", subscriber.name).strip()
        if smtputf8:
            # RFC 6532: with SMTPUTF8 the header carries UTF-8 as it is; the name is always a
            # quoted-string (RFC 5322 3.2.4) so a comma or a quote in it cannot split the address.
            quoted = name.replace("\\", "\\\\").replace('"', '\\"')
            to = f'"{quoted}" <{email}>' if name else email
        else:
            to = formataddr((name, email), charset="utf-8")
        url = unsubscribe_url(self.newsletter.base_url, token)
        mailto = f"mailto:{self._mailto}?subject={quote('unsubscribe ' + token)}"
        out: list[bytes] = [
            self._static_headers,
            f"To: {to}\r\n".encode(),
            self._date(),
            f"Message-ID: {message_id}\r\n".encode("ascii"),
            f"{ESP_METADATA_HEADER}: {message_id.strip('<>').partition('@')[0]}\r\n".encode("ascii")
            if self.esp == "postmark" else b"",
            f"List-Unsubscribe: <{url}>,\r\n <{mailto}>\r\n".encode("ascii"),
            self._body_open,
        ]
        values = self.values_for(subscriber, url)
        self._text.fill(values, out)
        out.append(self._between)
        self._html.fill(values, out)
        out.append(self._close)
        data = b"".join(out)
        if self.signer is not None:
            data = self.signer.sign(data, now=self._date_second)  # t= is the Date: header's second
        return ComposedMessage(email, message_id, data, smtputf8, self.envelope_sender(key, row))

