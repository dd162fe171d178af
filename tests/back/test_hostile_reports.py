"""Hostile incoming mail costs linear time: one message must never stall `inbox process` for minutes."""

from __future__ import annotations

import time

import pytest

from digest.back.parse import parse_report

# Far above what these take on a loaded machine (well under a second each), far below what a quadratic
# scan takes (a 200 KB header without an "@" took 288 s; these are ten times that).
BOUND = 60.0


@pytest.mark.parametrize("raw", [
    b"From: MAILER-DAEMON@x.example\r\nTo: " + b"a" * 2_000_000 + b"\r\nSubject: x\r\n\r\nhello",
    b"From: MAILER-DAEMON@x.example\r\nSubject: Undelivered Mail\r\n\r\n" + b"a" * 2_000_000,
    b"From: MAILER-DAEMON@x.example\r\nSubject: Undelivered Mail\r\n\r\nx@" + b"a" * 2_000_000 + b"-",
    b"From: MAILER-DAEMON@x.example\r\nSubject: Undelivered Mail\r\n\r\n" + b"@" * 2_000_000,
    b"From: no-reply@sns.amazonaws.com\r\n\r\n{\"notificationType\":\"Bounce\",\"bounce\":{\"bouncedRecipients\":["
    + b"{\"emailAddress\":\"a@b.c\"}," * 100_000 + b"{}]}}",
], ids=["header-without-at", "notice-without-at", "endless-domain", "only-ats", "ses-100k-recipients"])
def test_a_hostile_message_is_read_in_linear_time_and_bounded(raw: bytes):
    start = time.perf_counter()
    report = parse_report(raw, return_path="bounces@news.example.com")
    assert time.perf_counter() - start < BOUND
    assert len(report.findings) <= 100 and len(report.tokens) <= 20
