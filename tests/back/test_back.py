"""What comes back: DSNs of several MTAs, a qmail bounce, an ARF complaint, auto-replies, a mailto unsubscribe."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.app.context import Context
from digest.back.parse import parse_report
from digest.back.policy import classify_reply, classify_status, rcpt_refusal_kind
from digest.cli import main
from digest.core.verp import find_token, message_token, verp_address
from tests.back_helpers import drop, fill, send_issue

READERS = [f"r{i}@example.com" for i in range(12)]
RETURN_PATH = "bounces@news.example.com"

# fixture, reader, what it is, the event it records, the suppression it causes (None: stays active)
CASES = [
    ("exim_dsn.eml", 0, "dsn", "hard", "bounced"),
    ("office365_dsn.eml", 1, "dsn", "hard", "bounced"),
    ("gmail_mailbox_full.eml", 2, "dsn", None, None),  # a delay: filed, never counted
    ("rfc3464_policy_refusal.eml", 3, "dsn", "refused", None),
    ("qmail_bounce.eml", 4, "bounce", "hard", "bounced"),
    ("arf_complaint.eml", 5, "complaint", "complaint", "complained"),
    ("mailto_unsubscribe.eml", 6, "unsubscribe", "unsubscribe", "unsubscribed"),
    ("vacation.eml", 7, "auto-reply", None, None),
    ("outlook_automatic_reply.eml", 8, "auto-reply", None, None),
]
LEFT_ALONE = [("human_reply.eml", 9), ("forged_dsn.eml", 10)]


@pytest.mark.parametrize(("code", "reply", "kind"), [
    (550, "5.1.1 <x@y>: Recipient address rejected: User unknown", "hard"),
    (550, "5.1.1 <x@y>: Recipient address rejected: User unknown in relay recipient table", "hard"),
    (550, "No such user here", "hard"),
    (550, "5.0.0 <x@y>: User unknown", "hard"),
    (550, "Requested action not taken: mailbox unavailable", "soft"),  # says nothing more: counted, not proof
    (552, "5.2.2 Mailbox full", "soft"),
    (554, "5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org", "refused"),
    (550, "5.7.1 Message rejected as spam", "refused"),
    (550, "relay not permitted", "refused"),  # Exim's default relay denial
    (554, "5.7.1 <x@y>: Relay access denied", "refused"),  # Postfix's
    (553, "sorry, that domain isn't in my list of allowed rcpthosts", "refused"),  # qmail's
    (550, "5.1.8 <bounces+m1.2.x@news.example.com>: Sender address rejected: Domain not found", "refused"),
    (550, "5.4.5 Daily user sending quota exceeded.", "refused"),
    (451, "4.7.1 Greylisted", ""),
    (554, "delivery error: dd This user doesn't have a yahoo.com account (x@yahoo.com) [0] - mta1042.mail.yahoo.com",
     "hard"),
    (554, "delivery error: dd Requested mailbox is not valid - mta4012.mail.bf1.yahoo.com", "hard"),
    (550, "5.5.0 Requested action not taken: mailbox unavailable", "soft"),  # Outlook: counted, not proof
    (550, "5.5.0 Requested action not taken: message rejected as spam", "refused"),
    (552, "5.3.4 Message size exceeds fixed maximum message size", "refused"),  # the message, never the reader
    (552, "5.2.3 Message exceeds maximum size", "refused"),
])
def test_which_refusals_mean_a_dead_address(code: int, reply: str, kind: str):
    assert rcpt_refusal_kind(code, reply) == kind


@pytest.mark.parametrize(("status", "diagnostic", "kind"), [
    ("5.0.0", "smtp; 554 delivery error: dd This user doesn't have a yahoo.com account (x@yahoo.com) [0]", "hard"),
    ("5.0.0", "smtp; 554 delivery error: dd Requested mailbox is not valid - mta4012.mail.bf1.yahoo.com", "hard"),
    ("5.5.0", "smtp; 550 5.5.0 Requested action not taken: mailbox unavailable", "soft"),
    ("5.3.4", "smtp; 552 5.3.4 Message size exceeds fixed maximum message size", "refused"),
])
def test_what_a_failed_dsn_means_by_its_status_and_words(status: str, diagnostic: str, kind: str):
    assert classify_reply(status, diagnostic)[0] == kind


def test_status_classes():
    assert [classify_status(s) for s in ("5.1.1", "5.1.10", "5.2.1", "5.4.4")] == ["hard"] * 4
    assert [classify_status(s) for s in ("4.2.2", "5.2.2", "4.4.7", "5.4.6", "5.0.0")] == ["soft"] * 5
    assert [classify_status(s) for s in ("5.7.1", "5.6.0", "5.5.2", "5.1.8", "5.2.3", "5.3.4")] == ["refused"] * 6


def test_verp_tokens_are_short_case_insensitive_and_bound_to_the_address():
    token = message_token(b"k", issue=123456, row=987654321, email_key="someone@example.com")
    address = verp_address(RETURN_PATH, token)
    assert len(address.partition("@")[0]) <= 64
    found = find_token(address.upper(), RETURN_PATH)  # a server that folds case changes nothing
    assert found is not None and (found.issue, found.row) == (123456, 987654321)
    assert found.verify(b"k", "someone@example.com")
    assert not found.verify(b"k", "other@example.com")
    assert not found.verify(b"other key", "someone@example.com")
    assert find_token(address.replace("bounces", "other"), RETURN_PATH) is None


def test_every_message_gets_its_own_return_path_and_from_stays(workspace: Path, runner):
    sent = send_issue(workspace, runner, READERS[:3])
    senders = {s.verp for s in sent.values()}
    assert len(senders) == 3 and all(v.startswith("bounces+m1.") and v.endswith("@news.example.com")
                                     for v in senders)


@pytest.mark.parametrize(("name", "reader", "category", "kind", "reason"), CASES)
def test_fixture_lands_in_the_right_state(workspace: Path, runner, name, reader, category, kind, reason):
    sent = send_issue(workspace, runner, READERS)
    address = READERS[reader]
    assert parse_report(fill(name, sent[address]), return_path=RETURN_PATH).category == category
    drop(workspace / "bounces", name, fill(name, sent[address]))
    result = runner.invoke(main, ["inbox", "process", "--maildir", "bounces", "-v"])
    assert result.exit_code == 0, result.output + result.stderr
    assert category in result.output
    with Context(workspace) as ctx:
        events = ctx.store.bounce_events(address)
        suppressions = {s.email: s.reason for s in ctx.store.suppressions()}
    assert [e.kind for e in events] == ([kind] if kind else [])
    assert suppressions == ({address: reason} if reason else {})
    # recognised mail is filed away, not deleted
    assert not list((workspace / "bounces" / "new").iterdir())
    assert len(list((workspace / "bounces" / ".Processed" / "cur").iterdir())) == 1


def test_unrecognised_mail_is_left_untouched_and_processing_twice_counts_once(workspace: Path, runner):
    sent = send_issue(workspace, runner, READERS)
    box = workspace / "bounces"
    kept = {name: drop(box, name, fill(name, sent[READERS[i]])) for name, i in LEFT_ALONE}
    before = {name: path.read_bytes() for name, path in kept.items()}
    for name, reader, *_ in CASES:
        drop(box, name, fill(name, sent[READERS[reader]]))
    first = runner.invoke(main, ["inbox", "process", "--maildir", "bounces"])
    assert "2 left in the mailbox" in first.output, first.output
    assert "5 address(es) suppressed" in first.output
    for name, path in kept.items():
        assert path.read_bytes() == before[name]  # same place, same bytes, no flag
    # the same reports again (a second copy delivered): nothing is counted twice
    for name, reader, *_ in CASES:
        drop(box, "again-" + name, fill(name, sent[READERS[reader]]))
    second = runner.invoke(main, ["inbox", "process", "--maildir", "bounces"])
    assert "0 address(es) suppressed" in second.output
    with Context(workspace) as ctx:
        assert [e.kind for e in ctx.store.bounce_events(READERS[2])] == []  # a delay is no bounce
        assert not ctx.store.is_suppressed(READERS[9]) and not ctx.store.is_suppressed(READERS[10])
    listing = runner.invoke(main, ["subscribers", "bounces"])
    assert f"{READERS[0]}: suppressed (bounced); 1 hard" in listing.output
    assert "User unknown in virtual mailbox table" in listing.output
    assert READERS[2] not in listing.output
    # resubscribe undoes a mistake
    assert "resubscribed" in runner.invoke(main, ["subscribers", "resubscribe", READERS[0]]).output
    with Context(workspace) as ctx:
        assert not ctx.store.is_suppressed(READERS[0])


def test_a_bounce_with_a_tampered_token_and_no_message_of_ours_is_left_alone(workspace: Path, runner):
    sent = send_issue(workspace, runner, READERS[:2])
    genuine = fill("exim_dsn.eml", sent[READERS[0]]).decode()
    verp = sent[READERS[0]].verp
    at = verp.index("@")
    forged_verp = verp[:at - 1] + ("a" if verp[at - 1] != "a" else "b") + verp[at:]
    forged = genuine.replace(verp, forged_verp).replace(sent[READERS[0]].message_id, "<other@elsewhere.example>")
    drop(workspace / "bounces", "x", forged.encode())
    result = runner.invoke(main, ["inbox", "process", "--maildir", "bounces", "-v"])
    assert "1 left in the mailbox" in result.output and "names no message of ours" in result.output
    with Context(workspace) as ctx:
        assert list(ctx.store.suppressions()) == []


def test_not_a_maildir_is_one_line(workspace: Path, runner):
    result = runner.invoke(main, ["inbox", "process", "--maildir", "nowhere"])
    assert result.exit_code == 2 and "not a Maildir" in result.stderr and "Traceback" not in result.stderr


def test_two_inbox_runs_at_once_file_each_message_once_and_count_it_once(workspace: Path, runner):
    import subprocess
    import sys

    readers = [f"two{i:03d}@example.com" for i in range(120)]
    sent = send_issue(workspace, runner, readers)
    box = workspace / "bounces"
    for i, address in enumerate(readers):
        drop(box, f"m{i:03d}", fill("exim_dsn.eml" if i % 2 else "exim_full_dsn.eml", sent[address]))
    command = [sys.executable, "-m", "digest", "inbox", "process", "--maildir", "bounces"]
    runs = [subprocess.Popen(command, cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err.decode()
    filed = sorted(p.name.split(":")[0] for p in (box / ".Processed" / "cur").iterdir())
    assert filed == [f"m{i:03d}" for i in range(120)]  # each once, none lost
    assert not list((box / "new").iterdir())
    with Context(workspace) as ctx:
        events = [e for address in readers for e in ctx.store.bounce_events(address)]
        assert len(events) == 120  # applied once each, whichever run got there first
        assert {s.email for s in ctx.store.suppressions()} == set(readers[1::2])


def test_the_receiver_takes_only_the_bounce_mailbox(workspace: Path, runner):
    import asyncio

    import aiosmtplib

    from digest.back.process import Policy
    from digest.back.receiver import BounceReceiver, serve_receiver

    sent = send_issue(workspace, runner, READERS[:1])

    async def scenario() -> tuple[int, int, int]:
        with Context(workspace) as ctx:
            receiver = BounceReceiver(workspace / "bounces", store=ctx.store,
                                      policy=Policy.from_settings(ctx.settings, ctx.secret))
            async with serve_receiver(receiver) as port:
                smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
                await smtp.connect()
                try:
                    await smtp.sendmail("", ["someone@elsewhere.example"], b"Subject: relay?\r\n\r\nx\r\n")
                    relay = 250
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    relay = exc.recipients[0].code
                errors, _ = await smtp.sendmail("", [sent[READERS[0]].verp], fill("exim_dsn.eml", sent[READERS[0]]))
                human, _ = await smtp.sendmail("a@example.com", ["bounces@news.example.com"],
                                               fill("human_reply.eml", sent[READERS[0]]))
                await smtp.quit()
                await receiver.drain()  # applied after the 250
                return relay, len(errors), len(human)

    relay, errors, human = asyncio.run(scenario())
    assert relay == 550 and errors == 0 and human == 0
    with Context(workspace) as ctx:
        assert ctx.store.is_suppressed(READERS[0])
    assert len(list((workspace / "bounces" / ".Processed" / "cur").iterdir())) == 1
    [kept] = list((workspace / "bounces" / "new").iterdir())  # the human reply waits for a human
    assert b"great issue" in kept.read_bytes() and b"Delivered-To: bounces@news.example.com" in kept.read_bytes()


_MAILISH = st.lists(st.sampled_from([
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n", "\r\n", "--b\r\n", "--b--",
    "Content-Type: message/delivery-status\r\n", "Content-Type: message/rfc822\r\n", "Action: failed\r\n",
    "Final-Recipient: rfc822; a@example.com\r\n", "Status: 5.1.1\r\n", "Status: 9.9\r\n", "Auto-Submitted: x\r\n",
    "Content-Type: multipart/mixed; boundary=b\r\n", "Content-Transfer-Encoding: base64\r\n", "=?utf-8?q?x?=",
    "To: bounces+m1.1.aaaaaaaaaaaaaaaa@news.example.com\r\n", "Subject: unsubscribe a.b\r\n", "\x00", "\xff", " ",
    "Message-ID: <digest.1.0123456789abcdef01234567@x>\r\n", "Feedback-Type: abuse\r\n", ":", "\t",
]) | st.text(max_size=20), max_size=60).map("".join)


@settings(max_examples=150, deadline=None)
@given(_MAILISH, st.binary(max_size=200))
def test_any_incoming_mail_is_classified_never_a_crash(text: str, noise: bytes):
    for raw in (text.encode("utf-8", "surrogateescape"), noise, text.encode() + noise):
        report = parse_report(raw, return_path=RETURN_PATH)
        assert report.category in ("dsn", "bounce", "complaint", "unsubscribe", "auto-reply", "unrecognised")


def test_a_bounced_confirmation_mail_suppresses_the_address_it_went_to(workspace: Path, runner):
    import time

    from digest.back.signup import ConfirmationMail
    from digest.store.signups import SignupLimits, SignupRequest
    from tests.back_helpers import SentMessage

    with Context(workspace) as ctx:
        _, sid = ctx.store.request_signup(SignupRequest("example", "typo@example.com"), now=time.time(),
                                          limits=SignupLimits())
        message = ConfirmationMail(ctx).compose(ctx.store.signup(sid), "https://x/confirm/t")  # type: ignore[arg-type]
    drop(workspace / "bounces", "c", fill("office365_dsn.eml", SentMessage("typo@example.com", message.sender,
                                                                           message.message_id, "")))
    result = runner.invoke(main, ["inbox", "process", "--maildir", "bounces"])
    assert "1 address(es) suppressed" in result.output, result.output
    with Context(workspace) as ctx:
        [event] = ctx.store.bounce_events("typo@example.com")
        assert (event.kind, event.issue, event.status) == ("hard", None, "5.1.10")
