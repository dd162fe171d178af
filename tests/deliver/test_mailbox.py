"""The embedded mailbox takes every address digest's own check takes, or refuses it at RCPT naming it (issue 22)."""

from __future__ import annotations

import asyncio
import mailbox
from pathlib import Path

from digest.compose import ComposedMessage
from digest.deliver.mailbox import embedded_mailbox, smtp_path
from digest.deliver.transport import Outcome, SMTPTransport
from digest.subscribers.address import check_address

ACCEPTED = [
    "=?utf-8?b?8j+qipcfkig=?=@example.org",  # looks like an RFC 2047 encoded word; a valid ASCII local part
    "=?iso-8859-1?q?caf=e9?=@example.org",
    "jos\u00e9@ex\u00e4mple.org",  # RFC 6531
    "\u7528\u6237@example.org",
    "plain.reader+tag@example.com",
]


def _send_all(outbox: Path, recipients: list[str]) -> list[Outcome]:
    async def go() -> list[Outcome]:
        async with embedded_mailbox(outbox) as settings:
            connection = await SMTPTransport(settings).connect()
            outcomes = []
            for n, address in enumerate(recipients):
                data = f"Subject: n{n}\r\nMessage-ID: <{n}@x>\r\n\r\nhello\r\n".encode()
                message = ComposedMessage(address, f"<{n}@x>", data, smtputf8=not address.isascii())
                outcomes.append(await connection.send(message, sender="weekly@news.example.com"))
            await connection.close()
            return outcomes

    return asyncio.run(go())


def test_every_address_digest_accepts_is_delivered_as_written(tmp_path: Path):
    for address in ACCEPTED:
        check_address(address)  # digest's own check takes each of them
    outcomes = _send_all(tmp_path / "outbox", ACCEPTED)
    assert [o.status for o in outcomes] == ["sent"] * len(ACCEPTED), outcomes
    box = mailbox.Maildir(tmp_path / "outbox", create=False)
    # Each stored message starts with its Return-Path (where bounces go), then its Delivered-To line.
    lines = [box.get_bytes(key).split(b"\r\n", 2) for key in box.keys()]
    assert all(line[0].startswith(b"Return-Path: <") for line in lines)
    stored = [line[1].decode().removeprefix("Delivered-To: ") for line in lines]
    assert sorted(stored) == sorted(ACCEPTED)


def test_an_address_the_check_refuses_is_refused_at_rcpt_by_name_and_spoils_nothing(tmp_path: Path):
    outcomes = _send_all(tmp_path / "outbox", ["two..dots@example.org", "ok@example.org"])
    refused, accepted = outcomes
    assert (refused.status, refused.stage, refused.code) == ("failed", "rcpt", 553)
    assert "<two..dots@example.org>" in refused.reply and "two periods" in refused.reply
    assert accepted.status == "sent"


def test_paths_are_read_as_written():
    assert smtp_path("<=?utf-8?b?8j+qipcfkig=?=@example.org>") == ("=?utf-8?b?8j+qipcfkig=?=@example.org", "")
    assert smtp_path('<"a >b"@example.org> SIZE=10') == ('"a >b"@example.org', "SIZE=10")
    assert smtp_path("<@relay.example:x@example.org>") == ("x@example.org", "")
    assert smtp_path("<> SIZE=10") == ("<>", "SIZE=10")
    assert smtp_path("no-brackets@example.org SIZE=3") == ("no-brackets@example.org", "SIZE=3")
    assert smtp_path("<unclosed@example.org") == (None, None)
    assert smtp_path("nobody") == (None, None)
