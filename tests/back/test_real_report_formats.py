"""What comes back, read the way real mail systems write it (issue 15 attack findings).

Exim DSNs always say `Status: 5.0.0`; Postfix writes 5.0.0 for a remote reply
without an enhanced code; group aliases fail one member at a time; DMARC and
virus reports are ARF too; people write to the bounce address. Each case goes
through `digest inbox process` on a real Maildir and the store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.app.context import Context
from digest.back.parse import parse_report
from digest.cli import main
from tests.back_helpers import drop, fill, send_issue

READERS = [f"r{i}@example.com" for i in range(8)]
RETURN_PATH = "bounces@news.example.com"


def _process(workspace: Path, runner, name: str, data: bytes):  # type: ignore[no-untyped-def]
    drop(workspace / "bounces", name, data)
    result = runner.invoke(main, ["inbox", "process", "--maildir", "bounces", "-v"])
    assert result.exit_code == 0, result.output + result.stderr
    return result


def _state(workspace: Path, address: str) -> tuple[list[str], dict[str, str]]:
    with Context(workspace) as ctx:
        return ([e.kind for e in ctx.store.bounce_events(address)],
                {s.email: s.reason for s in ctx.store.suppressions()})


# fixture, the event it records, whether the reader is suppressed at once
@pytest.mark.parametrize(("name", "kind", "suppressed"), [
    ("exim_dsn.eml", "hard", True),  # Status 5.0.0, Diagnostic-Code 550 5.1.1: the reply decides
    ("exim_full_dsn.eml", "soft", False),  # Status 5.0.0, 552 5.2.2 mailbox full
    ("exim_spam_dsn.eml", "refused", False),  # Status 5.0.0, 550 5.7.1 spam
    ("exim_policy_dsn.eml", "refused", False),  # Status 5.0.0, 550 5.7.26 DMARC
    ("postfix_spam_no_code.eml", "refused", False),  # Status 5.0.0, "550 Message rejected as spam" (no code)
])
def test_a_generic_dsn_status_gives_way_to_the_servers_reply(workspace: Path, runner, name, kind, suppressed):
    sent = send_issue(workspace, runner, READERS[:1])
    _process(workspace, runner, name, fill(name, sent[READERS[0]]))
    events, suppressions = _state(workspace, READERS[0])
    assert events == [kind]
    assert suppressions == ({READERS[0]: "bounced"} if suppressed else {})


def test_a_bare_5_0_0_is_counted_not_suppressed_at_once(workspace: Path, runner):
    sent = send_issue(workspace, runner, READERS[:1])
    data = fill("exim_full_dsn.eml", sent[READERS[0]]).replace(
        b"Diagnostic-Code: smtp; 552 5.2.2", b"X-Diagnostic: smtp; 552 5.2.2")
    _process(workspace, runner, "bare", data)
    assert _state(workspace, READERS[0]) == (["soft"], {})


def test_delay_notices_are_filed_and_never_counted(workspace: Path, runner):
    sent = send_issue(workspace, runner, READERS[:1])
    for i in range(4):  # four delay notices of one message, as a slow mailbox sends them
        data = fill("exim_delay.eml", sent[READERS[0]]).replace(b"delayed 24 hours", f"delayed {i} hours".encode())
        result = _process(workspace, runner, f"delay{i}", data)
        assert "delayed (not counted)" in result.output
    assert _state(workspace, READERS[0]) == ([], {})
    assert not list((workspace / "bounces" / "new").iterdir())  # handled: filed away


@pytest.mark.parametrize(("name", "why"), [
    ("arf_dmarc_auth_failure.eml", "auth-failure"),  # RFC 6591: a DMARC failure report, about our domain
    ("arf_virus.eml", "virus"),  # a scanner's report
])
def test_feedback_reports_that_are_not_complaints_never_suppress(workspace: Path, runner, name, why):
    sent = send_issue(workspace, runner, READERS[:1])
    result = _process(workspace, runner, name, fill(name, sent[READERS[0]]))
    assert f"feedback report of type {why}" in result.output and "1 left in the mailbox" in result.output
    assert _state(workspace, READERS[0]) == ([], {})


def test_a_fraud_report_is_a_complaint(workspace: Path, runner):
    sent = send_issue(workspace, runner, READERS[:1])
    data = fill("arf_complaint.eml", sent[READERS[0]]).replace(b"Feedback-Type: abuse", b"Feedback-Type: fraud")
    _process(workspace, runner, "fraud", data)
    assert _state(workspace, READERS[0]) == (["complaint"], {READERS[0]: "complained"})


def _alias_dsn(sent, member: str) -> bytes:  # type: ignore[no-untyped-def]
    """A Postfix DSN for one member of a group address we sent to (virtual alias expansion keeps ORCPT)."""
    data = fill("exim_dsn.eml", sent).decode()
    data = data.replace(f"Final-Recipient: rfc822;{sent.recipient}",
                        f"Final-Recipient: rfc822;{member}\r\nOriginal-Recipient: rfc822;{sent.recipient}")
    data = data.replace("Status: 5.0.0", "Status: 5.1.1")
    return data.replace(f"<{sent.recipient}>: Recipient", f"<{member}>: Recipient").encode()


def test_one_dead_member_of_a_group_address_does_not_suppress_the_group(workspace: Path, runner):
    group = "team@example.org"
    sent = send_issue(workspace, runner, [group])
    _process(workspace, runner, "alias", _alias_dsn(sent[group], "dead@members.example.org"))
    with Context(workspace) as ctx:
        [event] = ctx.store.bounce_events(group)
        assert list(ctx.store.suppressions()) == []
        assert ctx.store.bounce_events("dead@members.example.org") == []
    assert event.kind == "refused" and "expanded to dead@members.example.org" in event.diagnostic


def test_a_dsn_about_the_address_we_sent_to_still_suppresses_with_an_original_recipient(workspace: Path, runner):
    sent = send_issue(workspace, runner, READERS[:1])
    data = fill("office365_dsn.eml", sent[READERS[0]])  # Original- and Final-Recipient both ours
    _process(workspace, runner, "o365", data)
    assert _state(workspace, READERS[0]) == (["hard"], {READERS[0]: "bounced"})


@pytest.mark.parametrize("name", ["human_absence.eml", "fbl_registration.eml"])
def test_mail_not_tied_to_us_is_left_alone_even_when_it_looks_automatic(workspace: Path, runner, name):
    sent = send_issue(workspace, runner, READERS[:1])
    path = drop(workspace / "bounces", name, fill(name, sent[READERS[0]]))
    before = path.read_bytes()
    result = runner.invoke(main, ["inbox", "process", "--maildir", "bounces", "-v"])
    assert "1 left in the mailbox" in result.output, result.output
    assert path.exists() and path.read_bytes() == before  # same place, same name (no flag), same bytes


def test_a_person_writing_to_a_verp_address_is_no_bounce(workspace: Path, runner):
    sent = send_issue(workspace, runner, READERS[:1])
    result = _process(workspace, runner, "human", fill("human_no_longer_here.eml", sent[READERS[0]]))
    assert "1 left in the mailbox" in result.output
    assert _state(workspace, READERS[0]) == ([], {})


def test_an_auto_reply_to_our_issue_is_filed(workspace: Path, runner):
    sent = send_issue(workspace, runner, READERS[:1])
    result = _process(workspace, runner, "vac", fill("vacation.eml", sent[READERS[0]]))
    assert "auto-reply, ignored" in result.output and "0 left in the mailbox" in result.output


def test_a_bounce_with_an_8bit_from_prints_no_traceback(workspace: Path, runner):
    import subprocess
    import sys

    sent = send_issue(workspace, runner, READERS[:1])
    data = fill("qmail_bounce.eml", sent[READERS[0]]).replace(
        b"From: MAILER-DAEMON@qmail.example.net", "From: Système <MAILER-DAEMON@qmail.example.net>".encode("latin-1"))
    drop(workspace / "bounces", "8bit", data)
    # A process of its own: flufl.bounce logs through the logging module's last-resort handler to stderr.
    run = subprocess.run([sys.executable, "-m", "digest", "inbox", "process", "--maildir", "bounces"],
                         cwd=workspace, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert "1 message(s)" in run.stdout


def test_hostile_sizes_cost_bounded_work():
    """3,000 VERP-shaped addresses, 2,000 fake Message-IDs, 50,000 MIME parts: each read a bounded amount."""
    many_to = b"From: x@y.example\nTo: " + b", ".join(
        b"bounces+m1.%x.aaaaaaaaaaaaaaaa@news.example.com" % i for i in range(3000)) + b"\n\nbody\n"
    report = parse_report(many_to, return_path=RETURN_PATH)
    assert 0 < len(report.tokens) <= 20
    ids = "".join(f"Message-ID: <digest.1.{i:024x}@news.example.com>\n" for i in range(2000))
    blocks = "".join(f"Final-Recipient: rfc822; u{i}@victim.example\nAction: failed\nStatus: 5.1.1\n\n"
                     for i in range(2000))
    dsn = (f"From: MAILER-DAEMON@evil.example\nTo: {RETURN_PATH}\nMIME-Version: 1.0\nContent-Type: multipart/report; "
           f'report-type=delivery-status; boundary="BB"\n\n--BB\nContent-Type: message/delivery-status\n\n'
           f"Reporting-MTA: dns; evil.example\n\n{blocks}--BB\nContent-Type: text/rfc822-headers\n\n{ids}\n--BB--\n")
    report = parse_report(dsn.encode(), return_path=RETURN_PATH)
    assert len(report.message_ids) <= 20 and len(report.findings) <= 100
    parts = b'Content-Type: multipart/mixed; boundary="p"\n\n' + b"--p\n\nx\n" * 50_000 + b"--p--\n"
    report = parse_report(parts, return_path=RETURN_PATH)
    assert report.category == "unrecognised" and "MIME parts" in report.why
