"""VERP return paths: each message's envelope sender names its journal row, signed, so a bounce maps back.

`bounces+m1f.3e8.k2j4…@news.example.com`: the kind (`m` an issue's message,
`c` a signup confirmation), the issue and the journal row in hex, and 80 bits
of HMAC-SHA256 over them and the recipient's address. The recipient is not
spelled out (a local part holds 64 characters, an address 254); the row
names it, and the MAC proves the token is ours and still points at that
address. Lower-case letters and digits only: some servers fold the case of
a local part. Only the Return-Path changes; the From stays the newsletter's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.core import signing

__all__ = ["VerpToken", "message_token", "confirm_token", "verp_address", "find_token", "unsubscribe_address",
           "UNSUBSCRIBE_TAG"]

UNSUBSCRIBE_TAG = "unsubscribe"  # bounces+unsubscribe@…: the List-Unsubscribe mailto address
_TOKEN = re.compile(r"^([mc])([0-9a-f]{1,8})\.([0-9a-f]{1,12})\.([a-z2-7]{16})$")
_MAC_BYTES = 10


@dataclass(frozen=True, slots=True)
class VerpToken:
    """What a return path says: a message (issue, journal row) or a confirmation (signup)."""

    kind: str  # "m" | "c"
    issue: int  # 0 for a confirmation
    row: int  # the journal row, or the signup id
    mac: str

    def verify(self, secret: bytes, email_key: str) -> bool:
        """True when the token was made by us for this address (constant time)."""
        return signing.same(self.mac, _mac(secret, _payload(self.kind, self.issue, self.row), email_key))


def _payload(kind: str, issue: int, row: int) -> str:
    return f"{kind}{issue:x}.{row:x}"


def _mac(secret: bytes, payload: str, email_key: str) -> str:
    digest = signing.mac(secret, purpose=b"digest-verp", payload=payload.encode() + b"\x00" + email_key.encode(),
                         size=_MAC_BYTES)
    return signing.b32encode(digest)


def message_token(secret: bytes, *, issue: int, row: int, email_key: str) -> str:
    """The token for one journal row of an issue."""
    payload = _payload("m", issue, row)
    return f"{payload}.{_mac(secret, payload, email_key)}"


def confirm_token(secret: bytes, *, signup: int, email_key: str) -> str:
    """The token for a signup's confirmation mail."""
    payload = _payload("c", 0, signup)
    return f"{payload}.{_mac(secret, payload, email_key)}"


def verp_address(return_path: str, token: str) -> str:
    """`bounces@d` + token → `bounces+token@d`."""
    local, _, domain = return_path.rpartition("@")
    return f"{local}+{token}@{domain}"


def unsubscribe_address(return_path: str) -> str:
    """Where List-Unsubscribe's mailto points: the bounce mailbox, tagged."""
    return verp_address(return_path, UNSUBSCRIBE_TAG)


def find_token(address: str, return_path: str) -> VerpToken | None:
    """The token in an address of our bounce mailbox, unverified; None for any other address."""
    address = address.strip().strip("<>").lower()
    local, _, domain = address.rpartition("@")
    base_local, _, base_domain = return_path.lower().rpartition("@")
    if domain != base_domain or not local.startswith(base_local + "+"):
        return None
    match = _TOKEN.match(local[len(base_local) + 1:])
    if match is None:
        return None
    kind, issue, row, mac = match.groups()
    return VerpToken(kind, int(issue, 16), int(row, 16), mac)
