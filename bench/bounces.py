"""Bounce processing: 10,000 bounce messages from a Maildir into a SQLite store (goal: at most 10 s).

The mix is what a bounce mailbox holds after a large send: Postfix DSNs
(hard), delayed DSNs (soft), qmail bounces (read by flufl.bounce), ARF
complaints and vacation replies. Each is tied back to its journal row by its
VERP token, checked, recorded and filed into `.Processed`. The baseline is
reading and parsing the same files with the standard library (`email`),
nothing else, in the same run. Set BENCH_BOUNCES to change the count.

`python bench/bounces.py CORPUS_DIR` reads a corpus of real bounces instead
(sisimai's set, `bsd/*.eml`, `not/*.eml` and `expected.json`): each message is
delivered as an MTA would, to the VERP address of the reader it bounced for,
and the verdicts are compared with the reference classifier's.
"""

from __future__ import annotations

import email
import os
import sys
import tempfile
import time
from pathlib import Path

from _sample import Row, run_script

from digest.back.inbox import process_maildir
from digest.back.process import Policy
from digest.core.model import Subscriber
from digest.core.verp import message_token, verp_address
from digest.store import Audience, Result, open_store

COUNT = int(os.environ.get("BENCH_BOUNCES", "10000"))
SECRET = b"bench secret"
RETURN_PATH = "bounces@news.example.com"

POSTFIX = """Return-Path: <>
Delivered-To: {verp}
From: MAILER-DAEMON@mta.example.net (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {verp}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B{n}"
Message-Id: <{n}.bounce@mta.example.net>

--B{n}
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mta.example.net. I'm sorry to have to inform you that your
message could not be delivered to one or more recipients.

<{rcpt}>: host mx.example.net said: 550 5.1.1 user unknown (in reply to RCPT TO command)

--B{n}
Content-Type: message/delivery-status

Reporting-MTA: dns; mta.example.net
X-Postfix-Queue-ID: 4Q{n}
Arrival-Date: Mon,  2 Mar 2026 10:00:00 +0000

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: {action}
Status: {status}
Diagnostic-Code: X-Postfix; {diagnostic}

--B{n}
Content-Type: message/rfc822

Return-Path: <{verp}>
Message-ID: <digest.1.{n:024x}@news.example.com>
From: Weekly <weekly@news.example.com>
To: {rcpt}
Subject: Science & Cooperation Weekly
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

{body}
--B{n}--
"""

QMAIL = """Return-Path: <>
Delivered-To: {verp}
From: MAILER-DAEMON@qmail.example.net
To: {verp}
Subject: failure notice

Hi. This is the qmail-send program at qmail.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{rcpt}>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

Return-Path: <{verp}>
To: {rcpt}

{body}
"""

ARF = """From: <fbl@isp.example.net>
To: <{verp}>
Subject: FW: Science & Cooperation Weekly
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="A{n}"

--A{n}
Content-Type: text/plain

This is an email abuse report.

--A{n}
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: FBL/1.0
Version: 1

--A{n}
Content-Type: message/rfc822

Return-Path: <{verp}>
To: {rcpt}
Subject: Science & Cooperation Weekly

{body}
--A{n}--
"""

VACATION = """Return-Path: <{rcpt}>
Delivered-To: {verp}
From: <{rcpt}>
To: {verp}
Subject: Out of office
Auto-Submitted: auto-replied (vacation)

I am away until Monday.
"""

BODY = "The lead story of the week, an excerpt, and the Top News.\n" * 40


def _message(n: int, rcpt: str, verp: str) -> str:
    kind = n % 20
    if kind < 12:
        return POSTFIX.format(n=n, rcpt=rcpt, verp=verp, action="failed", status="5.1.1",
                              diagnostic="550 5.1.1 user unknown", body=BODY)
    if kind < 15:
        return POSTFIX.format(n=n, rcpt=rcpt, verp=verp, action="delayed", status="4.4.1",
                              diagnostic="connect to mx.example.net: Connection timed out", body=BODY)
    if kind < 17:
        return QMAIL.format(rcpt=rcpt, verp=verp, body=BODY)
    if kind < 19:
        return ARF.format(n=n, rcpt=rcpt, verp=verp, body=BODY)
    return VACATION.format(rcpt=rcpt, verp=verp)


def _prepare(folder: Path) -> tuple[object, Path]:
    store = open_store(folder / "state.sqlite3")
    audience = Audience(("bench.csv",))
    campaign = store.open_campaign(1, audience.key, audience.describe())
    people = [(Subscriber(f"reader{i:06d}@example.net"), "bench") for i in range(COUNT)]
    for start in range(0, COUNT, 1000):
        store.enqueue(campaign, people[start:start + 1000], lambda key: f"<{key}>")
    now = time.time()
    maildir = folder / "bounces"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    n = 0
    while True:
        rows = store.claim(campaign.id, owner="bench", run=1, limit=1000, lease_until=now + 600, now=now,
                           max_attempts=5).rows
        if not rows:
            break
        store.record([Result(r.id, "sent", 250, "OK") for r in rows], run=1, now=now)
        for row in rows:
            key = row.subscriber.key
            verp = verp_address(RETURN_PATH, message_token(SECRET, issue=1, row=row.id, email_key=key))
            text = _message(n, row.subscriber.email, verp).replace("\n", "\r\n")
            (maildir / "new" / f"{n:06d}.bench").write_bytes(text.encode())
            n += 1
    return store, maildir


def measure() -> list[Row]:
    """Messages per second: digest's processing against parsing alone."""
    with tempfile.TemporaryDirectory() as tmp:
        store, maildir = _prepare(Path(tmp))
        files = sorted((maildir / "new").iterdir())
        start = time.perf_counter()
        for path in files:
            email.message_from_bytes(path.read_bytes())
        parse_seconds = time.perf_counter() - start
        start = time.perf_counter()
        report = process_maildir(maildir, store=store, policy=Policy(SECRET, RETURN_PATH))  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
        store.close()  # type: ignore[attr-defined]
    assert report.seen == COUNT and report.left == 0, report
    print(f"  bounces: {COUNT:,} messages in {seconds:.1f} s (goal ≤ 10 s): {dict(report.categories)}, "
          f"{report.suppressed:,} suppressed; parsing alone {parse_seconds:.1f} s")
    return [Row(f"bounce processing, {COUNT:,} from a Maildir (vs parsing alone)", COUNT / seconds,
                COUNT / parse_seconds, "msg/s")]


if __name__ == "__main__":
    if len(sys.argv) > 1:
        from bounce_corpus import corpus_report

        sys.exit(corpus_report(Path(sys.argv[1]), secret=SECRET, return_path=RETURN_PATH,
                               verbose="-v" in sys.argv[2:]))
    run_script(measure)
