"""Real bounces of many mail systems (sisimai's set, tests/fixtures/bounces), read as delivered to our VERP address.

One case per recogniser (a mail system's own shape of notice) and per rule where the server's own
code and words overrule the DSN's Status; what is asserted is what a list owner sees: who is
suppressed at once (hard), who is only counted (soft), whose refusal is recorded but never held
against them (refused).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.app.context import Context
from digest.back.parse import parse_report, worst
from digest.back.policy import classify_reply
from digest.cli import main
from tests.back_helpers import drop, send_issue

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bounces"
RETURN_PATH = "bounces@news.example.com"


def _read(name: str, reader: str = ""):  # type: ignore[no-untyped-def]
    raw = (FIXTURES / name).read_bytes()
    report = parse_report(raw, return_path=RETURN_PATH)
    mine = [f for f in report.findings if f.email.lower() == reader.lower()]
    return report, worst(mine)


@pytest.mark.parametrize(("name", "reader", "kind"), [
    ("lhost-dragonfly-09.eml", "filtered@libsisimai.net", "hard"),  # DragonFly: "did not like our RCPT TO"
    ("lhost-verizon-01.eml", "0000000000@vzwpix.com", "hard"),
    ("lhost-ezweb-07.eml", "this-local-part-does-not-exist@ezweb.ne.jp", "hard"),  # ISO-2022-JP notice
    ("lhost-notes-03.eml", "kijitora@example.com", "hard"),  # Lotus Notes: the reason before the address
    ("lhost-x3-01.eml", "kijitora@example.com", "hard"),
    ("lhost-opensmtpd-01.eml", "apdugoaidugoaidugoaeiudggadi@gmail.com", "hard"),
    ("lhost-trendmicro-01.eml", "kijitora@example.co.jp", "hard"),
    ("lhost-amazonworkmail-01.eml", "kijitora@example.jp", "hard"),  # RFC 3464 fields in a plain text part
    ("lhost-office365-01.eml", "kijitora@example.com", "hard"),  # Office 365's plain-text notice
    ("lhost-yahoo-01.eml", "kijitora@example.org", "hard"),  # Yahoo's old format
    ("lhost-activehunter-01.eml", "kijitora@example.org", "hard"),  # multipart/report without its report part
    ("lhost-sendgrid-03.eml", "kijitora@example.org", "soft"),  # "Connection timed out": the path, not the reader
    ("lhost-kddi-01.eml", "kijitora@x0000000000000.dion.ne.jp", "soft"),  # au: "their mailbox is full"
    ("lhost-sendmail-15.eml", "kijitora@example.org", "hard"),  # Final-Recipient "@mx.example.org": the original's
    ("lhost-amazonses-09.eml", "bounce@simulator.amazonses.com", "hard"),  # SES JSON notification by mail
])
def test_each_mail_systems_notice_is_recognised(name: str, reader: str, kind: str):
    report, finding = _read(name, reader)
    assert report.category in ("dsn", "bounce"), report.why
    assert finding is not None and finding.kind == kind, (report.findings, finding)


def test_a_sendmail_notice_of_four_recipients_judges_each_by_its_own_words():
    report, _ = _read("lhost-v5sendmail-05.eml")
    kinds = {f.email: f.kind for f in report.findings}
    assert kinds["kuroneko@example.or.jp"] == "hard"  # 550 Host unknown
    assert kinds["mikeneko@example.co.jp"] == "hard"  # User unknown
    assert kinds["kijitora@example.edu"] != "hard"  # "Remote protocol error: Connection reset by peer"


@pytest.mark.parametrize(("name", "reader", "kind", "status"), [
    # Status: 5.1.1, but "550 5.7.1 IP address blacklisted by recipient": our message was refused
    ("lhost-sendmail-33.eml", "mailboxfull@neko.example.org", "refused", "5.7.1"),
    ("rhost-aol-03.eml", "sabineko@example.jp", "soft", "5.2.2"),  # 552 5.2.2 Mailbox Full: a live reader
    ("rhost-aol-03.eml", "mikeneko@example.jp", "hard", "5.1.1"),  # same report, recipients not parted
    ("lhost-postfix-59.eml", "kijitora@ggl.example.org", "soft", "5.2.1"),  # Gmail: "receiving mail at a rate"
    ("rhost-godaddy-03.eml", "kijitora@example.com", "soft", "5.1.1"),  # "has sent to too many recipients"
    # SES: "5.1.0 - Unknown address error 550-'5.2.2 … Mailbox Full'": the wrapped code decides
    ("lhost-amazonses-03.eml", "kijitora@example.jp", "soft", "5.2.2"),
    # Postfix 5.4.4 "Name service error … Malformed or unexpected name server reply": a passing DNS fault
    ("lhost-postfix-17.eml", "kijitora@example.org", "soft", "5.4.4"),
    ("lhost-office365-07.eml", "otsu-sakaba-hunter-neko-nyaaaaaaan@ezweb.ne.jp", "hard", "5.1.351"),
    ("lhost-mimecast-01.eml", "sabineko@neko.ef.example.org", "hard", "5.4.1"),  # "Access denied" = no such user
    # "550 User unknown (in reply to end of DATA command)": a filter, the address took RCPT TO
    ("lhost-postfix-35.eml", "otsu-sakaba-hunter-neko-nyaaaaaaan@ezweb.ne.jp", "soft", "5.0.0"),
])
def test_the_servers_own_words_overrule_the_status(name: str, reader: str, kind: str, status: str):
    _, finding = _read(name, reader)
    assert finding is not None and (finding.kind, finding.status) == (kind, status), finding


@pytest.mark.parametrize(("status", "text", "kind"), [
    ("5.1.1", "552 sorry, mailbox kijitora@example.org is over quota temporarily (#5.1.1)", "soft"),
    ("5.1.1", "550 5.7.1 IP address blacklisted", "refused"),
    ("5.0.0", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", "hard"),
    ("5.0.0", "550 5.1.351 Remote server returned unknown recipient -> 550 User unknown", "hard"),
    ("5.1.1", "550 5.1.1 <kijitora@example.com> - has sent to too many recipients this hour", "soft"),
    ("5.4.4", "Host or domain name not found. Name service error for name=example.jp type=A: Host not found",
     "hard"),
])
def test_classify_reply_rules(status: str, text: str, kind: str):
    assert classify_reply(status, text)[0] == kind


def test_complaints_in_every_shape_and_what_is_no_bounce():
    ses, _ = _read("lhost-amazonses-11.eml")
    assert ses.category == "complaint" and ses.findings[0].email == "complaint@simulator.amazonses.com"
    hotmail, _ = _read("arf-23.eml")  # multipart/mixed "complaint about message from 192.0.2.222"
    assert hotmail.category == "complaint" and hotmail.findings[0].email == "kijitora@example.com"
    assert _read("arf-01.eml")[0].category == "complaint"
    _, finding = _read("lhost-amazonses-13.eml", "complaint@simulator.amazonses.com")
    assert finding is not None and finding.kind == "delivered"
    assert _read("is-not-bounce-01.eml")[0].category == "unrecognised"
    assert _read("rfc3834-01.eml")[0].category == "auto-reply"


def test_a_bounce_marked_auto_submitted_is_a_bounce_not_an_auto_reply(workspace: Path, runner):
    reader = "kijitora@nyaan.example.org"
    sent = send_issue(workspace, runner, [reader])
    raw = (FIXTURES / "lhost-x6-01.eml").read_bytes()
    assert b"Auto-Submitted: auto-replied" in raw
    maildir = workspace / "bounces"
    drop(maildir, "x6.eml", f"Delivered-To: {sent[reader].verp}\n".encode() + raw)
    result = runner.invoke(main, ["inbox", "process", "-v"])
    assert result.exit_code == 0, result.output + result.stderr
    assert f"x6.eml: bounce: {reader} soft" in result.output, result.output
    assert "auto-reply" not in result.output
    assert list((maildir / ".Processed" / "cur").iterdir())  # filed away as handled


def test_an_arf_opt_out_unsubscribes_from_that_list_only(workspace: Path, runner):
    reader = "optout@example.com"
    sent = send_issue(workspace, runner, [reader], list_name="weekly")
    send_issue(workspace, runner, ["someone@example.com"], list_name="daily")
    text = (Path(__file__).resolve().parent.parent / "fixtures" / "back" / "arf_complaint.eml").read_text()
    message = (text.replace("Feedback-Type: abuse", "Feedback-Type: opt-out").replace("{VERP}", sent[reader].verp)
               .replace("{RCPT}", reader).replace("{MSGID}", sent[reader].message_id)
               .replace("{UNSUB}", sent[reader].unsubscribe))
    drop(workspace / "bounces", "optout.eml", message.replace("\n", "\r\n").encode())
    result = runner.invoke(main, ["inbox", "process", "-v"])
    assert f"optout.eml: unsubscribe: {reader} unsubscribe" in result.output, result.output
    with Context(workspace) as ctx:
        assert ctx.store.suppressed_among([reader.lower()], list_name="weekly") == {reader.lower()}
        assert ctx.store.suppressed_among([reader.lower()], list_name="daily") == set()


def test_an_out_of_office_with_a_null_sender_naming_the_reader_is_no_bounce():
    raw = (b"Return-Path: <>\r\nFrom: Reader <reader@example.com>\r\nSubject: Automatic reply: Weekly\r\n\r\n"
           b"I (reader@example.com) am out of office until Monday; the address user unknown to you: "
           b"colleague@example.com.\r\n")
    report = parse_report(raw, return_path=RETURN_PATH)
    assert report.category == "auto-reply" and report.findings == []
