"""Plain-text notices: whose words are whose. Found by an attack pass: a failed forward named the
reader it came from, and a notice of two recipients gave the second the first one's words."""

from __future__ import annotations

from digest.back.parse import parse_report, worst

RETURN_PATH = "bounces@news.example.com"


def _notice(body: str) -> bytes:
    return ("From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\nTo: bounces@news.example.com\r\n"
            "Subject: Mail delivery failed: returning message to sender\r\nMessage-ID: <n1@mx.example.net>\r\n"
            "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\n" + body.replace("\n", "\r\n")).encode()


def _kind(raw: bytes, reader: str) -> str | None:
    report = parse_report(raw, return_path=RETURN_PATH)
    finding = worst([f for f in report.findings if f.email.lower() == reader])
    return finding.kind if finding else None


def test_a_failed_forward_in_exims_words_is_not_the_readers_failure() -> None:
    raw = _notice("This message was created automatically by mail delivery software.\n\n"
                  "A message that you sent could not be delivered to one or more of its\n"
                  "recipients. This is a permanent error. The following address(es) failed:\n\n"
                  "  carol.old@oldjob.example.net\n    (generated from carol@example.com)\n"
                  "    host mx.oldjob.example.net [192.0.2.9]\n"
                  "    SMTP error from remote mail server after RCPT TO:<carol.old@oldjob.example.net>:\n"
                  "    550 5.1.1 <carol.old@oldjob.example.net>: User unknown in virtual mailbox table\n")
    assert _kind(raw, "carol@example.com") in (None, "refused")


def test_a_failed_forward_in_postfixs_plain_words_is_not_the_readers_failure() -> None:
    raw = _notice("I'm sorry to have to inform you that your message could not\nbe delivered to one or more "
                  "recipients.\n\n<carol.old@oldjob.example.net> (expanded from <carol@example.com>): host\n"
                  "    mx.oldjob.example.net[192.0.2.9] said: 550 5.1.1 <carol.old@oldjob.example.net>:\n"
                  "    Recipient address rejected: User unknown (in reply to RCPT TO command)\n")
    assert _kind(raw, "carol@example.com") in (None, "refused")


def test_each_recipient_of_a_qmail_notice_gets_its_own_words() -> None:
    raw = _notice("Hi. This is the qmail-send program at mx.example.net.\nI'm afraid I wasn't able to deliver "
                  "your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it "
                  "didn't work out.\n\n<other@example.org>:\n550 5.1.1 user unknown\n<carol@example.com>:\n"
                  "552 5.2.2 mailbox carol is over quota (#5.2.2)\n")
    assert _kind(raw, "other@example.org") == "hard"
    assert _kind(raw, "carol@example.com") == "soft"
