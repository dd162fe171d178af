"""Soak: thousands of recipients through a randomly misbehaving SMTP server; nobody lost.

`make test` runs a short version; `make soak` runs 10,000 recipients (SOAK_RECIPIENTS).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path

from digest.app.context import Context
from digest.app.send import send_to_lists
from digest.cli import main
from digest.deliver.sender import SendOptions
from tests.conftest import point_smtp_at
from tests.servers import RandomFaultHandler, ThreadedSMTP

RECIPIENTS = int(os.environ.get("SOAK_RECIPIENTS", "600"))


def test_soak_every_recipient_ends_sent_or_failed(workspace: Path, runner):
    emails = [f"soak{i:06d}@example.com" for i in range(RECIPIENTS)]
    (workspace / "subscribers" / "soak.csv").write_text("email,name\n" + "".join(f"{e},Soak {i}\n" for i, e in
                                                                                 enumerate(emails)))
    handler = RandomFaultHandler(seed=RECIPIENTS)
    with ThreadedSMTP(handler) as server:
        point_smtp_at(workspace, server.port)
        assert runner.invoke(main, ["build"]).exit_code == 0
        report = asyncio.run(send_to_lists(
            Context(workspace), workspace / "issues" / "1", [workspace / "subscribers" / "soak.csv"],
            options=SendOptions(concurrency=8, max_attempts=12, backoff_base=0.01, backoff_max=0.2,
                                unknown_delay=0.5),  # the one retry of an unknown outcome: soon
            on_problem=print))

    rejected = {e for e in emails if handler.rejects(e)}
    with Context(workspace) as ctx:
        rows = {row.email: (row.status, row.code, row.reply) for row in ctx.store.journal(1)}
    assert len(rows) == RECIPIENTS  # none lost from the journal
    assert {e for e, (status, _, _) in rows.items() if status == "failed"} == rejected
    for email in rejected:
        assert rows[email][1] == 550 and "no such user" in rows[email][2]
    # A message whose reply was lost after the payload twice stays "unknown": never sent a third time.
    unknown = {e for e, (status, _, _) in rows.items() if status == "unknown"}
    assert {status for status, _, _ in rows.values()} <= {"sent", "failed", "unknown"}
    assert report.counts == {"pending": 0, "sent": RECIPIENTS - len(rejected) - len(unknown), "deferred": 0,
                             "failed": len(rejected), "unknown": len(unknown)}

    delivered = Counter(r.rcpt_tos[0] for r in handler.received)
    assert set(delivered) == set(emails) - rejected  # everyone who could get it got it
    duplicates = sum(n - 1 for n in delivered.values())
    # Only a drop after the payload can duplicate, and only the one message in flight on that connection.
    assert duplicates <= handler.drops_after_data
    assert all(n <= 2 for n in delivered.values())  # an unknown outcome is retried at most once
    print(f"\nsoak: {RECIPIENTS} recipients, {len(rejected)} rejected, {handler.deferred} deferrals, "
          f"{handler.drops_before_data} drops before DATA, {handler.drops_after_data} after, "
          f"{duplicates} duplicates, {report.rate:.0f} msg/s")
    # the faults really happened
    assert handler.deferred > 0 and handler.drops_before_data > 0 and handler.drops_after_data > 0
